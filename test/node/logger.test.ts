import t from 'tap';
import { createLogger } from '../../src/node/logger.js';
import { spawnFixture } from './fixtures/childProcess.js';

t.test('writes JSON lines with the role to stderr, honouring the level', async (t) => {
  const run = spawnFixture('loggerChild.ts', []);
  const stdout: string[] = [];
  const exit = await run.lines((line) => stdout.push(line));
  t.equal(exit.code, 0, run.stderr());
  t.same(stdout, ['done'], 'nothing logged to stdout');
  const lines = run
    .stderr()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.equal(lines.length, 2, 'debug suppressed at info');
  t.match(lines[0], { role: 'proxy', level: 30, msg: 'hello', n: 1 });
  t.match(lines[1], { role: 'proxy', level: 40, msg: 'careful' });
});

t.test('level is applied', async (t) => {
  const log = createLogger('central', 'error');
  t.equal(log.level, 'error');
  t.notOk(log.isLevelEnabled('warn'));
  t.ok(log.isLevelEnabled('fatal'));
});

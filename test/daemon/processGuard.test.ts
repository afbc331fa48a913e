import t from 'tap';
import { spawnFixture } from '../node/fixtures/childProcess.js';

// In its own process: tap's own handlers would otherwise see the injected errors first.
t.test('the process guard logs and counts what escaped, and the daemon process lives on', async (t) => {
  const child = spawnFixture('../../daemon/fixtures/processGuardChild.ts', []);
  const lines: string[] = [];
  const exit = await child.lines((l) => lines.push(l));
  t.equal(exit.code, 0, 'the process ran on to its end and exited normally');
  t.same(JSON.parse(lines[0] as string), { uncaught_exception: 1, unhandled_rejection: 1 }, 'both counted');
  const logged = child
    .stderr()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.same(
    logged.map((l) => [l.level, l.where, l.err?.message]),
    [
      [50, 'uncaught_exception', 'escaped every other guard'],
      [50, 'unhandled_rejection', 'nobody caught this'],
    ],
    'each logged at error level with where and the error',
  );
});

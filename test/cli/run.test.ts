import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { mixd } from '../../src/sim/processes.js';

t.test('a config with a wrong field fails at start naming that field', async (t) => {
  const dir = t.testdir();
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'mixd.json'), JSON.stringify({ role: 'central', listen: '7000', dataDir: '.' }));
  const r = mixd(['--dir', dir]);
  t.equal(r.status, 2, 'exit code 2');
  t.match(r.stderr, /config field "listen"/);
  t.match(r.stderr, /HOST:PORT/);
  writeFileSync(
    join(dir, 'mixd.json'),
    JSON.stringify({ role: 'central', listen: '127.0.0.1:0', dataDir: '.', network: { packetSize: 'big' } }),
  );
  const r2 = mixd(['--dir', dir]);
  t.equal(r2.status, 2);
  t.match(r2.stderr, /config field "network.packetSize"/);
});

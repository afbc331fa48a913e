import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { mixd } from '../../src/sim/processes.js';

t.test('mixd init writes a config and 0600 keys, and prints what others need', async (t) => {
  const root = t.testdir();
  const cs = mixd(['init', '--role', 'central', '--dir', join(root, 'cs'), '--listen', '127.0.0.1:17000']);
  t.equal(cs.status, 0, cs.stderr);
  const key = /publicKey: ([0-9a-f]{64})/.exec(cs.stdout)?.[1];
  t.ok(key, 'prints the key to pin');
  t.equal(statSync(join(root, 'cs', 'keys', 'identity.key')).mode & 0o777, 0o600, 'identity key is 0600');
  t.equal(statSync(join(root, 'cs', 'keys')).mode & 0o777, 0o700, 'keys directory is 0700');
  t.equal(JSON.parse(readFileSync(join(root, 'cs', 'mixd.json'), 'utf8')).listen, '127.0.0.1:17000');

  const src = mixd([
    'init',
    '--role',
    'source',
    '--dir',
    join(root, 'alice'),
    '--central',
    '127.0.0.1:17000',
    '--central-key',
    key as string,
  ]);
  t.equal(src.status, 0, src.stderr);
  t.match(src.stdout, /address: [a-z2-7]{52}@[a-z2-7]{16}\n/, 'a source prints its self-certifying address');

  const again = mixd([
    'init',
    '--role',
    'source',
    '--dir',
    join(root, 'alice'),
    '--central',
    '127.0.0.1:17000',
    '--central-key',
    key as string,
  ]);
  t.equal(again.status, 2, 'refuses to overwrite');
  t.match(again.stderr, /exists: pass --force/);
});

t.test('bad arguments name the argument and the fix', async (t) => {
  const root = t.testdir();
  const noCentral = mixd(['init', '--role', 'proxy', '--dir', join(root, 'p')]);
  t.equal(noCentral.status, 2);
  t.match(noCentral.stderr, /--central HOST:PORT and --central-key KEY are required/);
  const badKey = mixd([
    'init',
    '--role',
    'proxy',
    '--dir',
    join(root, 'p'),
    '--central',
    '127.0.0.1:1',
    '--central-key',
    'xyz',
  ]);
  t.equal(badKey.status, 2);
  t.match(badKey.stderr, /--central-key must be the 64 hex characters/);
  const badSim = mixd(['simulate', '--cover', 'maybe']);
  t.equal(badSim.status, 2);
  t.match(badSim.stderr, /--cover must be "on" or "off"/);
  const noDaemon = mixd(['status', '--dir', join(root, 'nowhere')]);
  t.equal(noDaemon.status, 2);
  t.match(noDaemon.stderr, /no config at .*mixd\.json/);
});

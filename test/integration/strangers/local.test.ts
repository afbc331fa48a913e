/**
 * F14 (issue 10), the local attack surface of a real source daemon:
 * - the control socket was chmod-ed after listen(), leaving a window in which any local user could
 *   connect; now it is created under an owner-only umask (checked here with chmod disabled);
 * - groups.json's temporary file was opened with 'w', following a symlink planted in its place;
 * - the UDP bridge would send group plaintext to a non-loopback `app`.
 */
import fs, { lstatSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import t from 'tap';
import { GROUPS_FILE } from '../../../src/group/groupStore.js';
import { ControlClient, serveControl } from '../../../src/node/controlSocket.js';
import { MixdError } from '../../../src/node/errors.js';
import { waitFor } from '../../../src/sim/processes.js';
import { createTestnet, FAST_TEST_NETWORK } from '../../../src/sim/testnet.js';

t.test('the control socket is owner-only from its creation, not after a chmod', async (t) => {
  const dir = fs.mkdtempSync('/tmp/mixd-sock-');
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const chmod = fs.chmodSync;
  const umask = process.umask(0);
  fs.chmodSync = () => {};
  syncBuiltinESMExports();
  let server: Awaited<ReturnType<typeof serveControl>>;
  try {
    server = await serveControl(join(dir, 'control.sock'), () => 'pong');
  } finally {
    fs.chmodSync = chmod;
    syncBuiltinESMExports();
    process.umask(umask);
  }
  t.teardown(() => server.close());
  t.equal(fs.statSync(join(dir, 'control.sock')).mode & 0o777, 0o600, 'srw------- with a umask of 0 and no chmod');
});

t.test(
  'a source daemon: groups.json is never written through a planted symlink; bridges stay on loopback',
  async (t) => {
    const net = await createTestnet(null, {
      world: 'real',
      controlSockets: true,
      proxies: 1,
      sources: 1,
      network: FAST_TEST_NETWORK,
      insecureNoCover: true,
    });
    t.teardown(() => net.stop());
    const source = net.sources[0] as (typeof net.sources)[0];
    const control = await ControlClient.connect(source.controlPath as string);
    t.teardown(() => control.close());

    const victim = join(net.root, 'victim.txt');
    writeFileSync(victim, 'precious\n');
    const dataDir = source.ctx.dataDir;
    symlinkSync(victim, join(dataDir, `${GROUPS_FILE}.tmp-${process.pid}`));
    await control.call('groupCreate', { name: 'friends' });
    const saved = join(dataDir, GROUPS_FILE);
    // The group state is saved in the background: wait until it is there (or went through the link).
    await waitFor(
      'groups.json to be saved',
      () => fs.existsSync(saved) || readFileSync(victim, 'utf8') !== 'precious\n',
    );
    t.equal(readFileSync(victim, 'utf8'), 'precious\n', 'the symlink target is untouched');
    t.ok(lstatSync(saved).isFile(), 'groups.json is a regular file, not the planted link');
    t.match(readFileSync(saved, 'utf8'), /friends/);
    t.equal(lstatSync(saved).mode & 0o777, 0o600);

    for (const [listen, app] of [
      ['127.0.0.1:0', '192.0.2.1:9'],
      ['0.0.0.0:0', '127.0.0.1:9'],
    ] as const) {
      const err = await control.call('groupBind', { group: 'friends', listen, app }).catch((e: unknown) => e);
      t.ok(err instanceof MixdError, `listen ${listen}, app ${app}: refused`);
      t.equal((err as MixdError).code, 'BRIDGE_NOT_LOOPBACK', 'with a code the caller can branch on');
    }
    const ok = await control.call<{ listen: string }>('groupBind', {
      group: 'friends',
      listen: '127.0.0.1:0',
      app: '127.0.0.1:9',
    });
    t.match(ok.listen, /^127\.0\.0\.1:\d+$/, 'a loopback bridge opens');
  },
);

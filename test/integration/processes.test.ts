/**
 * The one test on real OS processes (CS + 1 proxy + 2 sources, `mixd` as users run it): the CLI,
 * the library API and the UDP bridge end to end, Prometheus metrics, and what LMDB must keep across
 * a kill -9 (mail at CS) and a restart (replay tags at a proxy). Everything else about the protocol
 * runs on the virtual network (test/integration/network.test.ts, groups.test.ts).
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parseAddress } from '../../src/group/address.js';
import { DIRECT_KIND, sealDirect } from '../../src/group/direct.js';
import { fromHex, mailboxIdOf, nodeIdOf } from '../../src/node/ids.js';
import { readSecretFile } from '../../src/node/keyFiles.js';
import { getCrypto } from '../../src/scramble/crypto/index.js';
import { DEFAULT_GEOMETRY } from '../../src/scramble/geometry.js';
import { createPacket } from '../../src/scramble/packet.js';
import { systemRng } from '../../src/scramble/rng.js';
import { seal } from '../../src/scramble/sealedBox.js';
import { startCluster } from '../../src/sim/processCluster.js';
import { collect, freePort, mixd, ROOT, startNode, text, waitFor } from '../../src/sim/processes.js';
import { encodeFragment } from '../../src/source/envelope.js';
import { frameSealed } from '../../src/source/frames.js';

// Every node and every CLI call here is a fresh Node process (tsx): about 1 s of CPU each. On a
// machine shared with other test runs this file alone has taken 277 s; allow for that.
t.setTimeout(600_000);

type Status = { metrics: { drops: Record<string, number>; replayHits: number; mailboxEntries: number } };
type Node = Awaited<ReturnType<typeof startCluster>>['sources'][0];

t.test('real processes: CS + 1 proxy + 2 sources', async (t) => {
  const metricsPort = await freePort();
  // One proxy is enough here (routes then reuse it for every hop): routing is tested on the virtual network.
  const cluster = await startCluster(1, 2, ['--metrics', `127.0.0.1:${metricsPort}`]);
  t.teardown(() => cluster.stop());
  const dirs = cluster.sourceDirs;
  const addr = cluster.addresses;
  const src = (i: number) => cluster.sources[i] as Node;
  const cli = (i: number, args: string[]) => mixd([...args, '--dir', dirs[i] as string]);
  const passFile = join(cluster.root, 'pass.txt');
  const wrongFile = join(cluster.root, 'wrong.txt');
  writeFileSync(passFile, 'correct horse battery staple\n');
  writeFileSync(wrongFile, 'incorrect pony\n');

  await t.test('the CLI forms a group: create, invite, a wrong passphrase, join', async (t) => {
    const created = cli(0, ['group', 'create', 'friends']);
    t.equal(created.status, 0, created.stderr);
    const invited = cli(0, ['group', 'invite', 'friends', addr[1] as string, '--passphrase-file', passFile]);
    t.equal(invited.status, 0, invited.stderr);
    await waitFor(
      'the invite to arrive',
      async () => (await src(1).call<unknown[]>('groupInvites')).length > 0,
      60_000,
    );
    const wrong = cli(1, ['group', 'join', '--passphrase-file', wrongFile]);
    t.equal(wrong.status, 2);
    t.match(wrong.stderr, /wrong passphrase for this invite; the invite is kept, try again/);
    const joined = cli(1, ['group', 'join', '--passphrase-file', passFile]);
    t.equal(joined.status, 0, joined.stderr);
    t.match(joined.stdout, /"name": "friends"/);
    await waitFor(
      'both members to know each other',
      async () => {
        for (const i of [0, 1])
          if ((await src(i).call<Array<{ members: number }>>('groupList'))[0]?.members !== 2) return false;
        return true;
      },
      60_000,
    );
    t.pass('formed');
  });

  await t.test(
    'mixd send reaches the other member, whose mixd recv --json prints it; too large is refused',
    async (t) => {
      const recv = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          join(ROOT, 'src', 'cli', 'main.ts'),
          'recv',
          'friends',
          '--json',
          '--dir',
          dirs[1] as string,
        ],
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      let err = '';
      recv.stdout.on('data', (c) => {
        out += c;
      });
      await new Promise<void>((resolve) =>
        recv.stderr.on('data', (c) => {
          err += c;
          if (err.includes('receiving')) resolve();
        }),
      );
      const r = cli(0, ['send', 'friends', 'hello friends']);
      t.equal(r.status, 0, r.stderr);
      await waitFor('a line from mixd recv', () => out.includes('\n'), 60_000);
      const line = JSON.parse(out.split('\n')[0] as string);
      t.equal(line.group, 'friends');
      t.equal(line.from, addr[0], 'members learn the sender');
      t.equal(Buffer.from(line.data, 'base64').toString(), 'hello friends');
      const exited = new Promise<number | null>((resolve) => recv.once('exit', (code) => resolve(code)));
      recv.kill('SIGINT');
      t.equal(await exited, 0, 'mixd recv exits cleanly on Ctrl-C');
      const big = cli(0, ['send', 'friends', 'x'.repeat(5000)]);
      t.equal(big.status, 2);
      t.match(big.stderr, /datagram is 5000 bytes; at most \d+ fit/);
    },
  );

  await t.test('the library API sends to the group and iterates over received datagrams', async (t) => {
    const { connect } = await import('../../src/index.js');
    const alice = await connect({ dir: dirs[0] as string });
    const bob = await connect({ dir: dirs[1] as string });
    t.equal(await alice.address(), addr[0]);
    const received = (async () => {
      for await (const d of bob) if (new TextDecoder().decode(d.data) === 'from the library') return d;
      return null;
    })();
    // The subscription is made by the iterator's first next(); a status round trip orders it before the send.
    await bob.status();
    const sent = await alice.send('friends', new TextEncoder().encode('from the library'));
    t.equal(sent.recipients, 1);
    const d = await received;
    t.equal(d?.group, 'friends');
    t.equal(d?.from, addr[0]);
    alice.close();
    bob.close();
  });

  await t.test('the UDP bridge carries a datagram from one application to another', async (t) => {
    const appA = dgram.createSocket('udp4');
    const appB = dgram.createSocket('udp4');
    t.teardown(() => {
      appA.close();
      appB.close();
    });
    await Promise.all([appA, appB].map((s) => new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()))));
    const bind = (i: number, app: dgram.Socket) =>
      cli(i, ['group', 'bind', 'friends', '--listen', '127.0.0.1:0', '--app', `127.0.0.1:${app.address().port}`]);
    const bindA = bind(0, appA);
    t.equal(bindA.status, 0, bindA.stderr);
    const bindB = bind(1, appB);
    t.equal(bindB.status, 0, bindB.stderr);
    const got = new Promise<Buffer>((resolve) => appB.once('message', (m) => resolve(m)));
    const [host, port] = (JSON.parse(bindA.stdout).listen as string).split(':') as [string, string];
    appA.send(Buffer.from('plain udp app datagram'), Number(port), host);
    const msg = await Promise.race([
      got,
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error('bridge timeout')), 60_000)),
    ]);
    t.equal(msg.toString(), 'plain udp app datagram');
  });

  await t.test('CS serves Prometheus metrics: packets by kind, drops, mailbox entries', async (t) => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    t.equal(res.status, 200);
    const body = await res.text();
    t.match(body, /mixd_packets_in_total\{[^}]*kind="sphinx"[^}]*\} [1-9]/, 'counts the Sphinx packets it received');
    t.match(body, /mixd_mailbox_entries/);
    t.match(body, /# HELP mixd_internal_errors_total/);
  });

  await t.test('CS killed with SIGKILL while holding mail delivers all of it after restart', async (t) => {
    const status = async () => (await cluster.central.call<Status>('status')).metrics.mailboxEntries;
    await src(1).stop('SIGTERM');
    // B's last acks must land first, so that exactly the 5 new entries are pending when CS dies.
    await waitFor('no mail pending at CS', async () => (await status()) === 0, 60_000);
    for (let i = 0; i < 5; i++)
      await src(0).call('sendTo', { to: addr[1], data: Buffer.from(`kept ${i}`).toString('base64') });
    await waitFor('5 entries stored', async () => (await status()) >= 5, 60_000);
    await cluster.central.stop('SIGKILL');
    cluster.central = await startNode(cluster.centralDir);
    cluster.sources[1] = await startNode(dirs[1] as string);
    const inbox = await collect(src(1));
    try {
      await waitFor(
        'all 5 delivered',
        () => [0, 1, 2, 3, 4].every((i) => inbox.items.some((d) => text(d) === `kept ${i}`)),
        60_000,
      );
    } catch (err) {
      // Say what was missing and what both ends saw, so a failure here can be diagnosed from CI output.
      t.comment(
        JSON.stringify({
          got: inbox.items.map(text),
          b: await src(1).call('status'),
          cs: await cluster.central.call('status'),
        }),
      );
      throw err;
    }
    t.pass('all entries survived kill -9');
    inbox.close();
  });

  await t.test('a proxy restarted inside a key epoch rejects a replay (tags kept in LMDB)', async (t) => {
    const crypto = getCrypto('sodium');
    const epoch = Math.floor(Date.now() / 3_600_000);
    const proxyDir = cluster.proxyDirs[0] as string;
    const proxySecret = readSecretFile(join(proxyDir, 'keys', `mix-${epoch}.key`));
    const csSecret = readSecretFile(join(cluster.centralDir, 'keys', `mix-${epoch}.key`));
    const target = parseAddress(addr[1] as string);
    const rng = systemRng(crypto);
    const chunk = sealDirect(crypto, target.identityKey, DIRECT_KIND.datagram, Buffer.from('once only'), rng);
    const envelope = encodeFragment({ msgId: crypto.randomBytes(16), index: 0, count: 1, surb: null, chunk });
    const body = frameSealed(seal(crypto, crypto.ed25519PublicToX25519(target.identityKey), envelope, rng));
    const packet = createPacket(
      crypto,
      DEFAULT_GEOMETRY,
      [
        {
          publicKey: crypto.x25519Base(proxySecret),
          command: { kind: 'relay', next: nodeIdOf(crypto, fromHex(cluster.centralKey)), delayMs: 0 },
        },
        {
          publicKey: crypto.x25519Base(csSecret),
          command: { kind: 'deliver', mailbox: mailboxIdOf(crypto, target.identityKey) },
        },
      ],
      body,
      rng,
    );
    const inbox = await collect(src(1));
    const sock = dgram.createSocket('udp4');
    t.teardown(() => sock.close());
    const send = (port: number) => new Promise<void>((r) => sock.send(packet, port, '127.0.0.1', () => r()));
    await send((cluster.proxies[0] as Node).ready.listen.port);
    await waitFor('first copy delivered', () => inbox.items.some((d) => text(d) === 'once only'), 60_000);
    await (cluster.proxies[0] as Node).stop('SIGTERM');
    const p2 = await startNode(proxyDir);
    cluster.proxies[0] = p2;
    await waitFor('proxy ready', async () => (await p2.call<{ ready: boolean }>('status')).ready, 60_000);
    await send(p2.ready.listen.port);
    const st = await waitFor(
      'replay counted',
      async () => {
        const s = await p2.call<Status>('status');
        return s.metrics.replayHits >= 1 ? s : false;
      },
      60_000,
    );
    t.equal(st.metrics.replayHits, 1, 'the restarted proxy recognised the packet');
    inbox.close();
  });
});

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
import { FAST_TEST_NETWORK } from '../../src/sim/network.js';
import { startCluster } from '../../src/sim/processCluster.js';
import { collect, freePort, mixd, startNode, text, waitFor } from '../../src/sim/processes.js';
import { encodeFragment } from '../../src/source/envelope.js';
import { frameSealed } from '../../src/source/frames.js';

type Status = { metrics: { drops: Record<string, number>; replayHits: number; mailboxEntries: number } };

t.test('network of real processes: CS + 4 proxies + 2 sources', async (t) => {
  const metricsPort = await freePort();
  const cluster = await startCluster(
    4,
    2,
    ['--metrics', `127.0.0.1:${metricsPort}`],
    { ...FAST_TEST_NETWORK },
    {
      insecureNoCover: true,
    },
  );
  t.teardown(() => cluster.stop());
  const [a, b] = cluster.sources as [(typeof cluster.sources)[0], (typeof cluster.sources)[0]];
  const [_addrA, addrB] = cluster.addresses as [string, string];

  await t.test('a unicast message is delivered end to end', async (t) => {
    const inbox = await collect(b);
    await a.call('sendTo', { to: addrB, data: Buffer.from('hello through the mix').toString('base64') });
    await waitFor('delivery at B', () => inbox.items.length >= 1);
    t.equal(text(inbox.items[0] as { data: string }), 'hello through the mix');
    t.equal(inbox.items[0]?.from, null, 'the target does not learn the sender from the network layer');
    inbox.close();
  });

  await t.test('CS serves Prometheus metrics: packets by kind, drops, mailbox entries', async (t) => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    t.equal(res.status, 200);
    const body = await res.text();
    t.match(body, /mixd_packets_in_total\{[^}]*kind="sphinx"[^}]*\} [1-9]/, 'counts the Sphinx packets it received');
    t.match(body, /mixd_mailbox_entries/);
    t.match(body, /mixd_drops_total|# HELP mixd_drops_total/);
  });

  await t.test('random, truncated and oversized datagrams are counted and do not disturb delivery', async (t) => {
    const sock = dgram.createSocket('udp4');
    const targets = [cluster.central, ...cluster.proxies, a, b].map((n) => n.ready.listen.port);
    const rnd = (n: number) =>
      new Uint8Array(Buffer.from(Array.from({ length: n }, () => Math.floor(Math.random() * 256))));
    for (const port of targets) {
      for (let i = 0; i < 60; i++) {
        const kind = i % 4;
        let d: Uint8Array;
        if (kind === 0) d = rnd(1 + Math.floor(Math.random() * 3000));
        else if (kind === 1) {
          d = rnd(2048);
          d[0] = 1;
        } else if (kind === 2) {
          d = rnd(5 + Math.floor(Math.random() * 100));
          d[0] = 2;
          d[1] = 1;
        } else d = rnd(60000);
        sock.send(d, port, '127.0.0.1');
      }
    }
    await new Promise((r) => setTimeout(r, 500));
    sock.close();
    const inbox = await collect(b);
    await a.call('sendTo', { to: addrB, data: Buffer.from('still working').toString('base64') });
    await waitFor('delivery after garbage', () => inbox.items.some((d) => text(d) === 'still working'));
    inbox.close();
    for (const n of [cluster.central, ...cluster.proxies, a]) {
      const st = await n.call<Status>('status');
      const dropped = Object.values(st.metrics.drops).reduce((x, y) => x + y, 0);
      t.ok(dropped >= 50, `${n.ready.role} on ${n.ready.listen.port} counted ${dropped} drops`);
    }
  });

  await t.test('a target offline when sent receives the message from its mailbox later', async (t) => {
    await b.stop('SIGTERM');
    await a.call('sendTo', { to: addrB, data: Buffer.from('while you were away').toString('base64') });
    await waitFor(
      'entry stored at CS',
      async () => (await cluster.central.call<Status>('status')).metrics.mailboxEntries >= 1,
    );
    const b2 = await startNode(cluster.sourceDirs[1] as string);
    cluster.sources[1] = b2;
    const inbox = await collect(b2);
    await waitFor('mailbox delivery', () => inbox.items.some((d) => text(d) === 'while you were away'));
    t.pass('delivered after coming back');
    inbox.close();
  });

  await t.test('CS killed with SIGKILL while holding mail delivers all of it after restart', async (t) => {
    const b = cluster.sources[1] as (typeof cluster.sources)[0];
    await b.stop('SIGTERM');
    // Let CS settle first: B's last acks and the 1 s gauge refresh. Otherwise an older entry still
    // counted (or not yet uncounted) could make us kill CS while one of the 5 is still in the mix.
    await new Promise((r) => setTimeout(r, 1500));
    const before = (await cluster.central.call<Status>('status')).metrics.mailboxEntries;
    for (let i = 0; i < 5; i++)
      await a.call('sendTo', { to: addrB, data: Buffer.from(`kept ${i}`).toString('base64') });
    await waitFor(
      '5 entries stored',
      async () => (await cluster.central.call<Status>('status')).metrics.mailboxEntries >= before + 5,
    );
    await cluster.central.stop('SIGKILL');
    cluster.central = await startNode(cluster.centralDir);
    const b2 = await startNode(cluster.sourceDirs[1] as string);
    cluster.sources[1] = b2;
    const inbox = await collect(b2);
    try {
      await waitFor(
        'all 5 delivered',
        () => [0, 1, 2, 3, 4].every((i) => inbox.items.some((d) => text(d) === `kept ${i}`)),
        30_000,
      );
    } catch (err) {
      // Say what was missing and what both ends saw, so a failure here can be diagnosed from CI output.
      t.comment(
        JSON.stringify({
          got: inbox.items.map(text),
          b: await b2.call('status'),
          cs: await cluster.central.call('status'),
        }),
      );
      throw err;
    }
    t.pass('all entries survived kill -9');
    inbox.close();
  });

  await t.test('a proxy restarted inside a key epoch rejects a replay', async (t) => {
    const crypto = getCrypto('sodium');
    const epoch = Math.floor(Date.now() / 3_600_000);
    const proxyDir = cluster.proxyDirs[0] as string;
    const proxySecret = readSecretFile(join(proxyDir, 'keys', `mix-${epoch}.key`));
    const csSecret = readSecretFile(join(cluster.centralDir, 'keys', `mix-${epoch}.key`));
    const target = parseAddress(addrB);
    const rng = systemRng(crypto);
    // What a source would send: one unacknowledged fragment holding a sealed datagram.
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
    const b = cluster.sources[1] as (typeof cluster.sources)[0];
    const inbox = await collect(b);
    const sock = dgram.createSocket('udp4');
    const send = (port: number) => new Promise<void>((r) => sock.send(packet, port, '127.0.0.1', () => r()));
    await send((cluster.proxies[0] as (typeof cluster.proxies)[0]).ready.listen.port);
    await waitFor('first copy delivered', () => inbox.items.some((d) => text(d) === 'once only'));
    await (cluster.proxies[0] as (typeof cluster.proxies)[0]).stop('SIGTERM');
    const p2 = await startNode(proxyDir);
    cluster.proxies[0] = p2;
    await waitFor('proxy ready', async () => (await p2.call<{ ready: boolean }>('status')).ready);
    await send(p2.ready.listen.port);
    const st = await waitFor('replay counted', async () => {
      const s = await p2.call<Status>('status');
      return s.metrics.replayHits >= 1 ? s : false;
    });
    t.equal(st.metrics.replayHits, 1, 'the restarted proxy recognised the packet');
    await new Promise((r) => setTimeout(r, 500));
    t.equal(inbox.items.filter((d) => text(d) === 'once only').length, 1, 'the target got exactly one copy');
    sock.close();
    inbox.close();
  });
});

t.test('a config with a wrong field fails at start naming that field', async (t) => {
  const dir = join(t.testdirName);
  const { mkdirSync } = await import('node:fs');
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

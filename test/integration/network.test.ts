/**
 * A whole network in virtual time (CS + 4 proxies + 2 sources, real crypto): delivery, strangers'
 * garbage, offline targets, restarts. The memory world keeps each node's stores across a restart,
 * as a disk would; what LMDB itself keeps across kill -9 is tested on real processes
 * (test/integration/processes.test.ts) and in test/node.
 */
import { join } from 'node:path';
import t from 'tap';
import { parseAddress } from '../../src/group/address.js';
import { DIRECT_KIND, sealDirect } from '../../src/group/direct.js';
import { mailboxIdOf, nodeIdOf } from '../../src/node/ids.js';
import { readSecretFile } from '../../src/node/keyFiles.js';
import { NO_COVER } from '../../src/node/securityFloor.js';
import type { Transport } from '../../src/node/transport.js';
import { getCrypto } from '../../src/scramble/crypto/index.js';
import { DEFAULT_GEOMETRY } from '../../src/scramble/geometry.js';
import { createPacket } from '../../src/scramble/packet.js';
import { systemRng } from '../../src/scramble/rng.js';
import { seal } from '../../src/scramble/sealedBox.js';
import { seededCrypto } from '../../src/sim/seededCrypto.js';
import { createTestnet, type Testnet } from '../../src/sim/testnet.js';
import { encodeFragment } from '../../src/source/envelope.js';
import { frameSealed } from '../../src/source/frames.js';
import type { ReceivedDatagram } from '../../src/source/sourceNode.js';

const text = (d: ReceivedDatagram) => Buffer.from(d.data).toString();

/** Everything source `i` (as it is now; restarts make a new one) delivers to applications. */
function inbox(net: Testnet, i: number): ReceivedDatagram[] {
  const got: ReceivedDatagram[] = [];
  net.source(i).subscribe((d) => got.push(d));
  return got;
}

async function mailboxEntries(net: Testnet): Promise<number> {
  return (await net.central.ctx.metrics.snapshot()).mailboxEntries;
}

t.test('a virtual network: CS + 4 proxies + 2 sources', async (t) => {
  const net = await createTestnet(t, {
    proxies: 4,
    sources: 2,
    network: { ...NO_COVER, meanDelayMs: 20, maxDelayMs: 500 },
    insecureNoCover: true,
  });
  const stranger: Transport = await (net.network as NonNullable<Testnet['network']>).bind(
    { host: '127.0.0.1', port: 0 },
    () => {},
  );
  const addrB = net.source(1).address;

  await t.test('a unicast message is delivered end to end', async (t) => {
    const got = inbox(net, 1);
    net.source(0).sendUnicast(addrB, Buffer.from('hello through the mix'));
    await net.until(() => got.length >= 1, { limitMs: 10_000, what: 'delivery at B' });
    t.equal(text(got[0] as ReceivedDatagram), 'hello through the mix');
    t.equal(got[0]?.from, undefined, 'the target does not learn the sender from the network layer');
    t.equal(got[0]?.kind, 'unicast');
  });

  await t.test('random, truncated and oversized datagrams are counted and do not disturb delivery', async (t) => {
    const noise = seededCrypto(getCrypto('sodium'), 'garbage');
    const size = (max: number) =>
      1 + (((noise.randomBytes(2)[0] as number) * 256 + (noise.randomBytes(1)[0] as number)) % max);
    const nodes = [net.central, ...net.proxies, ...net.sources];
    for (const node of nodes) {
      for (let i = 0; i < 60; i++) {
        const kind = i % 4;
        let d: Uint8Array;
        if (kind === 0) d = noise.randomBytes(size(3000));
        else if (kind === 1) {
          d = noise.randomBytes(2048);
          d[0] = 1; // a Sphinx frame of the right size, garbage inside
        } else if (kind === 2) {
          d = noise.randomBytes(5 + size(100));
          d[0] = 2; // a control frame, version 1, garbage after
          d[1] = 1;
        } else d = noise.randomBytes(60_000);
        stranger.send(node.local, d);
      }
    }
    const got = inbox(net, 1);
    net.source(0).sendUnicast(addrB, Buffer.from('still working'));
    await net.until(() => got.some((d) => text(d) === 'still working'), { limitMs: 10_000, what: 'delivery' });
    for (const n of [net.central, ...net.proxies, net.sources[0]]) {
      if (!n) continue;
      const dropped = Object.values((await n.ctx.metrics.snapshot()).drops).reduce((x, y) => x + y, 0);
      t.ok(dropped >= 50, `${n.name} counted ${dropped} drops`);
    }
    t.equal(net.internalErrors.length, 0, 'no garbage reached a bug');
  });

  await t.test('a target offline when sent receives the message from its mailbox later', async (t) => {
    const b = net.sources[1] as Testnet['sources'][0];
    await net.stopNode(b);
    net.source(0).sendUnicast(addrB, Buffer.from('while you were away'));
    await net.until(async () => (await mailboxEntries(net)) >= 1, { limitMs: 10_000, what: 'entry stored at CS' });
    await net.restartNode(b);
    const got = inbox(net, 1);
    await net.until(() => got.some((d) => text(d) === 'while you were away'), {
      limitMs: 20_000,
      what: 'mailbox delivery',
    });
    t.pass('delivered after coming back');
  });

  await t.test('CS restarted while holding mail delivers all of it', async (t) => {
    const b = net.sources[1] as Testnet['sources'][0];
    await net.stopNode(b);
    // Let B's last acks land, so only the 5 new entries are pending.
    await net.until(async () => (await mailboxEntries(net)) === 0, { limitMs: 20_000, what: 'an empty mailbox' });
    for (let i = 0; i < 5; i++) net.source(0).sendUnicast(addrB, Buffer.from(`kept ${i}`));
    await net.until(async () => (await mailboxEntries(net)) >= 5, { limitMs: 10_000, what: '5 entries stored' });
    await net.restartNode(net.central);
    await net.restartNode(b);
    const got = inbox(net, 1);
    await net.until(() => [0, 1, 2, 3, 4].every((i) => got.some((d) => text(d) === `kept ${i}`)), {
      limitMs: 30_000,
      what: 'all 5 delivered',
    });
    t.pass('all entries survived the restart');
  });

  await t.test('a proxy restarted inside a key epoch rejects a replay', async (t) => {
    const crypto = getCrypto('sodium');
    const epoch = Math.floor(net.clock.now() / 3_600_000);
    const proxy = net.proxies[0] as Testnet['proxies'][0];
    const proxySecret = readSecretFile(join(proxy.ctx.dataDir, 'keys', `mix-${epoch}.key`));
    const csSecret = readSecretFile(join(net.central.ctx.dataDir, 'keys', `mix-${epoch}.key`));
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
          command: { kind: 'relay', next: nodeIdOf(crypto, net.central.ctx.identity.publicKey), delayMs: 0 },
        },
        {
          publicKey: crypto.x25519Base(csSecret),
          command: { kind: 'deliver', mailbox: mailboxIdOf(crypto, target.identityKey) },
        },
      ],
      body,
      rng,
    );
    const got = inbox(net, 1);
    stranger.send(proxy.local, packet);
    await net.until(() => got.some((d) => text(d) === 'once only'), { limitMs: 10_000, what: 'first copy' });
    const p2 = await net.restartNode(proxy);
    await net.until(() => p2.proxy?.status().ready === true, { limitMs: 10_000, what: 'proxy ready' });
    stranger.send(p2.local, packet);
    await net.until(async () => (await p2.ctx.metrics.snapshot()).replayHits >= 1, {
      limitMs: 10_000,
      what: 'replay counted',
    });
    t.equal((await p2.ctx.metrics.snapshot()).replayHits, 1, 'the restarted proxy recognised the packet');
    // The replay was dropped at the proxy, so once B has acknowledged everything nothing more can come.
    await net.until(async () => (await mailboxEntries(net)) === 0, { limitMs: 20_000, what: 'all mail acked' });
    t.equal(got.filter((d) => text(d) === 'once only').length, 1, 'the target got exactly one copy');
  });
});

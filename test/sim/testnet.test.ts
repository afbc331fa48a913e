import { createHash } from 'node:crypto';
import t from 'tap';
import type { RoleInstance } from '../../src/daemon/roleInstance.js';
import { NO_COVER } from '../../src/node/securityFloor.js';
import { peerKey } from '../../src/node/transport.js';
import type { VirtualClock } from '../../src/node/virtualClock.js';
import { getCrypto } from '../../src/scramble/crypto/index.js';
import { seededCrypto } from '../../src/sim/seededCrypto.js';
import { createTestnet, InternalErrorInTestnet, type TestHost } from '../../src/sim/testnet.js';

t.test('seededCrypto: the same seed gives the same bytes; everything else is the real backend', async (t) => {
  const real = getCrypto('sodium');
  const a = seededCrypto(real, 'seed one');
  const b = seededCrypto(real, 'seed one');
  const c = seededCrypto(real, 'seed two');
  const first = a.randomBytes(100);
  t.same(b.randomBytes(60), first.subarray(0, 60), 'a stream, however it is cut');
  t.same(b.randomBytes(40), first.subarray(60));
  t.not(Buffer.from(c.randomBytes(100)).toString('hex'), Buffer.from(first).toString('hex'), 'another seed');
  t.equal(a.name, 'sodium');
  const seed = a.randomBytes(32);
  t.same(a.ed25519PublicKey(seed), real.ed25519PublicKey(seed), 'primitives are the backend’s');
});

/** A fingerprint of everything on the wire: time, endpoints and a hash of the bytes of every datagram. */
async function traceOf(seed: number): Promise<{ digest: string; datagrams: number; delivered: string[] }> {
  const net = await createTestnet(null, {
    proxies: 3,
    sources: 3,
    seed,
    network: { ...NO_COVER, meanDelayMs: 20, maxDelayMs: 400 },
    insecureNoCover: true,
  });
  try {
    const h = createHash('sha256');
    let datagrams = 0;
    net.tap((d) => {
      datagrams++;
      h.update(`${d.timeMs}|${peerKey(d.from)}|${peerKey(d.to)}|`);
      h.update(d.bytes);
    });
    const delivered: string[] = [];
    net.source(1).subscribe((d) => delivered.push(`${Buffer.from(d.data)}@${net.clock.now()}`));
    for (let i = 0; i < 5; i++) {
      net.source(0).sendUnicast(net.source(1).address, Buffer.from(`m${i}`));
      await net.sleep(100);
    }
    await net.until(() => delivered.length === 5, { limitMs: 10_000, what: 'five datagrams' });
    await net.sleep(2000);
    return { digest: h.digest('hex'), datagrams, delivered };
  } finally {
    await net.stop();
  }
}

t.test('a virtual testnet is deterministic for a seed: the same bytes at the same times', async (t) => {
  const a = await traceOf(11);
  const b = await traceOf(11);
  const c = await traceOf(12);
  t.ok(a.datagrams > 50, `${a.datagrams} datagrams observed`);
  t.same(b, a, 'same seed: identical trace and deliveries');
  t.not(c.digest, a.digest, 'another seed: another trace');
});

t.test('an internal error in any node fails the wait at once and the test at teardown', async (t) => {
  const teardowns: Array<() => unknown> = [];
  const failures: string[] = [];
  const host: TestHost = { teardown: (fn) => teardowns.push(fn), fail: (m) => failures.push(m) };
  const net = await createTestnet(host, { proxies: 2, sources: 1, logLevel: 'fatal' });
  try {
    // A bug in a timer of a role (what an untyped throw in a cover timer used to be: fatal).
    net.source(0).status();
    net.sources[0]?.ctx.clock.setTimeout(() => {
      throw new TypeError('injected timer bug');
    }, 50);
    const err = await net.sleep(1000).catch((e: unknown) => e);
    t.ok(err instanceof InternalErrorInTestnet, 'the wait fails');
    t.match((err as Error).message, /internal error in source0 \(timer\).*injected timer bug/s);
    t.equal(
      (await net.sources[0]?.ctx.metrics.snapshot())?.internalErrors.timer,
      1,
      'the node counted it in internal_errors',
    );
    t.ok(net.source(0).status().registered, 'and kept running');

    // A bug reached through a datagram: the guarded handler counts it as a drop too.
    const proxy = net.proxies[0];
    if (!proxy) throw new Error('no proxy');
    (proxy.instance as { onDatagram: RoleInstance['onDatagram'] }).onDatagram = () => {
      throw new Error('injected handler bug');
    };
    const stranger = await net.network?.bind({ host: '127.0.0.1', port: 0 }, () => {});
    stranger?.send(proxy.local, new Uint8Array([1, 2, 3]));
    // The testnet's own waits fail from now on (an error is recorded): drive the clock directly.
    await (net.clock as VirtualClock).advance(10);
    const snap = await proxy.ctx.metrics.snapshot();
    t.equal(snap.internalErrors.datagram, 1);
    t.equal(snap.drops.internal_error, 1);
  } finally {
    for (const fn of teardowns) await fn();
  }
  t.equal(failures.length, 2, 'teardown fails the test once per internal error');
  t.match(failures[0], /injected timer bug/);
  t.match(failures[1], /injected handler bug/);
});

t.test('restartNode: a node comes back on its address with its stores', async (t) => {
  const net = await createTestnet(t, { proxies: 3, sources: 2 });
  const b = net.sources[1];
  if (!b) throw new Error('no source 1');
  await net.stopNode(b);
  net.source(0).sendUnicast(net.source(1).address, Buffer.from('while b was away'));
  await net.until(async () => (await net.central.ctx.metrics.snapshot()).mailboxEntries >= 1, {
    limitMs: 10_000,
    what: 'the entry stored at CS',
  });
  const b2 = await net.restartNode(b);
  t.same(b2.local, b.local, 'same address');
  t.equal(net.sources[1], b2, 'the testnet lists the new daemon');
  const got: string[] = [];
  b2.source?.subscribe((d) => got.push(Buffer.from(d.data).toString()));
  await net.until(() => got.length > 0, { limitMs: 20_000, what: 'the stored datagram' });
  t.same(got, ['while b was away']);
});

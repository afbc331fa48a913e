/**
 * No amplification (issue 10): nothing unauthenticated gets more bytes back than it sent. Before,
 * a 3-byte dirRequest drew the whole directory (×229, ×20,000 once the directory was blown up), a
 * 35-byte hello a 1,752-byte challenge. Here a stranger sends every kind of datagram it can make —
 * junk, Sphinx frames, valid packets, each control message padded and not — to a real CS, proxy and
 * source, and counts every byte that comes back (CS's probe for a descriptor naming the stranger
 * included).
 */
import t from 'tap';
import { getCrypto } from '../../../src/scramble/crypto/index.js';
import { measureAmplification } from '../../../src/sim/amplification.js';
import { controlled, createTestnet, FAST_TEST_NETWORK } from '../../../src/sim/testnet.js';

t.test('every reply to a stranger is at most as large as what it sent', async (t) => {
  const crypto = getCrypto('sodium');
  // Real daemons with real sockets, in this process (cheaper to start than processes).
  const net = await createTestnet(null, {
    world: 'real',
    controlSockets: true,
    proxies: 1,
    sources: 1,
    network: FAST_TEST_NETWORK,
    insecureNoCover: true,
  });
  t.teardown(() => net.stop());
  const central = controlled(net.central);
  const cases = await measureAmplification(
    crypto,
    [
      { name: 'central', node: central },
      { name: 'proxy', node: controlled(net.proxies[0] as (typeof net.proxies)[0]) },
      { name: 'source', node: controlled(net.sources[0] as (typeof net.sources)[0]) },
    ],
    central,
    Buffer.from(net.central.ctx.identity.publicKey).toString('hex'),
  );
  t.ok(cases.length >= 3 * 38, `${cases.length} (target, message) pairs measured`);
  const worst = cases.reduce((a, b) => (b.ratio > a.ratio ? b : a));
  t.comment(`largest: ${worst.target} ← ${worst.message}: ${worst.receivedBytes} / ${worst.sentBytes} bytes`);
  for (const c of cases.filter((x) => x.receivedBytes > 0)) {
    t.comment(`${c.target} ← ${c.message}: ×${c.ratio.toFixed(3)}`);
  }
  t.same(
    cases.filter((c) => c.ratio > 1).map((c) => `${c.target} ← ${c.message}: ×${c.ratio.toFixed(2)}`),
    [],
    'no reply larger than its request',
  );
  t.ok(
    cases.some((c) => c.receivedBytes > 0),
    'the measurement sees replies at all (CS answers some)',
  );
});

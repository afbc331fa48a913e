import t from 'tap';
import { createTestnet, FAST_TEST_NETWORK } from '../../src/sim/testnet.js';

// The pure-JS backend runs a whole network too (slower, same bytes): the fallback is real, not a test double.
t.test('a network whose nodes all use the noble backend delivers a datagram', async (t) => {
  const net = await createTestnet(t, {
    proxies: 3,
    sources: 2,
    crypto: 'noble',
    // noble is ~30x slower per packet: no cover traffic, so the test stays short.
    network: FAST_TEST_NETWORK,
    insecureNoCover: true,
  });
  t.equal(net.central.ctx.crypto.name, 'noble');
  const [a, b] = [net.source(0), net.source(1)];
  const got: string[] = [];
  b.subscribe((d) => got.push(Buffer.from(d.data).toString()));
  a.sendUnicast(b.address, Buffer.from('pure js all the way'));
  await net.until(() => got.length > 0, { limitMs: 10_000, what: 'the datagram' });
  t.same(got, ['pure js all the way']);
});

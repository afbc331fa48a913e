import t from 'tap';
import { FAST_TEST_NETWORK, startLocalNetwork } from '../../src/sim/network.js';
import type { SourceNode } from '../../src/source/sourceNode.js';

// The pure-JS backend runs a whole network too (slower, same bytes): the fallback is real, not a test double.
t.test('a network whose daemons all use the noble backend delivers a datagram', async (t) => {
  const net = await startLocalNetwork({
    proxies: 3,
    sources: 2,
    crypto: 'noble',
    network: FAST_TEST_NETWORK,
    insecureNoCover: true,
  });
  t.teardown(() => net.stop());
  t.equal(net.central.ctx.crypto.name, 'noble');
  const [a, b] = net.sources.map((d) => d.source as SourceNode) as [SourceNode, SourceNode];
  const got = new Promise<string>((resolve) => b.subscribe((d) => resolve(Buffer.from(d.data).toString())));
  a.sendUnicast(b.address, Buffer.from('pure js all the way'));
  t.equal(await got, 'pure js all the way');
});

import t from 'tap';
import { FAST_TEST_NETWORK, startLocalNetwork } from '../../src/sim/network.js';
import type { SourceNode } from '../../src/source/sourceNode.js';

// Every daemon bound to ::1: the directory carries bracketed IPv6 addresses and mixes forward over them.
t.test('a network on IPv6 loopback registers, publishes bracketed addresses and delivers', async (t) => {
  const net = await startLocalNetwork({
    proxies: 3,
    sources: 3,
    host: '::1',
    network: FAST_TEST_NETWORK,
    insecureNoCover: true,
    extras: { inviteKdf: { opsLimit: 1, memLimitBytes: 8 * 1024 * 1024 } },
  });
  t.teardown(() => net.stop());
  t.match(net.central.ctx.transport.local.host, '::1');
  const dir = net.sources[0]?.source?.directory.current();
  t.ok(
    dir?.proxies.every((p) => p.address.startsWith('[::1]:')),
    'proxies advertise [::1]:PORT',
  );
  const [a, b] = net.sources.map((d) => d.source as SourceNode) as [SourceNode, SourceNode];
  const got = new Promise<string>((resolve) => b.subscribe((d) => resolve(Buffer.from(d.data).toString())));
  a.sendUnicast(b.address, Buffer.from('over ipv6'));
  t.equal(await got, 'over ipv6');
});

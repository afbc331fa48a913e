import t from 'tap';
import { createTestnet } from '../../src/sim/testnet.js';

// Real UDP sockets bound to ::1: the directory carries bracketed IPv6 addresses and mixes forward over them.
t.test('a network on IPv6 loopback registers, publishes bracketed addresses and delivers', async (t) => {
  const net = await createTestnet(t, { world: 'real', proxies: 3, sources: 3, host: '::1' });
  t.match(net.central.local.host, '::1');
  const dir = net.source(0).directory.current();
  t.ok(
    dir?.proxies.every((p) => p.address.startsWith('[::1]:')),
    'proxies advertise [::1]:PORT',
  );
  const [a, b] = [net.source(0), net.source(1)];
  const got: string[] = [];
  b.subscribe((d) => got.push(Buffer.from(d.data).toString()));
  a.sendUnicast(b.address, Buffer.from('over ipv6'));
  await net.until(() => got.length > 0, { limitMs: 60_000, what: 'the datagram over IPv6' });
  t.same(got, ['over ipv6']);
});

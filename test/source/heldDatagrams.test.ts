import t from 'tap';
import { createTestnet } from '../../src/sim/testnet.js';

// A whole network in virtual time: mail that arrives before any application listens is not lost.
t.test(
  'datagrams that arrive before anyone subscribes are handed to the first subscriber who wants them',
  async (t) => {
    const net = await createTestnet(t, { proxies: 3, sources: 2 });
    const [a, b] = [net.source(0), net.source(1)];
    a.sendUnicast(b.address, Buffer.from('early'));
    await net.until(() => b.status().received === 1, { limitMs: 10_000, what: 'the datagram at b' });
    t.equal(b.status().received, 1, 'the datagram reached b while nobody listened');

    const groupOnly: string[] = [];
    const offGroup = b.subscribe(
      (d) => groupOnly.push(Buffer.from(d.data).toString()),
      (d) => d.kind === 'group',
    );
    t.same(groupOnly, [], 'a subscriber that does not want it does not take it');
    const got: string[] = [];
    const off = b.subscribe((d) => got.push(Buffer.from(d.data).toString()));
    t.same(got, ['early'], 'the first subscriber that wants it gets it');
    const again: string[] = [];
    const off2 = b.subscribe((d) => again.push(Buffer.from(d.data).toString()));
    t.same(again, [], 'and only once');
    off();
    off2();
    offGroup();
  },
);

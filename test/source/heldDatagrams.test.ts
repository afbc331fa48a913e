import t from 'tap';
import { FAST_TEST_NETWORK, startLocalNetwork } from '../../src/sim/network.js';
import type { SourceNode } from '../../src/source/sourceNode.js';

// Real daemons in this process: mail that arrives before any application listens is not lost.
t.test(
  'datagrams that arrive before anyone subscribes are handed to the first subscriber who wants them',
  async (t) => {
    const net = await startLocalNetwork({ proxies: 3, sources: 2, network: FAST_TEST_NETWORK, insecureNoCover: true });
    t.teardown(() => net.stop());
    const [a, b] = net.sources.map((d) => d.source as SourceNode) as [SourceNode, SourceNode];
    a.sendUnicast(b.address, Buffer.from('early'));
    const deadline = Date.now() + 10_000;
    while (b.status().received === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
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

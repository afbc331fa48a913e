import t from 'tap';
import type { Endpoint, LinkEvent, NodeObservation } from '../../src/sim/adversaries/observation.js';
import { MIX_KNEE_PACKETS, mixLoad } from '../../src/sim/mixOccupancy.js';
import { buildTrace } from '../../src/sim/trace.js';
import { toyMixnet } from './adversaries/toyMixnet.js';

const endpoints: Endpoint[] = [
  { id: 'p', role: 'proxy' },
  { id: 'q', role: 'proxy' },
  { id: 's', role: 'source' },
];

t.test('node records: exact residence, per-hop delay and packets inside', async (t) => {
  // Two packets through p over a 1000 ms run: 100 ms and 300 ms inside.
  const links: LinkEvent[] = [
    { t: 0, from: 's', to: 'p', size: 1, hash: 'a' },
    { t: 100, from: 'p', to: 'q', size: 1, hash: 'b' },
    { t: 200, from: 's', to: 'p', size: 1, hash: 'c' },
    { t: 500, from: 'p', to: 'q', size: 1, hash: 'd' },
  ];
  const obs: NodeObservation[] = [
    { t: 1, node: 'p', op: 'relay', in: 'a', out: [{ hash: 'b', to: 'q', delayMs: 99 }] },
    { t: 201, node: 'p', op: 'relay', in: 'c', out: [{ hash: 'd', to: 'q', delayMs: 299 }] },
  ];
  const r = mixLoad(endpoints, links, obs, 0, 1000);
  const p = r.proxies.find((x) => x.node === 'p');
  t.equal(p?.method, 'node-records');
  t.equal(p?.perHopDelayMs, 200);
  t.equal(p?.meanPackets, 0.4, '(100 + 300) / 1000');
  t.equal(p?.inputsPerS, 2);
  t.equal(r.belowKnee, 2, `both below ${MIX_KNEE_PACKETS} packets`);
});

t.test("on a toy mixnet, Little's law holds and link timing agrees with the node records", async (t) => {
  const trace = buildTrace(
    toyMixnet({ seed: 5, sources: 12, proxies: 3, durationMs: 30_000, messagesPerS: 3, muMs: 40, lambdaPerS: 10 })
      .records,
  );
  const exact = mixLoad(trace.meta.endpoints, trace.links, trace.obs, 0, 30_000, 40);
  const timing = mixLoad(trace.meta.endpoints, trace.links, [], 0, 30_000, 40);
  for (const p of exact.proxies) {
    t.ok(
      Math.abs(p.perHopDelayMs - 41) < 4,
      `${p.node}: per-hop ${p.perHopDelayMs.toFixed(1)} ms (μ 40 + 1 ms latency)`,
    );
    const little = (p.inputsPerS / 1000) * p.perHopDelayMs;
    t.ok(Math.abs(p.meanPackets - little) / little < 0.15, `L ${p.meanPackets.toFixed(2)} ≈ λW ${little.toFixed(2)}`);
  }
  for (const p of timing.proxies) {
    t.equal(p.method, 'link-timing');
    const q = exact.proxies.find((x) => x.node === p.node);
    t.ok(
      q && Math.abs(p.meanPackets - q.meanPackets) / q.meanPackets < 0.25,
      `${p.meanPackets.toFixed(2)} vs ${q?.meanPackets.toFixed(2)}`,
    );
  }
});

import t from 'tap';
import { globalEndToEnd } from '../../../src/sim/adversaries/globalEndToEnd.js';
import { globalHopByHop } from '../../../src/sim/adversaries/globalHopByHop.js';
import { gradeSenderGuesses, indexTruth } from '../../../src/sim/adversaries/grader.js';
import { globalView } from '../../../src/sim/adversaries/views.js';
import { mean, wilsonInterval } from '../../../src/sim/stats.js';
import { buildTrace } from '../../../src/sim/trace.js';
import { type ToyOptions, toyMixnet } from './toyMixnet.js';

const BASE: ToyOptions = {
  seed: 1,
  sources: 12,
  proxies: 4,
  groupCount: 3,
  groupSize: 4,
  durationMs: 60_000,
  messagesPerS: 5,
  muMs: 0,
  lambdaPerS: 0,
};

function score(o: Partial<ToyOptions>) {
  const trace = buildTrace(toyMixnet({ ...BASE, ...o }).records);
  const idx = indexTruth(trace);
  const e2e = globalEndToEnd(globalView(trace));
  const hbh = globalHopByHop(globalView(trace));
  const grade = (g: typeof e2e.guesses) => gradeSenderGuesses(g, idx, { candidates: e2e.candidates.length });
  return { e2e: grade(e2e.guesses), hbh: grade(hbh.guesses), baseline: 1 / e2e.candidates.length, model: e2e.model };
}

t.test('no delays, no cover: both global observers name almost every sender', async (t) => {
  const r = score({});
  t.ok(r.e2e.messages.length >= 250, `${r.e2e.messages.length} messages scored`);
  t.ok(mean(r.e2e.top1) > 0.95, `end to end top-1 ${mean(r.e2e.top1)}`);
  t.ok(mean(r.hbh.top1) > 0.95, `hop by hop top-1 ${mean(r.hbh.top1)}`);
  t.ok(mean(r.hbh.entropyBits) < 0.3, `entropy ${mean(r.hbh.entropyBits)} bits`);
  // Calibrated on the traffic: the lag is the 1 ms link latency, not μ = 0.
  const proxyShift = [...r.model.proxies.values()][0].kernel.shift;
  t.ok(proxyShift > 0.4 && proxyShift <= 1, `proxy lag calibrated to ${proxyShift} ms`);
});

t.test('heavy mixing with cover: both fall toward the uniform baseline', async (t) => {
  const r = score({ muMs: 300, lambdaPerS: 12, durationMs: 30_000, messagesPerS: 10 });
  t.ok(r.e2e.messages.length >= 250);
  for (const [name, s] of [
    ['end to end', r.e2e],
    ['hop by hop', r.hbh],
  ] as const) {
    const top1 = mean(s.top1);
    const [lo] = wilsonInterval(top1 * s.top1.length, s.top1.length);
    t.ok(top1 < 2 * r.baseline, `${name}: top-1 ${top1.toFixed(3)} < 2 × ${r.baseline.toFixed(3)}`);
    t.ok(lo < 1.5 * r.baseline, `${name}: interval reaches down near the baseline (${lo.toFixed(3)})`);
    t.ok(mean(s.entropyBits) > 0.75 * Math.log2(12), `${name}: entropy ${mean(s.entropyBits).toFixed(2)} bits`);
  }
});

t.test('moderate mixing: hop-by-hop tracing and joining copies beat end-to-end timing', async (t) => {
  const r = score({ muMs: 10, lambdaPerS: 5 });
  const e2e = mean(r.e2e.top1);
  const hbh = mean(r.hbh.top1);
  t.ok(hbh > e2e + 0.15, `hop by hop ${hbh.toFixed(3)} vs end to end ${e2e.toFixed(3)}`);
  t.ok(e2e > 2 * r.baseline, 'and end to end still beats chance here');
});

t.test('the join is what helps: without it hop-by-hop is weaker', async (t) => {
  const trace = buildTrace(toyMixnet({ ...BASE, muMs: 10, lambdaPerS: 5, durationMs: 40_000 }).records);
  const idx = indexTruth(trace);
  const joined = globalHopByHop(globalView(trace));
  const alone = globalHopByHop(globalView(trace), { joinIterations: 0 });
  const g = (x: typeof joined) => mean(gradeSenderGuesses(x.guesses, idx, { candidates: 12 }).top1);
  t.ok(g(joined) > g(alone) + 0.05, `joined ${g(joined).toFixed(3)} vs alone ${g(alone).toFixed(3)}`);
  t.ok(joined.joinedDeliveries > alone.joinedDeliveries);
});

/**
 * The intervals the suite prints mean what they say: over repeated synthetic
 * runs, a run's 95% interval covers the rate measured on all runs pooled
 * (the best available stand-in for the adversary's true rate) about 95% of
 * the time.
 */
import t from 'tap';
import { globalEndToEnd } from '../../../src/sim/adversaries/globalEndToEnd.js';
import { gradeMembership, gradeSenderGuesses, indexTruth } from '../../../src/sim/adversaries/grader.js';
import { maliciousCentral } from '../../../src/sim/adversaries/maliciousCentral.js';
import { centralView, globalView } from '../../../src/sim/adversaries/views.js';
import { proportionFigure } from '../../../src/sim/stats.js';
import { buildTrace } from '../../../src/sim/trace.js';
import { toyMixnet } from './toyMixnet.js';

t.test('per-run top-1 intervals cover the pooled rate', async (t) => {
  const runs = [];
  for (let seed = 100; seed < 116; seed++) {
    const trace = buildTrace(
      toyMixnet({ seed, sources: 10, proxies: 4, durationMs: 20_000, messagesPerS: 5, muMs: 15, lambdaPerS: 4 })
        .records,
    );
    const r = globalEndToEnd(globalView(trace));
    runs.push(gradeSenderGuesses(r.guesses, indexTruth(trace), { candidates: 10 }).top1);
  }
  const pooled = proportionFigure(runs.flat(), 0.1, 'uniform over 10 sources', 'messages');
  t.ok(pooled.value > 0.2 && pooled.value < 0.9, `a rate far from 0 and 1: ${pooled.value.toFixed(3)}`);
  const covered = runs.filter((s) => {
    const f = proportionFigure(s, 0.1, '', 'messages');
    return f.ci95[0] <= pooled.value && pooled.value <= f.ci95[1];
  }).length;
  t.ok(covered >= 13, `${covered} of ${runs.length} runs cover ${pooled.value.toFixed(3)}`);
  // And the check can fail: intervals of a tenth of the width would not cover.
  const narrow = runs.filter((s) => {
    const f = proportionFigure(s, 0.1, '', 'messages');
    const mid = (f.ci95[0] + f.ci95[1]) / 2;
    const half = (f.ci95[1] - f.ci95[0]) / 20;
    return mid - half <= pooled.value && pooled.value <= mid + half;
  }).length;
  t.ok(narrow < covered, `too-narrow intervals cover only ${narrow}`);
});

t.test('membership AUC intervals of short runs cover the pooled AUC', async (t) => {
  const parts = [];
  for (let seed = 200; seed < 210; seed++) {
    const trace = buildTrace(
      toyMixnet({
        seed,
        sources: 16,
        proxies: 4,
        groupCount: 4,
        groupSize: 4,
        durationMs: 6000,
        messagesPerS: 2,
        muMs: 200,
        lambdaPerS: 2,
      }).records,
    );
    const r = maliciousCentral(centralView(trace), { horizonsMs: [] });
    parts.push(gradeMembership(r.membership[0].pairs, indexTruth(trace), 6000));
  }
  const mean = parts.reduce((s, p) => s + p.auc, 0) / parts.length;
  t.ok(mean > 0.55 && mean < 0.98, `an AUC with room on both sides: ${mean.toFixed(3)}`);
  const covered = parts.filter((p) => p.ci95[0] <= mean && mean <= p.ci95[1]).length;
  t.ok(covered >= 8, `${covered} of ${parts.length} runs cover ${mean.toFixed(3)}`);
});

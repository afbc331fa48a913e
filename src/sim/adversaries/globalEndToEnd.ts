/**
 * Global passive adversary, end to end (issue 8, item 5).
 *
 * Sees: every link event (time, endpoints, size, hash); nothing inside the
 * nodes; the directory's public parameters. It is not told which deliveries
 * are real: for EVERY CS→source delivery frame it produces a posterior over
 * the sources, from the timing of source→proxy sends alone.
 *
 * Model: a packet sent at s reaches its recipient after the transit time of
 * `networkModel.ts` (every mix delay on the path plus CS's lag, calibrated on
 * the traffic). Each send could be the one that carried the delivery, so a
 * source's weight is Σ over its sends of f(t − s) plus a small uniform floor
 * (robustness against lags the model does not explain). Cover is sent at
 * the same rate by everyone, so its density cancels out of the posterior;
 * the prior over sources is uniform. Baseline: uniform over the sources.
 */

import { guessFromWeights, kernelLogPdf, kernelSupport, lowerBound, sourceIds, subsampleByHash } from './kernels.js';
import { calibrateNetwork, type NetworkModel, usefulLinks } from './networkModel.js';
import type { GlobalView, LinkEvent, SenderGuess } from './observation.js';

export interface EndToEndOptions {
  /** Deliveries analysed at most (a deterministic subsample by hash, blind to content). Default 50 000. */
  maxEvents?: number;
  /** Weight of the uniform floor relative to one well-placed send. Default 1e-3. */
  outlierWeight?: number;
}

export interface EndToEndResult {
  model: NetworkModel;
  candidates: string[];
  /** One per analysed delivery; `event` is the delivery's link hash. */
  guesses: SenderGuess[];
}

export function globalEndToEnd(view: GlobalView, options: EndToEndOptions = {}): EndToEndResult {
  const model = calibrateNetwork(view.public, view.links);
  const candidates = sourceIds(view.public.endpoints);
  const index = new Map(candidates.map((s, i) => [s, i] as const));
  const sends: LinkEvent[] = [];
  const deliveries: LinkEvent[] = [];
  for (const e of usefulLinks(view.links, view.public, model.roles)) {
    const from = model.roles.get(e.from);
    const to = model.roles.get(e.to);
    if (from === 'source' && to === 'proxy') sends.push(e);
    else if (from === 'central' && to === 'source') deliveries.push(e);
  }
  const sendTimes = Float64Array.from(sends, (e) => e.t);
  const sendWho = Int32Array.from(sends, (e) => index.get(e.from) ?? -1);
  const support = kernelSupport(model.transit);
  const floor = (options.outlierWeight ?? 1e-3) / support;
  const weights = new Float64Array(candidates.length);
  const guesses: SenderGuess[] = [];
  for (const d of subsampleByHash(deliveries, options.maxEvents ?? 50_000)) {
    weights.fill(floor);
    const lo = lowerBound(sendTimes, d.t - support);
    for (let j = lo; j < sendTimes.length && sendTimes[j] <= d.t; j++) {
      const who = sendWho[j];
      if (who < 0) continue;
      weights[who] += Math.exp(kernelLogPdf(model.transit, d.t - sendTimes[j])) + floor;
    }
    guesses.push(guessFromWeights(d.hash, candidates, weights));
  }
  return { model, candidates, guesses };
}

import type { NetworkParams } from './directory.js';

/**
 * The least a node accepts from a directory before it sends anything through
 * the network (issue 10, F12): a malicious or misconfigured CS must not be able
 * to switch delays and cover off for everyone. An operator who wants that
 * anyway (tests, the simulator's ablation) says so with `insecureNoCover`.
 *
 * **Mix occupancy** (the Loopix λ/μ knee, made precise). Loopix shows a
 * Poisson mix's sender entropy climbing steeply while λ/μ — packets arriving
 * per second times the mean delay, i.e. by Little's law the number of packets
 * the mix holds at an average instant — is below about 2, and flattening
 * above. A node cannot see how many sources there are, so it counts only what
 * the parameters force on every mix whoever uses the network: mix loops. Each
 * proxy sends `mixLoopPerSecond` loops P → Pa → Pb → P, held for a delay at Pa
 * and at Pb, so on average every mix receives 2·mixLoopPerSecond of them and
 * holds
 *
 *   occupancy = 2 · mixLoopPerSecond · meanDelayMs / 1000
 *
 * packets of cover at any instant. The floor is occupancy ≥ 2 (MIN_MIX_OCCUPANCY).
 * Sources' drop and loop cover (3 mix stays per packet) only add to it.
 *
 * Besides: a mean delay of at least MIN_MEAN_DELAY_MS, a cap of at least
 * MIN_MAX_DELAY_FACTOR means (so the exponential is not cut short), and every
 * cover stream on: source sending rate λ, source loops, mix loops and CS's
 * steady delivery.
 */
export const MIN_MIX_OCCUPANCY = 2;
export const MIN_MEAN_DELAY_MS = 50;
export const MIN_MAX_DELAY_FACTOR = 5;

/** The parameters that switch every cover stream off (the simulator's ablation, tests that opt out). */
export const NO_COVER: Readonly<
  Pick<NetworkParams, 'lambdaPerSecond' | 'loopPerSecond' | 'mixLoopPerSecond' | 'deliveryPerSecond'>
> = Object.freeze({ lambdaPerSecond: 0, loopPerSecond: 0, mixLoopPerSecond: 0, deliveryPerSecond: 0 });

/** Expected packets of mix-loop cover one mix holds at an average instant (see above). */
export function mixOccupancy(p: Pick<NetworkParams, 'mixLoopPerSecond' | 'meanDelayMs'>): number {
  return (2 * p.mixLoopPerSecond * p.meanDelayMs) / 1000;
}

/** Everything below the floor, in words an operator can act on; empty when the parameters are secure. */
export function securityProblems(p: NetworkParams): string[] {
  const out: string[] = [];
  if (!(p.meanDelayMs >= MIN_MEAN_DELAY_MS)) out.push(`meanDelayMs ${p.meanDelayMs} < ${MIN_MEAN_DELAY_MS}`);
  if (!(p.maxDelayMs >= MIN_MAX_DELAY_FACTOR * p.meanDelayMs)) {
    out.push(`maxDelayMs ${p.maxDelayMs} < ${MIN_MAX_DELAY_FACTOR} × meanDelayMs`);
  }
  for (const k of ['lambdaPerSecond', 'loopPerSecond', 'mixLoopPerSecond', 'deliveryPerSecond'] as const) {
    if (!(p[k] > 0)) out.push(`${k} is 0 (cover off)`);
  }
  const occupancy = mixOccupancy(p);
  if (!(occupancy >= MIN_MIX_OCCUPANCY)) {
    out.push(
      `mix occupancy 2 · mixLoopPerSecond · meanDelayMs / 1000 = ${Number(occupancy.toFixed(3))} < ${MIN_MIX_OCCUPANCY}`,
    );
  }
  return out;
}

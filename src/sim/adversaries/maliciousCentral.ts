/**
 * A malicious CS (issue 8, item 5; issue 9's first target).
 *
 * Sees: its own observations (each final command it executed, with the
 * mailbox / box id and the owner it associates with it, when it knows one;
 * each delivery it sent, to whom, real or dummy) and every link touching it
 * (arrival times, from which proxy). Nothing else, no truth.
 *
 * Copies: the final commands that carry group copies (`deliverToken` today,
 * `boxWrite` after issue 9; if neither exists, every final command except
 * `drop`). Person events: copies whose owner CS knows; without owners, the
 * real deliveries CS sends to a source.
 *
 * 1. Membership. Copies of one message diverge at P2 and reach CS after
 *    `hops_after_fanout` independent delays, so two members' events
 *    co-occur at gaps with density g (gapKernel). For each pair,
 *    S = Σ g(Δ) over their event pairs; with independent streams whose
 *    rate follows the overall rate λ(t) (measured over ±2 s, so bursts
 *    and attacks do not pass for correlation), E[S] = n_b Σ_{i∈a} λ(t_i) / N
 *    (symmetrised) and Var ≈ E ∫g²; the score is z = (S − E)/√Var,
 *    computed on the traffic up to each horizon.
 * 2. Siblings. For a copy, every other copy within g's support is scored
 *    log g(Δ) + log P(both owners share a group), the latter
 *    p = logistic(2(z − 3)) from the whole run.
 * 3. Sender. For a copy to o at t: each nearby copy j is a sibling with
 *    probability w_j = g·p / (g·p + ρ_j) (ρ_j: the rate of j's owner's
 *    events); a source s received a copy of this message with probability
 *    r_s = 1 − Π(1 − w_j); its affinity with the message's recipients is the
 *    weighted geometric mean of p(s, recipient). The sender is weighted
 *    affinity × (1 − r_s) when the protocol gives the sender no copy
 *    (public: `sender_gets_copy`), else affinity alone: "the member with no
 *    copy", learnt from the traffic instead of being handed the answer.
 */

import {
  type GapKernel,
  gapKernel,
  guessFromWeights,
  localRate,
  lowerBound,
  MIN_SCALE_MS,
  RATE_BAND_MS,
  sourceIds,
  upperBound,
} from './kernels.js';
import type {
  CentralView,
  MembershipGuess,
  NodeObservation,
  PairScore,
  SenderGuess,
  SiblingGuess,
} from './observation.js';

/** Horizons (ms of observation) at which membership is guessed by default: 15 s, 60 s, 10 min. */
export const DEFAULT_HORIZONS_MS = [15_000, 60_000, 600_000];
/** Final commands that carry group copies, most specific first. */
const COPY_OPS = ['deliverToken', 'boxWrite'];
/** z-score at which a pair counts as even odds of sharing a group. */
const MEMBERSHIP_Z0 = 3;
/** How fast the affinity goes from 0 to 1 around MEMBERSHIP_Z0 (per unit of z). */
const MEMBERSHIP_SLOPE = 2;
const SIBLINGS_LISTED = 20;

export interface MaliciousCentralOptions {
  horizonsMs?: number[];
  /** Override the final commands treated as copies. */
  copyOps?: string[];
}

export interface CopyEvent {
  /** CS input hash (the datagram that carried it). */
  hash: string;
  t: number;
  owner?: string;
}

export interface MaliciousCentralResult {
  copyOps: string[];
  /** Where person events came from. */
  personEvents: 'owner' | 'send' | 'none';
  candidates: string[];
  membership: MembershipGuess[];
  siblings: SiblingGuess[];
  senders: SenderGuess[];
  /** Full-run pair probabilities of sharing a group (for colluders). */
  affinity: Affinity;
}

export function chooseCopyOps(obs: NodeObservation[]): string[] {
  const ops = new Set(obs.map((o) => o.op));
  for (const op of COPY_OPS) if (ops.has(op)) return [op];
  return [...ops].filter((op) => op !== 'send' && op !== 'drop').sort();
}

export function copyEvents(obs: NodeObservation[], copyOps: string[]): CopyEvent[] {
  const ops = new Set(copyOps);
  const out: CopyEvent[] = [];
  for (const o of obs) {
    if (!ops.has(o.op) || o.in === undefined) continue;
    const c: CopyEvent = { hash: o.in, t: o.t };
    if (o.owner !== undefined) c.owner = o.owner;
    out.push(c);
  }
  return out.sort((a, b) => a.t - b.t);
}

interface PersonEvent {
  who: string;
  t: number;
}

/** Membership z-scores of every pair of `people` from their events, at each horizon (symmetric n × n). */
export function membershipScores(
  events: PersonEvent[],
  people: string[],
  kernel: GapKernel,
  startMs: number,
  endMs: number,
  horizonsMs: number[],
): Array<{ horizonMs: number; z: Float64Array }> {
  const idx = new Map(people.map((p, i) => [p, i] as const));
  const n = people.length;
  const S = new Float64Array(n * n);
  const count = new Float64Array(n);
  const sorted = events.filter((e) => idx.has(e.who)).sort((a, b) => a.t - b.t);
  const out: Array<{ horizonMs: number; z: Float64Array }> = [];
  const allTimes = Float64Array.from(sorted, (e) => e.t);
  const snapshot = (h: number) => {
    const until = startMs + h;
    const last = upperBound(allTimes, until);
    // Expected co-occurrence under independence given the overall rate at each event:
    // E_ab = (n_b·L_a + n_a·L_b) / 2N with L_a = Σ_{i∈a} λ(t_i), λ the local density of all events.
    const L = new Float64Array(n);
    for (let k = 0; k < last; k++) {
      L[idx.get(sorted[k].who) as number] += localRate(
        allTimes,
        sorted[k].t,
        RATE_BAND_MS,
        startMs,
        Math.min(until, endMs),
      );
    }
    const z = new Float64Array(n * n);
    for (let a = 0; a < n; a++) {
      for (let b = a + 1; b < n; b++) {
        const e = last > 0 ? (count[b] * L[a] + count[a] * L[b]) / (2 * last) : 0;
        const v = e * kernel.integralOfSquare;
        z[a * n + b] = z[b * n + a] = v > 0 ? (S[a * n + b] - e) / Math.sqrt(v) : 0;
      }
    }
    out.push({ horizonMs: h, z });
  };
  const horizons = [...horizonsMs].sort((a, b) => a - b);
  let hi = 0;
  let lo = 0;
  for (const e of sorted) {
    while (hi < horizons.length && e.t >= startMs + horizons[hi]) snapshot(horizons[hi++]);
    while (sorted[lo].t < e.t - kernel.supportMs) lo++;
    const b = idx.get(e.who) as number;
    count[b]++;
    for (let k = lo; sorted[k] !== e; k++) {
      const a = idx.get(sorted[k].who) as number;
      if (a === b) continue;
      const g = kernel.pdf(e.t - sorted[k].t);
      if (g <= 0) continue;
      const [x, y] = a < b ? [a, b] : [b, a];
      S[x * n + y] += g;
    }
  }
  while (hi < horizons.length) snapshot(horizons[hi++]);
  return out;
}

export function affinityFromZ(z: number): number {
  return 1 / (1 + Math.exp(-MEMBERSHIP_SLOPE * (z - MEMBERSHIP_Z0)));
}

/** Probability that two people share a group, as an n × n matrix over a fixed list of people. */
export class Affinity {
  readonly index: Map<string, number>;
  readonly n: number;
  /** log of the probability, floored at 1e-9; 0 on the diagonal. */
  readonly logP: Float64Array;

  constructor(
    readonly people: string[],
    readonly p: Float64Array,
  ) {
    this.n = people.length;
    this.index = new Map(people.map((x, i) => [x, i] as const));
    this.logP = Float64Array.from(p, (x) => Math.log(Math.max(1e-9, x)));
  }

  static fromZ(people: string[], z: Float64Array): Affinity {
    const n = people.length;
    const p = new Float64Array(n * n);
    for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) p[a * n + b] = a === b ? 1 : affinityFromZ(z[a * n + b]);
    return new Affinity(people, p);
  }

  get(a: string, b: string): number {
    if (a === b) return 1;
    const i = this.index.get(a);
    const j = this.index.get(b);
    return i === undefined || j === undefined ? 0 : this.p[i * this.n + j];
  }
}

/**
 * Sender posterior of a copy to `owner` at `t`, given other copies around it
 * (with their owners, and optionally a known probability of being a sibling),
 * pair affinities and each owner's event rate. Candidates are the
 * affinity's people.
 */
export function senderFromSiblings(
  copy: { hash: string; t: number; owner: string },
  nearby: Array<{ t: number; owner: string; weight?: number }>,
  affinity: Affinity,
  ratePerMs: (who: string) => number,
  kernel: GapKernel,
  senderGetsCopy: boolean,
): SenderGuess {
  const n = affinity.n;
  const own = affinity.index.get(copy.owner);
  const logAff = new Float64Array(n);
  const notReceived = new Float64Array(n).fill(1);
  let wSum = 0;
  const addRecipient = (ri: number, w: number) => {
    wSum += w;
    const row = ri * n;
    for (let s = 0; s < n; s++) logAff[s] += w * affinity.logP[row + s];
    notReceived[ri] *= 1 - w;
  };
  if (own !== undefined) addRecipient(own, 1);
  for (const j of nearby) {
    if (j.owner === copy.owner) continue;
    const ri = affinity.index.get(j.owner);
    if (ri === undefined) continue;
    let w = j.weight;
    if (w === undefined) {
      const g = kernel.pdf(j.t - copy.t) * affinity.get(copy.owner, j.owner);
      w = g / (g + Math.max(1e-12, ratePerMs(j.owner)));
    }
    if (!(w > 0.01)) continue;
    addRecipient(ri, Math.min(1, w));
  }
  const weights = new Float64Array(n);
  for (let s = 0; s < n; s++) {
    const aff = wSum > 0 ? Math.exp(logAff[s] / wSum) : 1;
    weights[s] = aff * (senderGetsCopy ? 1 : notReceived[s]) + 1e-12;
  }
  return guessFromWeights(copy.hash, affinity.people, weights);
}

export function maliciousCentral(view: CentralView, options: MaliciousCentralOptions = {}): MaliciousCentralResult {
  const pub = view.public;
  const net = pub.network;
  const candidates = sourceIds(pub.endpoints);
  const copyOps = options.copyOps ?? chooseCopyOps(view.obs);
  const copies = copyEvents(view.obs, copyOps);
  let people: PersonEvent[] = copies
    .filter((c) => c.owner !== undefined)
    .map((c) => ({ who: c.owner as string, t: c.t }));
  let personEvents: MaliciousCentralResult['personEvents'] = 'owner';
  let scale = Math.max(MIN_SCALE_MS, net.mu_ms);
  if (people.length === 0) {
    personEvents = 'send';
    people = view.obs
      .filter((o) => o.op === 'send' && o.real !== false && o.out && o.out.length > 0)
      .map((o) => ({ who: (o.out as NonNullable<typeof o.out>)[0].to, t: o.t }));
    if (net.delivery_per_s > 0) scale = Math.max(scale, 500 / net.delivery_per_s);
    if (people.length === 0) personEvents = 'none';
  }
  const kernel = gapKernel(net.hops_after_fanout, scale);
  const duration = pub.endMs - pub.startMs;
  const horizons = [...(options.horizonsMs ?? DEFAULT_HORIZONS_MS).filter((h) => h < duration), duration];
  const scores = membershipScores(people, candidates, kernel, pub.startMs, pub.endMs, horizons);
  const n = candidates.length;
  const membership: MembershipGuess[] = scores.map((s) => {
    const pairs: PairScore[] = [];
    for (let a = 0; a < n; a++)
      for (let b = a + 1; b < n; b++) pairs.push({ a: candidates[a], b: candidates[b], score: s.z[a * n + b] });
    return { horizonMs: s.horizonMs, pairs };
  });
  const affinity = Affinity.fromZ(candidates, scores[scores.length - 1].z);
  const perOwner = new Map<string, number>();
  for (const p of people) perOwner.set(p.who, (perOwner.get(p.who) ?? 0) + 1);
  const ratePerMs = (who: string) => (perOwner.get(who) ?? 0) / Math.max(1, duration);

  const times = Float64Array.from(copies, (c) => c.t);
  const siblings: SiblingGuess[] = [];
  const senders: SenderGuess[] = [];
  copies.forEach((c, i) => {
    const lo = lowerBound(times, c.t - kernel.supportMs);
    const ranked: Array<[string, number]> = [];
    const nearby: Array<{ t: number; owner: string }> = [];
    for (let j = lo; j < copies.length && times[j] <= c.t + kernel.supportMs; j++) {
      if (j === i) continue;
      const o = copies[j];
      if (c.owner !== undefined && o.owner === c.owner) continue;
      const g = kernel.pdf(o.t - c.t);
      if (!(g > 0)) continue;
      const p = c.owner !== undefined && o.owner !== undefined ? affinity.get(c.owner, o.owner) : 1;
      ranked.push([o.hash, Math.log(g) + Math.log(Math.max(1e-9, p))]);
      if (o.owner !== undefined) nearby.push({ t: o.t, owner: o.owner });
    }
    ranked.sort((a, b) => b[1] - a[1]);
    siblings.push({ event: c.hash, ranked: ranked.slice(0, SIBLINGS_LISTED) });
    senders.push(
      c.owner === undefined
        ? guessFromWeights(c.hash, candidates, new Float64Array(candidates.length))
        : senderFromSiblings(
            { hash: c.hash, t: c.t, owner: c.owner },
            nearby,
            affinity,
            ratePerMs,
            kernel,
            net.sender_gets_copy,
          ),
    );
  });
  return { copyOps, personEvents, candidates, membership, siblings, senders, affinity };
}

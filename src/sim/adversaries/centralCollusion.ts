/**
 * CS colluding with k proxies (issue 8, item 5; default k = 1).
 *
 * Sees: what the malicious CS sees, plus the colluding proxies' own
 * observations (input hash → output hashes, next hops, chosen delays, the
 * command executed, the group key a fan-out bundle shows in clear) and every
 * link touching them. Nothing else.
 *
 * When a colluding proxy is a message's P2, its fan-out names every copy
 * (one input, many outputs), so the copies are joined exactly. Each copy is
 * followed to its CS arrival: exactly when its P3 colludes too, else by
 * timing through P3 (shifted exponential of the public μ; the shift is the
 * lag the colluding proxies measure on their own forwarding). Then:
 *  - if the bundle's P1 colludes as well, P1 saw the sender: exact;
 *  - else the group key in clear links all bundles of one group over time,
 *    so the union of their recipients is the group; the sender is the
 *    member without a copy (or any member, if senders get copies);
 *  - without a key, CS's own membership affinities replace the key group.
 * Copies not linked to a colluding P2 fall back to the malicious-CS
 * posterior. A colluding P1 behind an honest P2 is not exploited (known gap:
 * it would need timing through two honest delays).
 */

import { getOrInsert } from '../getOrInsert.js';
import {
  type DelayKernel,
  type GapKernel,
  gapKernel,
  guessFromWeights,
  kernelLogPdf,
  kernelSupport,
  lowerBound,
  MIN_SCALE_MS,
} from './kernels.js';
import { type MaliciousCentralOptions, maliciousCentral, senderFromSiblings } from './maliciousCentral.js';
import type { CentralView, CollusionView, LinkEvent, NodeObservation, SenderGuess } from './observation.js';

export interface CollusionResult {
  colluders: string[];
  candidates: string[];
  /** One per copy CS received (event = CS input hash). */
  senders: SenderGuess[];
  /** Fan-outs seen at colluding proxies. */
  fanoutsSeen: number;
  /** Of those, bundles whose sender a colluding P1 named. */
  sendersNamedByP1: number;
}

function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

function expand(g: SenderGuess, candidates: string[]): Float64Array {
  const w = new Float64Array(candidates.length);
  const listed = new Map(g.ranked);
  const rest = g.rest.count > 0 ? g.rest.mass / g.rest.count : 0;
  candidates.forEach((c, i) => {
    w[i] = listed.get(c) ?? rest;
  });
  return w;
}

export function centralCollusion(view: CollusionView, options: MaliciousCentralOptions = {}): CollusionResult {
  const cs = view.central;
  const colluding = new Set(view.proxies);
  const csView: CentralView = {
    public: view.public,
    central: cs,
    links: view.links.filter((e) => e.from === cs || e.to === cs),
    obs: view.obs.filter((o) => o.node === cs),
  };
  const base = maliciousCentral(csView, options);
  const candidates = base.candidates;
  const roles = new Map(view.public.endpoints.map((e) => [e.id, e.role] as const));
  const link = new Map<string, LinkEvent>(view.links.map((e) => [e.hash, e] as const));
  const proxyObs = view.obs.filter((o) => colluding.has(o.node));
  const byOut = new Map<string, NodeObservation>();
  const byIn = new Map<string, NodeObservation>();
  for (const o of proxyObs) {
    if (o.in !== undefined) byIn.set(o.in, o);
    for (const x of o.out ?? []) byOut.set(x.hash, o);
  }
  // The colluders' own forwarding lag beyond the chosen delay: latency + processing.
  const lags: number[] = [];
  for (const o of proxyObs) {
    const inLink = o.in === undefined ? undefined : link.get(o.in);
    if (!inLink) continue;
    for (const x of o.out ?? []) {
      const outLink = link.get(x.hash);
      if (outLink && x.delayMs !== undefined) lags.push(outLink.t - inLink.t - x.delayMs);
    }
  }
  const hop: DelayKernel = {
    shift: Math.max(0, median(lags)),
    shape: 1,
    scale: Math.max(MIN_SCALE_MS, view.public.network.mu_ms),
  };
  const hopSupport = kernelSupport(hop);

  // CS arrivals by the proxy they came from, and the owner CS learnt for each.
  const copyOwner = new Map<string, string | undefined>();
  for (const o of csView.obs) if (o.in !== undefined && base.copyOps.includes(o.op)) copyOwner.set(o.in, o.owner);
  const arrivals = new Map<string, LinkEvent[]>();
  for (const e of csView.links) {
    if (e.to !== cs || !copyOwner.has(e.hash)) continue;
    const a = getOrInsert(arrivals, e.from, () => []);
    a.push(e);
  }
  const arrivalTimes = new Map([...arrivals].map(([p, a]) => [p, Float64Array.from(a, (e) => e.t)] as const));

  /**
   * Where a copy leaving a colluding P2 reached CS: CS input hash → probability, from P3's delay
   * and a prior on the owner of each candidate arrival.
   */
  const copyArrival = (hash: string, p3: string, prior: (owner: string | undefined) => number): Map<string, number> => {
    const out = new Map<string, number>();
    if (colluding.has(p3)) {
      const relay = byIn.get(hash);
      const next = relay?.out?.[0]?.hash;
      if (next !== undefined && copyOwner.has(next)) out.set(next, 1);
      return out;
    }
    const sent = link.get(hash);
    const list = arrivals.get(p3);
    const times = arrivalTimes.get(p3);
    if (!sent || !list || !times) return out;
    let z = 0;
    const w: Array<[string, number]> = [];
    for (let i = lowerBound(times, sent.t); i < times.length && times[i] <= sent.t + hopSupport; i++) {
      const x = Math.exp(kernelLogPdf(hop, times[i] - sent.t)) * prior(copyOwner.get(list[i].hash));
      if (x > 0) {
        w.push([list[i].hash, x]);
        z += x;
      }
    }
    for (const [h, x] of w) out.set(h, x / z);
    return out;
  };

  interface Bundle {
    key?: string;
    /** Outputs of the fan-out: (copy hash, next hop). */
    outs: Array<{ hash: string; to: string }>;
    /** Per copy: CS input hash → probability that the copy arrived as it. */
    copies: Array<Map<string, number>>;
    received: Map<string, number>;
    exactSender?: string;
  }
  /** Probability that each owner got a copy of the bundle (the copies go to distinct owners). */
  const receivedBy = (copies: Array<Map<string, number>>): Map<string, number> => {
    const notReceived = new Map<string, number>();
    for (const c of copies) {
      for (const [h, p] of c) {
        const owner = copyOwner.get(h);
        if (owner !== undefined) notReceived.set(owner, (notReceived.get(owner) ?? 1) * (1 - p));
      }
    }
    return new Map([...notReceived].map(([s, q]) => [s, 1 - q] as const));
  };
  const bundles: Bundle[] = [];
  let sendersNamedByP1 = 0;
  for (const f of proxyObs) {
    if (f.op !== 'fanout' || !f.out) continue;
    const outs = f.out.map((x) => ({ hash: x.hash, to: x.to }));
    const copies = outs.map((x) => copyArrival(x.hash, x.to, () => 1));
    const b: Bundle = { outs, copies, received: receivedBy(copies) };
    if (f.key !== undefined) b.key = f.key;
    // A colluding P1 in front: it saw which source handed it this bundle.
    const bundleLink = f.in === undefined ? undefined : link.get(f.in);
    if (bundleLink && colluding.has(bundleLink.from)) {
      const relay = byOut.get(bundleLink.hash);
      const first = relay?.in === undefined ? undefined : link.get(relay.in);
      if (first && roles.get(first.from) === 'source') {
        b.exactSender = first.from;
        sendersNamedByP1++;
      }
    }
    bundles.push(b);
  }
  // Group key → members. A member receives copies of most bundles under its group's key, a stranger
  // only by a timing mix-up: membership = expected copies received, relative to the best-served
  // owner (half of that counts as certain); a sender a colluding P1 named is a member.
  const keyMembers = new Map<string, Map<string, number>>();
  const keyBundles = new Map<string, Bundle[]>();
  for (const b of bundles) if (b.key !== undefined) getOrInsert(keyBundles, b.key, () => []).push(b);
  for (const [key, list] of keyBundles) {
    const expected = new Map<string, number>();
    for (const b of list) for (const [s, p] of b.received) expected.set(s, (expected.get(s) ?? 0) + p);
    const top = Math.max(1e-9, ...expected.values());
    const m = new Map([...expected].map(([s, e]) => [s, Math.min(1, e / (0.5 * top))] as const));
    for (const b of list) if (b.exactSender) m.set(b.exactSender, 1);
    keyMembers.set(key, m);
    // Second pass: a copy more likely reached a member of its bundle's group.
    for (const b of list) {
      b.copies = b.outs.map((x) => copyArrival(x.hash, x.to, (o) => 0.02 + (o === undefined ? 0 : (m.get(o) ?? 0))));
      b.received = receivedBy(b.copies);
    }
  }
  const senderGetsCopy = view.public.network.sender_gets_copy;
  const kernel: GapKernel = gapKernel(view.public.network.hops_after_fanout, hop.scale);
  const bundlePosterior = (b: Bundle): Float64Array => {
    if (b.exactSender !== undefined) {
      return Float64Array.from(candidates, (c) => (c === b.exactSender ? 1 : 0));
    }
    const members = b.key === undefined ? undefined : keyMembers.get(b.key);
    if (members) {
      const w = Float64Array.from(
        candidates,
        (c) => (members.get(c) ?? 0) * (senderGetsCopy ? 1 : 1 - (b.received.get(c) ?? 0)) + 1e-9,
      );
      return expand(guessFromWeights('', candidates, w), candidates);
    }
    // No key: CS's affinities around the (exactly joined) recipients.
    const owners = [...b.received].filter(([, p]) => p > 0.5);
    if (owners.length === 0) return new Float64Array(candidates.length).fill(1 / candidates.length);
    const [first, ...rest] = owners;
    const g = senderFromSiblings(
      { hash: '', t: 0, owner: first[0] },
      rest.map(([owner, weight]) => ({ t: 0, owner, weight })),
      base.affinity,
      () => 1,
      kernel,
      senderGetsCopy,
    );
    return expand(g, candidates);
  };

  // Which bundle each CS arrival came from (mass), from the copies' forward distributions.
  const fromBundle = new Map<string, Array<[Bundle, number]>>();
  for (const b of bundles) {
    for (const c of b.copies) {
      for (const [h, p] of c) {
        const l = getOrInsert(fromBundle, h, () => []);
        l.push([b, p]);
      }
    }
  }
  const posteriorCache = new Map<Bundle, Float64Array>();
  const senders = base.senders.map((g) => {
    const links = fromBundle.get(g.event);
    if (!links) return g;
    let mass = 0;
    for (const [, p] of links) mass += p;
    const scale = mass > 1 ? 1 / mass : 1;
    const w = expand(g, candidates);
    for (let i = 0; i < w.length; i++) w[i] *= Math.max(0, 1 - mass * scale);
    for (const [b, p] of links) {
      const post = getOrInsert(posteriorCache, b, () => bundlePosterior(b));
      for (let i = 0; i < w.length; i++) w[i] += p * scale * post[i];
    }
    return guessFromWeights(g.event, candidates, w);
  });
  return { colluders: [...view.proxies], candidates, senders, fanoutsSeen: bundles.length, sendersNamedByP1 };
}

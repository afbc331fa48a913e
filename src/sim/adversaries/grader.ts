/**
 * The grader: the only reader of ground truth (with the gift builder). It
 * scores what adversaries answered against the trace's `truth` records,
 * matching by packet hash and message id, never by time.
 *
 * Sender posteriors: every guess is attached to an observed event; the
 * grader scores the events that truly carry a real message against that
 * message's sender (events that carry cover, loops or dummies are not
 * scored, but the adversary had to answer them too, not knowing which they
 * were). A message's score is the mean over its scored events, so each
 * message counts once whatever its number of copies; figures are over
 * messages. Ties are scored by their expected value: top-k scores
 * (k − #better) / #tied, clamped to [0, 1].
 */

import { getOrInsert } from '../getOrInsert.js';
import { type AucEstimate, aucWithInterval } from '../stats.js';
import type { Trace, TruthMessageRecord, TruthPacketRecord } from '../trace.js';
import type { AttributionGuess, PairScore, SenderGuess, SiblingGuess } from './observation.js';

export interface TruthIndex {
  /** Every hop hash of every truth packet. */
  byHash: Map<string, TruthPacketRecord>;
  messages: Map<string, TruthMessageRecord>;
  /** Fan-out node of each message's bundle(s). */
  fanoutNodes: Map<string, Set<string>>;
  /** Membership snapshots by group, in time order. */
  memberships: Map<string, Array<{ t: number; members: string[] }>>;
}

export function indexTruth(trace: Trace): TruthIndex {
  const byHash = new Map<string, TruthPacketRecord>();
  for (const p of trace.truth.packets) for (const h of p.hops) byHash.set(h.hash, p);
  const messages = new Map(trace.truth.messages.map((m) => [m.id, m] as const));
  const fanoutNodes = new Map<string, Set<string>>();
  for (const f of trace.truth.fanouts) {
    if (f.msg === undefined) continue;
    const s = getOrInsert(fanoutNodes, f.msg, () => new Set());
    s.add(f.node);
  }
  const memberships = new Map<string, Array<{ t: number; members: string[] }>>();
  for (const r of [...trace.truth.memberships].sort((a, b) => a.t - b.t)) {
    const list = getOrInsert(memberships, r.group, () => []);
    list.push({ t: r.t, members: r.members });
  }
  return { byHash, messages, fanoutNodes, memberships };
}

/** The real message an observed event carries, if any. */
export function messageOf(idx: TruthIndex, hash: string): TruthMessageRecord | undefined {
  const p = idx.byHash.get(hash);
  if (p?.kind !== 'real' || p.msg === undefined) return undefined;
  return idx.messages.get(p.msg);
}

/** Tie-aware top-k score of `truth` under a compact posterior. */
export function topKScore(g: SenderGuess, truth: string, k: number): number {
  const eq = (a: number, b: number) => Math.abs(a - b) <= 1e-12 * Math.max(a, b, 1e-300);
  const restP = g.rest.count > 0 ? g.rest.mass / g.rest.count : 0;
  const listed = g.ranked.find(([c]) => c === truth);
  const p = listed ? listed[1] : restP;
  if (!listed && g.rest.count === 0) return 0;
  let better = 0;
  let tied = 0;
  for (const [, q] of g.ranked) {
    if (eq(q, p)) tied++;
    else if (q > p) better++;
  }
  if (g.rest.count > 0) {
    if (eq(restP, p)) tied += g.rest.count;
    else if (restP > p) better += g.rest.count - (listed ? 0 : 1);
  }
  if (tied === 0) tied = 1;
  return Math.min(1, Math.max(0, (k - better) / tied));
}

export interface SenderScores {
  /** Per scored message (same order in every array). */
  messages: string[];
  top1: number[];
  top3: number[];
  entropyBits: number[];
  /** The chance top-1 score of each message under the adversary's stated baseline. */
  baseline: number[];
  /** Observed events that carried a real message and were scored. */
  events: number;
}

export interface SenderGradeOptions {
  /** Only messages passing this are scored (e.g. those whose P2 was corrupt). */
  filter?: (m: TruthMessageRecord) => boolean;
  /** Chance top-1 score of a message (default 1 / candidates). */
  baseline?: (m: TruthMessageRecord) => number;
  candidates: number;
}

export function gradeSenderGuesses(guesses: SenderGuess[], idx: TruthIndex, o: SenderGradeOptions): SenderScores {
  const per = new Map<string, { top1: number; top3: number; h: number; n: number }>();
  let events = 0;
  for (const g of guesses) {
    const m = messageOf(idx, g.event);
    if (!m || (o.filter && !o.filter(m))) continue;
    events++;
    const acc = getOrInsert(per, m.id, () => ({ top1: 0, top3: 0, h: 0, n: 0 }));
    acc.top1 += topKScore(g, m.sender, 1);
    acc.top3 += topKScore(g, m.sender, 3);
    acc.h += g.entropyBits;
    acc.n++;
  }
  const out: SenderScores = { messages: [], top1: [], top3: [], entropyBits: [], baseline: [], events };
  for (const [id, a] of per) {
    const m = idx.messages.get(id) as TruthMessageRecord;
    out.messages.push(id);
    out.top1.push(a.top1 / a.n);
    out.top3.push(a.top3 / a.n);
    out.entropyBits.push(a.h / a.n);
    out.baseline.push(o.baseline ? o.baseline(m) : o.candidates > 0 ? 1 / o.candidates : 0);
  }
  return out;
}

export interface SiblingScores {
  /** Per message: mean over its scored copies of "the top-ranked other event is a sibling" (tie-aware). */
  top1: number[];
  /** Per message: the same for a uniform pick among the events the adversary listed. */
  baseline: number[];
  /** Pairs (event, listed event), deduplicated, split by truth. */
  auc: AucEstimate;
}

export function gradeSiblings(guesses: SiblingGuess[], idx: TruthIndex): SiblingScores {
  const per = new Map<string, { hit: number; base: number; n: number }>();
  const pos: number[] = [];
  const neg: number[] = [];
  const seen = new Set<string>();
  for (const g of guesses) {
    const m = messageOf(idx, g.event);
    if (!m) continue;
    const own = idx.byHash.get(g.event) as TruthPacketRecord;
    const same = (h: string) => {
      const p = idx.byHash.get(h);
      return p !== undefined && p.kind === 'real' && p.msg === m.id && p.id !== own.id;
    };
    // A copy whose message had no other copy has no sibling to find.
    if (m.recipients.length < 2) continue;
    const acc = getOrInsert(per, m.id, () => ({ hit: 0, base: 0, n: 0 }));
    acc.n++;
    if (g.ranked.length > 0) {
      const best = g.ranked[0][1];
      const top = g.ranked.filter(([, s]) => s === best);
      acc.hit += top.filter(([h]) => same(h)).length / top.length;
      acc.base += g.ranked.filter(([h]) => same(h)).length / g.ranked.length;
    }
    for (const [h, s] of g.ranked) {
      const key = g.event < h ? `${g.event}|${h}` : `${h}|${g.event}`;
      if (seen.has(key)) continue;
      seen.add(key);
      (same(h) ? pos : neg).push(s);
    }
  }
  const top1: number[] = [];
  const baseline: number[] = [];
  for (const a of per.values()) {
    top1.push(a.hit / a.n);
    baseline.push(a.base / a.n);
  }
  return { top1, baseline, auc: aucWithInterval(pos, neg) };
}

/** Unordered pairs of endpoints that shared a group at some time up to `untilMs`. */
export function sharedGroupPairs(idx: TruthIndex, untilMs: number): Set<string> {
  const pairs = new Set<string>();
  for (const snaps of idx.memberships.values()) {
    for (const s of snaps) {
      if (s.t > untilMs) break;
      for (const a of s.members) for (const b of s.members) if (a < b) pairs.add(`${a}|${b}`);
    }
  }
  return pairs;
}

/** AUC of unordered membership pair scores against "shared a group by `untilMs`". */
export function gradeMembership(pairs: PairScore[], idx: TruthIndex, untilMs: number): AucEstimate {
  const truth = sharedGroupPairs(idx, untilMs);
  const pos: number[] = [];
  const neg: number[] = [];
  for (const p of pairs) {
    const key = p.a < p.b ? `${p.a}|${p.b}` : `${p.b}|${p.a}`;
    (truth.has(key) ? pos : neg).push(p.score);
  }
  return aucWithInterval(pos, neg);
}

/** Directed pairs (sender, recipient) of every real message. */
export function contactPairs(idx: TruthIndex): Set<string> {
  const s = new Set<string>();
  for (const m of idx.messages.values()) for (const r of m.recipients) s.add(`${m.sender}|${r}`);
  return s;
}

/** AUC of directed contact scores a → b against "a sent b a real message". */
export function gradeContacts(pairs: PairScore[], idx: TruthIndex): AucEstimate {
  const truth = contactPairs(idx);
  const pos: number[] = [];
  const neg: number[] = [];
  for (const p of pairs) (truth.has(`${p.a}|${p.b}`) ? pos : neg).push(p.score);
  return aucWithInterval(pos, neg);
}

export interface AttributionScores {
  /** Per real delivery attributed to the target (pTarget > 0.5): 1 if it carried the target's message. */
  precision: number[];
  /** Share of all scored real deliveries that carried the target's messages. */
  baseRate: number;
  /** Real deliveries scored. */
  scored: number;
  /** pTarget of the target's deliveries against everyone else's. */
  auc: AucEstimate;
}

export function gradeAttribution(guesses: AttributionGuess[], idx: TruthIndex, target: string): AttributionScores {
  const precision: number[] = [];
  const pos: number[] = [];
  const neg: number[] = [];
  for (const g of guesses) {
    const m = messageOf(idx, g.event);
    if (!m) continue;
    const mine = m.sender === target;
    (mine ? pos : neg).push(g.pTarget);
    if (g.pTarget > 0.5) precision.push(mine ? 1 : 0);
  }
  const scored = pos.length + neg.length;
  return { precision, baseRate: scored ? pos.length / scored : 0, scored, auc: aucWithInterval(pos, neg) };
}

/** AUC of the target's contact scores against "the target sent this source a real message". */
export function gradeTargetContacts(pairs: PairScore[], idx: TruthIndex, target: string): AucEstimate {
  const truth = contactPairs(idx);
  const pos: number[] = [];
  const neg: number[] = [];
  for (const p of pairs) {
    if (p.a !== target || p.b === target) continue;
    (truth.has(`${target}|${p.b}`) ? pos : neg).push(p.score);
  }
  return aucWithInterval(pos, neg);
}

/** Mean group size (members) of a message's group at its send time: the chance level of an adversary told the group. */
export function groupSizeAt(idx: TruthIndex, m: TruthMessageRecord): number {
  const snaps = idx.memberships.get(m.group);
  if (!snaps) return m.recipients.length + 1;
  let members = snaps[0].members;
  for (const s of snaps) if (s.t <= m.sentAt) members = s.members;
  return members.length;
}

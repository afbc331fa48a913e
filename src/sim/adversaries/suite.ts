/**
 * Runs every adversary on a trace, grades them, and pools runs (seeds) into
 * the report (docs/simulation.md, "Adversary suite"). Each adversary gets
 * only its own view (views.ts); the grader alone reads truth; a gifted
 * adversary is reported with its gifts.
 */

import { type MixLoadSummary, mixLoad } from '../mixOccupancy.js';
import { type AucEstimate, aucFigure, type Figure, mean, meanFigure, pooledAuc, proportionFigure } from '../stats.js';
import type { Trace } from '../trace.js';
import { activeAnalysis } from './activeAnalysis.js';
import { centralCollusion } from './centralCollusion.js';
import { edgeDisclosure } from './edgeDisclosure.js';
import { giftedCentral } from './giftedCentral.js';
import { centralGift } from './gifts.js';
import { globalEndToEnd } from './globalEndToEnd.js';
import { globalHopByHop } from './globalHopByHop.js';
import {
  gradeAttribution,
  gradeContacts,
  gradeMembership,
  gradeSenderGuesses,
  gradeSiblings,
  gradeTargetContacts,
  groupSizeAt,
  indexTruth,
  type SenderScores,
} from './grader.js';
import { maliciousCentral } from './maliciousCentral.js';
import { activeView, attacksIn, centralView, collusionView, edgeView, firstProxies, globalView } from './views.js';

/** Scored messages below which a figure is flagged (issue 8: at least 500 by default). */
export const MIN_SCORED_MESSAGES = 500;

export interface SuiteOptions {
  /** Colluding proxies: how many (the first ones in endpoint order) or which. Default 1. */
  colluders?: number | string[];
  /** Membership horizons of the malicious CS (ms). Default 15 s, 60 s, 10 min (and the whole run). */
  horizonsMs?: number[];
  /** Cap on events each GPA adversary analyses (deterministic subsample by hash). */
  maxEvents?: number;
  /** Alarm names that count as "the network noticed" (default: every alarm). */
  alarmNames?: string[];
  /** Alarms raised, read from the nodes' metrics by the caller; overrides the trace's alarm records. */
  alarmsRaised?: number;
}

export interface SenderSample extends SenderScores {
  candidates: number;
}

/** One run's graded samples, kept raw so that runs can be pooled. */
export interface SuiteRun {
  seed: number;
  durationMs: number;
  messages: number;
  endToEnd: SenderSample;
  hopByHop: SenderSample & { joinedDeliveries: number };
  edge: { contacts: AucEstimate; membership: AucEstimate };
  central: {
    copyOps: string[];
    personEvents: string;
    membership: Array<{ horizonMs: number; auc: AucEstimate }>;
    siblingTop1: number[];
    siblingBaseline: number[];
    siblingAuc: AucEstimate;
    sender: SenderSample;
  };
  collusion: {
    colluders: string[];
    proxies: number;
    sender: SenderSample;
    senderCorruptP2: SenderSample;
    /** Per message: 1 if its fan-out ran on a colluding proxy. */
    throughCorruptP2: number[];
    fanoutsSeen: number;
    sendersNamedByP1: number;
  };
  gifted: { gifts: string[]; sender: SenderSample };
  active: Array<{
    attack: string;
    target: string;
    precision: number[];
    baseRate: number;
    scored: number;
    attribution: AucEstimate;
    contacts: AucEstimate;
    othersDroppedShare: number;
    held: number;
    alarms: number;
    firstAlarmAfterMs: number | null;
  }>;
  mix: MixLoadSummary;
  params: { mu_ms: number; lambda_per_s: number };
}

function senderSample(s: SenderScores, candidates: number): SenderSample {
  return { ...s, candidates };
}

export function runSuite(trace: Trace, options: SuiteOptions = {}): SuiteRun {
  const idx = indexTruth(trace);
  const maxEvents = options.maxEvents;
  const nSources = trace.meta.endpoints.filter((e) => e.role === 'source').length;
  const e2e = globalEndToEnd(globalView(trace), { maxEvents });
  const hbh = globalHopByHop(globalView(trace), { maxEvents });
  const sda = edgeDisclosure(edgeView(trace), { maxEvents });
  const cs = maliciousCentral(centralView(trace), { horizonsMs: options.horizonsMs });
  const colluders =
    typeof options.colluders === 'object' ? options.colluders : firstProxies(trace, options.colluders ?? 1);
  const col = centralCollusion(collusionView(trace, colluders), { horizonsMs: options.horizonsMs });
  const gifted = giftedCentral(centralView(trace), centralGift(trace));
  const start = typeof trace.meta.run.start_ms === 'number' ? trace.meta.run.start_ms : 0;
  const siblings = gradeSiblings(cs.siblings, idx);
  const corrupt = new Set(colluders);
  const corruptP2 = (id: string) => [...(idx.fanoutNodes.get(id) ?? [])].some((n) => corrupt.has(n));
  const active: SuiteRun['active'] = [];
  for (const name of attacksIn(trace)) {
    const view = activeView(trace, name);
    if (!view) continue;
    const r = activeAnalysis(view);
    const graded = gradeAttribution(r.attributions, idx, r.target);
    const alarms = trace.alarms.filter(
      (a) => a.t >= r.startMs && (options.alarmNames === undefined || options.alarmNames.includes(a.name)),
    );
    active.push({
      attack: name,
      target: r.target,
      precision: graded.precision,
      baseRate: graded.baseRate,
      scored: graded.scored,
      attribution: graded.auc,
      contacts: gradeTargetContacts(r.contacts, idx, r.target),
      othersDroppedShare: r.othersDroppedShare,
      held: r.held,
      alarms: options.alarmsRaised ?? alarms.length,
      firstAlarmAfterMs: alarms.length ? alarms[0].t - r.startMs : null,
    });
  }
  return {
    seed: trace.meta.run.seed,
    durationMs: trace.meta.run.duration_ms,
    messages: idx.messages.size,
    endToEnd: senderSample(gradeSenderGuesses(e2e.guesses, idx, { candidates: nSources }), nSources),
    hopByHop: {
      ...senderSample(gradeSenderGuesses(hbh.guesses, idx, { candidates: nSources }), nSources),
      joinedDeliveries: hbh.joinedDeliveries,
    },
    edge: {
      contacts: gradeContacts(sda.contacts, idx),
      membership: gradeMembership(sda.membership, idx, start + trace.meta.run.duration_ms),
    },
    central: {
      copyOps: cs.copyOps,
      personEvents: cs.personEvents,
      membership: cs.membership.map((m) => ({
        horizonMs: m.horizonMs,
        auc: gradeMembership(m.pairs, idx, start + m.horizonMs),
      })),
      siblingTop1: siblings.top1,
      siblingBaseline: siblings.baseline,
      siblingAuc: siblings.auc,
      sender: senderSample(gradeSenderGuesses(cs.senders, idx, { candidates: nSources }), nSources),
    },
    collusion: {
      colluders,
      proxies: trace.meta.endpoints.filter((e) => e.role === 'proxy').length,
      sender: senderSample(gradeSenderGuesses(col.senders, idx, { candidates: nSources }), nSources),
      senderCorruptP2: senderSample(
        gradeSenderGuesses(col.senders, idx, { candidates: nSources, filter: (m) => corruptP2(m.id) }),
        nSources,
      ),
      throughCorruptP2: [...idx.messages.keys()]
        .filter((id) => idx.fanoutNodes.has(id))
        .map((id) => (corruptP2(id) ? 1 : 0)),
      fanoutsSeen: col.fanoutsSeen,
      sendersNamedByP1: col.sendersNamedByP1,
    },
    gifted: {
      gifts: [...gifted.gifts],
      sender: senderSample(
        gradeSenderGuesses(gifted.senders, idx, { candidates: nSources, baseline: (m) => 1 / groupSizeAt(idx, m) }),
        nSources,
      ),
    },
    active,
    mix: mixLoad(
      trace.meta.endpoints,
      trace.links,
      trace.obs,
      start,
      start + trace.meta.run.duration_ms,
      trace.meta.network.mu_ms,
    ),
    params: { mu_ms: trace.meta.network.mu_ms, lambda_per_s: trace.meta.network.lambda_per_s },
  };
}

// ---- the report ------------------------------------------------------------

export interface AdversaryReport {
  name: string;
  /** What this adversary sees, in one line. */
  sees: string;
  /** Ground truth it was handed; empty for every honest adversary. */
  gifts: string[];
  figures: Record<string, Figure>;
  /** Counts and flags that are not estimates. */
  facts: Record<string, number | string | boolean | null>;
}

export interface SuiteReport {
  version: 1;
  runs: Array<{ seed: number; duration_ms: number; messages: number }>;
  mix: {
    mu_ms: number;
    lambda_per_s: number;
    per_hop_delay_ms: number;
    packets_in_mix: number;
    proxies_below_knee: number;
    knee_packets: number;
  };
  adversaries: AdversaryReport[];
  /** Figures resting on fewer than MIN_SCORED_MESSAGES messages, and similar caveats. */
  warnings: string[];
}

const UNIFORM = (n: number) => `uniform over ${n} sources`;

function pooledSender(
  samples: SenderSample[],
  seed: number,
  baselineIs: (n: number) => string = UNIFORM,
): Record<string, Figure> {
  const top1 = samples.flatMap((s) => s.top1);
  const top3 = samples.flatMap((s) => s.top3);
  const entropy = samples.flatMap((s) => s.entropyBits);
  const n = Math.round(mean(samples.map((s) => s.candidates)));
  const base1 = mean(samples.flatMap((s) => s.baseline));
  return {
    sender_top1: proportionFigure(top1, base1, baselineIs(n), 'messages'),
    sender_top3: proportionFigure(top3, Math.min(1, 3 * base1), baselineIs(n), 'messages'),
    entropy_bits: meanFigure(
      entropy,
      n > 0 ? Math.log2(n) : 0,
      `log2 of ${n} sources (no information)`,
      'messages',
      seed,
    ),
  };
}

function horizonLabel(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}min` : `${Math.round(ms / 1000)}s`;
}

export function summarizeSuite(runs: SuiteRun[], seed = 1): SuiteReport {
  if (runs.length === 0) throw new RangeError('no runs to summarize');
  const warnings: string[] = [];
  const adversaries: AdversaryReport[] = [];
  const check = (name: string, figures: Record<string, Figure>) => {
    const thin = Object.entries(figures).filter(([, f]) => f.unit === 'messages' && f.n < MIN_SCORED_MESSAGES);
    if (thin.length === 0) return;
    const n = Math.min(...thin.map(([, f]) => f.n));
    warnings.push(
      `${name}: ${thin.map(([k]) => k).join(', ')} rest on ${n} scored messages or fewer (< ${MIN_SCORED_MESSAGES})`,
    );
  };
  const add = (r: AdversaryReport) => {
    check(r.name, r.figures);
    adversaries.push(r);
  };

  add({
    name: 'global-passive-end-to-end',
    sees: 'every link event (time, endpoints, size, hash); uses S→P1 send timing against each CS→T delivery',
    gifts: [],
    figures: pooledSender(
      runs.map((r) => r.endToEnd),
      seed,
    ),
    facts: { deliveries_scored: runs.reduce((s, r) => s + r.endToEnd.events, 0) },
  });
  add({
    name: 'global-passive-hop-by-hop',
    sees: 'every link event; traces each delivery back through every node with calibrated delay kernels, joins copies at P2',
    gifts: [],
    figures: pooledSender(
      runs.map((r) => r.hopByHop),
      seed + 1,
    ),
    facts: {
      deliveries_scored: runs.reduce((s, r) => s + r.hopByHop.events, 0),
      deliveries_joined: runs.reduce((s, r) => s + r.hopByHop.joinedDeliveries, 0),
    },
  });
  add({
    name: 'edge-disclosure',
    sees: 'S→P1 sends and CS→T deliveries over the whole run (statistical disclosure)',
    gifts: [],
    figures: {
      contacts_auc: aucFigure(pooledAuc(runs.map((r) => r.edge.contacts)), 'ordered source pairs', runs.length > 1),
      membership_auc: aucFigure(pooledAuc(runs.map((r) => r.edge.membership)), 'source pairs', runs.length > 1),
    },
    facts: {},
  });
  const csFigures: Record<string, Figure> = {};
  const horizons = [...new Set(runs.flatMap((r) => r.central.membership.map((m) => m.horizonMs)))].sort(
    (a, b) => a - b,
  );
  for (const h of horizons) {
    const parts = runs.flatMap((r) => r.central.membership.filter((m) => m.horizonMs === h).map((m) => m.auc));
    csFigures[`membership_auc_${horizonLabel(h)}`] = aucFigure(pooledAuc(parts), 'source pairs', parts.length > 1);
  }
  csFigures.sibling_top1 = proportionFigure(
    runs.flatMap((r) => r.central.siblingTop1),
    mean(runs.flatMap((r) => r.central.siblingBaseline)),
    'a uniform pick among the copies the adversary listed',
    'messages',
  );
  csFigures.sibling_auc = aucFigure(pooledAuc(runs.map((r) => r.central.siblingAuc)), 'copy pairs', runs.length > 1);
  Object.assign(
    csFigures,
    pooledSender(
      runs.map((r) => r.central.sender),
      seed + 2,
    ),
  );
  add({
    name: 'malicious-central',
    sees: "CS's own observations (final commands, mailbox/box ids and owners, real or dummy deliveries) and every link touching CS",
    gifts: [],
    figures: csFigures,
    facts: { copy_ops: runs[0].central.copyOps.join(','), person_events: runs[0].central.personEvents },
  });
  const col = runs.map((r) => r.collusion);
  const colFigures = pooledSender(
    col.map((c) => c.sender),
    seed + 3,
  );
  const corruptFigures = pooledSender(
    col.map((c) => c.senderCorruptP2),
    seed + 4,
  );
  colFigures.sender_top1_corrupt_p2 = corruptFigures.sender_top1;
  colFigures.share_through_corrupt_p2 = proportionFigure(
    col.flatMap((c) => c.throughCorruptP2),
    mean(col.map((c) => c.colluders.length / Math.max(1, c.proxies))),
    'colluding proxies / proxies',
    'messages',
  );
  add({
    name: 'central-with-colluding-proxies',
    sees: 'the malicious CS view plus the colluding proxies’ own observations and links',
    gifts: [],
    figures: colFigures,
    facts: {
      colluders: col[0].colluders.join(','),
      fanouts_seen: col.reduce((s, c) => s + c.fanoutsSeen, 0),
      senders_named_by_p1: col.reduce((s, c) => s + c.sendersNamedByP1, 0),
    },
  });
  add({
    name: 'gifted-central',
    sees: 'the malicious CS view plus ground truth (see gifts): the old simulator’s adversary, now using its gift',
    gifts: runs[0].gifted.gifts,
    figures: {
      sender_top1: pooledSender(
        runs.map((r) => r.gifted.sender),
        seed + 5,
        () => 'a uniform pick among the members of the message’s group',
      ).sender_top1,
    },
    facts: {},
  });
  const attackNames = [...new Set(runs.flatMap((r) => r.active.map((a) => a.attack)))].sort();
  for (const name of attackNames) {
    const parts = runs.flatMap((r) => r.active.filter((a) => a.attack === name));
    const scored = parts.reduce((s, a) => s + a.scored, 0);
    const baseRate = scored ? parts.reduce((s, a) => s + a.baseRate * a.scored, 0) / scored : 0;
    const noticed = parts.filter((a) => a.alarms > 0).length;
    add({
      name: `active-${name}`,
      sees: 'the edge links it controls (sends admitted, deliveries) and its own action log',
      gifts: [],
      figures: {
        precision: proportionFigure(
          parts.flatMap((a) => a.precision),
          baseRate,
          'share of real deliveries that carry the target’s messages (base rate)',
          'attributed real deliveries',
        ),
        attribution_auc: aucFigure(pooledAuc(parts.map((a) => a.attribution)), 'real deliveries', parts.length > 1),
        contacts_auc: aucFigure(pooledAuc(parts.map((a) => a.contacts)), 'sources', parts.length > 1),
      },
      facts: {
        runs_attacked: parts.length,
        runs_noticed: noticed,
        // Issue 9's target: an alarm within 60 simulated seconds of the attack's start.
        runs_noticed_within_60s: parts.filter((a) => a.firstAlarmAfterMs !== null && a.firstAlarmAfterMs <= 60_000)
          .length,
        alarms: parts.reduce((s, a) => s + a.alarms, 0),
        first_alarm_after_ms: parts.find((a) => a.firstAlarmAfterMs !== null)?.firstAlarmAfterMs ?? null,
        others_dropped_share: mean(parts.map((a) => a.othersDroppedShare)),
        target_packets_held: parts.reduce((s, a) => s + a.held, 0),
      },
    });
  }
  const mixes = runs.map((r) => r.mix);
  return {
    version: 1,
    runs: runs.map((r) => ({ seed: r.seed, duration_ms: r.durationMs, messages: r.messages })),
    mix: {
      mu_ms: runs[0].params.mu_ms,
      lambda_per_s: runs[0].params.lambda_per_s,
      per_hop_delay_ms: mean(mixes.map((m) => m.perHopDelayMs)),
      packets_in_mix: mean(mixes.map((m) => m.meanPackets)),
      proxies_below_knee: mixes.reduce((s, m) => s + m.belowKnee, 0),
      knee_packets: 2,
    },
    adversaries,
    warnings,
  };
}

function fmt(x: number): string {
  if (!Number.isFinite(x) || Number.isInteger(x)) return String(x);
  return Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(3);
}

/** Plain-text table of a report. */
export function formatSuiteReport(r: SuiteReport): string {
  const lines: string[] = [];
  lines.push(
    `runs: ${r.runs.length} (seeds ${r.runs.map((x) => x.seed).join(', ')}), messages ${r.runs.reduce((s, x) => s + x.messages, 0)}`,
  );
  lines.push(
    `mix: mu ${r.mix.mu_ms} ms, lambda ${r.mix.lambda_per_s}/s; observed per-hop delay ${fmt(r.mix.per_hop_delay_ms)} ms, ` +
      `packets in each mix ${fmt(r.mix.packets_in_mix)} (knee ${r.mix.knee_packets}; ${r.mix.proxies_below_knee} proxy-runs below)`,
  );
  for (const a of r.adversaries) {
    lines.push('');
    lines.push(`${a.name}${a.gifts.length ? `  [GIFTED: ${a.gifts.join('; ')}]` : ''}`);
    lines.push(`  sees: ${a.sees}`);
    for (const [k, f] of Object.entries(a.figures)) {
      lines.push(
        `  ${k.padEnd(24)} ${fmt(f.value)} [${fmt(f.ci95[0])}, ${fmt(f.ci95[1])}]  baseline ${fmt(f.baseline)} (${f.baseline_is})  n=${f.n} ${f.unit}`,
      );
    }
    const facts = Object.entries(a.facts).map(([k, v]) => `${k}=${typeof v === 'number' ? fmt(v) : String(v)}`);
    if (facts.length) lines.push(`  ${facts.join('  ')}`);
  }
  if (r.warnings.length) {
    lines.push('');
    for (const w of r.warnings) lines.push(`warning: ${w}`);
  }
  return lines.join('\n');
}

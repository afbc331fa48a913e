/**
 * The report of `mixd simulate` (DESIGN.md section 8): a JSON document, a
 * plain-text summary for the terminal and one self-contained HTML page
 * (inline CSS and inline SVG, no scripts, no external resources).
 *
 * Pure: the simulation driver measures, this module only assembles and
 * renders. `buildReport` takes the measured pieces of the defended run and of
 * the ablation (same workload, no delays, no cover).
 */

import { writeFileSync } from 'node:fs';
import type { AnonymityFigures, LinkEvent, Role } from './adversary.js';
import { barChartSvg, escapeHtml, formatNumber, histogramSvg } from './charts.js';
import { percentile } from './stats.js';

export type AnonymitySummary = Omit<AnonymityFigures, 'entropies'>;

/** The figures of one run (defended or ablation). */
export interface RunReport {
  /** deliveries / expected_deliveries. */
  delivered_ratio: number;
  /** Nearest-rank percentiles of send-to-delivery latency. */
  latency_ms: { p50: number; p95: number; p99: number };
  /** Distinct (message, recipient) deliveries to members. */
  deliveries: number;
  /** Messages sent × recipients each should reach. */
  expected_deliveries: number;
  /** Deliveries of a (message, recipient) pair beyond the first. */
  duplicates: number;
  /** Deliveries to a node that is not a member of the message's group (must be 0). */
  non_member_deliveries: number;
  /** Mean datagrams sent per second per node of each role. */
  packets_per_s: Record<Role, number>;
  /** Nodes of each role. */
  nodes: Record<Role, number>;
  anonymity: AnonymitySummary;
}

export interface SimReport extends RunReport {
  ablation: RunReport;
  params?: Record<string, unknown>;
}

export interface PacketCounts {
  /** Datagrams sent by nodes of each role. */
  sentByRole: Record<Role, number>;
  /** Nodes of each role. */
  nodesByRole: Record<Role, number>;
}

/** The measured pieces of one run. */
export interface RunParts {
  deliveries: number;
  expectedDeliveries: number;
  duplicates: number;
  nonMemberDeliveries: number;
  latenciesMs: number[];
  packets: PacketCounts;
  /** Length of the measured interval the packet counts cover. */
  durationS: number;
  anonymity: AnonymityFigures | AnonymitySummary;
}

export interface ReportParts {
  defended: RunParts;
  ablation: RunParts;
  /** Simulation parameters, copied into the JSON for reproducibility. */
  params?: Record<string, unknown>;
}

export interface HtmlExtras {
  latencies: number[];
  entropies: number[];
  ablationLatencies: number[];
  ablationEntropies: number[];
  params: Record<string, unknown>;
}

export const ROLES: readonly Role[] = ['central', 'proxy', 'source'];

const zeroByRole = (): Record<Role, number> => ({ central: 0, proxy: 0, source: 0 });
const finite = (x: number): number => (Number.isFinite(x) ? x : 0);

/** Datagrams sent per role (by the sender's role; unknown endpoints are ignored) and nodes per role. */
export function countPacketsByRole(events: LinkEvent[], roles: Map<string, Role>): PacketCounts {
  const sentByRole = zeroByRole();
  const nodesByRole = zeroByRole();
  for (const r of roles.values()) nodesByRole[r]++;
  for (const e of events) {
    const r = roles.get(e.from);
    if (r) sentByRole[r]++;
  }
  return { sentByRole, nodesByRole };
}

function anonymitySummary(a: AnonymityFigures | AnonymitySummary): AnonymitySummary {
  const { entropies: _drop, ...rest } = a as AnonymityFigures;
  const out = { ...rest } as AnonymitySummary;
  for (const [k, v] of Object.entries(out))
    if (typeof v === 'number') (out as unknown as Record<string, number>)[k] = finite(v);
  return out;
}

export function buildRunReport(p: RunParts): RunReport {
  const packets_per_s = zeroByRole();
  for (const r of ROLES) {
    const nodes = p.packets.nodesByRole[r];
    packets_per_s[r] = nodes > 0 && p.durationS > 0 ? p.packets.sentByRole[r] / nodes / p.durationS : 0;
  }
  const lat = p.latenciesMs.filter(Number.isFinite);
  return {
    delivered_ratio: p.expectedDeliveries > 0 ? p.deliveries / p.expectedDeliveries : 0,
    latency_ms: { p50: percentile(lat, 0.5), p95: percentile(lat, 0.95), p99: percentile(lat, 0.99) },
    deliveries: p.deliveries,
    expected_deliveries: p.expectedDeliveries,
    duplicates: p.duplicates,
    non_member_deliveries: p.nonMemberDeliveries,
    packets_per_s,
    nodes: { ...p.packets.nodesByRole },
    anonymity: anonymitySummary(p.anonymity),
  };
}

export function buildReport(parts: ReportParts): SimReport {
  const report: SimReport = { ...buildRunReport(parts.defended), ablation: buildRunReport(parts.ablation) };
  if (parts.params) report.params = parts.params;
  return report;
}

export function writeJsonReport(path: string, report: SimReport): void {
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}

// ---------------------------------------------------------------------------
// Targets (the acceptance criteria, with the thresholds made explicit).

/** "Clearly higher": the ablation must beat the defended run by at least this much (absolute). */
export const CLEAR_MARGIN = 0.1;
/** "Near chance" for cs_grouping_accuracy: within this of 0.5. */
export const NEAR_CHANCE = 0.1;

export interface TargetCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export function checkTargets(r: SimReport): TargetCheck[] {
  const d = r.anonymity;
  const a = r.ablation.anonymity;
  const f = (x: number) => x.toFixed(3);
  const scored = d.messages_scored > 0 && a.messages_scored > 0;
  const na = (name: string): TargetCheck => ({ name, ok: false, detail: 'no delivered messages were scored' });
  if (!scored) {
    return [
      na('defended linking_accuracy <= 2 x random_guess_accuracy'),
      na('ablation linking_accuracy clearly higher'),
      na('defended cs_grouping_accuracy near chance (0.5)'),
      na('ablation cs_grouping_accuracy clearly higher'),
    ];
  }
  return [
    {
      name: 'defended linking_accuracy <= 2 x random_guess_accuracy',
      ok: d.linking_accuracy <= 2 * d.random_guess_accuracy,
      detail: `${f(d.linking_accuracy)} vs 2 x ${f(d.random_guess_accuracy)}`,
    },
    {
      name: 'ablation linking_accuracy clearly higher',
      ok: a.linking_accuracy > 2 * a.random_guess_accuracy && a.linking_accuracy >= d.linking_accuracy + CLEAR_MARGIN,
      detail: `${f(a.linking_accuracy)} vs defended ${f(d.linking_accuracy)} (needs > 2 x chance and +${CLEAR_MARGIN})`,
    },
    {
      name: 'defended cs_grouping_accuracy near chance (0.5)',
      ok: Math.abs(d.cs_grouping_accuracy - 0.5) <= NEAR_CHANCE,
      detail: `${f(d.cs_grouping_accuracy)} (needs 0.5 ± ${NEAR_CHANCE})`,
    },
    {
      name: 'ablation cs_grouping_accuracy clearly higher',
      ok: a.cs_grouping_accuracy >= d.cs_grouping_accuracy + CLEAR_MARGIN,
      detail: `${f(a.cs_grouping_accuracy)} vs defended ${f(d.cs_grouping_accuracy)} (needs +${CLEAR_MARGIN})`,
    },
  ];
}

// ---------------------------------------------------------------------------
// Rows shared by the terminal table and the HTML table.

type Kind = 'ratio' | 'ms' | 'count' | 'rate' | 'bits';

const ROWS: Array<{ key: string; kind: Kind; get: (r: RunReport) => number }> = [
  { key: 'delivered_ratio', kind: 'ratio', get: (r) => r.delivered_ratio },
  { key: 'latency_ms.p50', kind: 'ms', get: (r) => r.latency_ms.p50 },
  { key: 'latency_ms.p95', kind: 'ms', get: (r) => r.latency_ms.p95 },
  { key: 'latency_ms.p99', kind: 'ms', get: (r) => r.latency_ms.p99 },
  { key: 'deliveries', kind: 'count', get: (r) => r.deliveries },
  { key: 'expected_deliveries', kind: 'count', get: (r) => r.expected_deliveries },
  { key: 'duplicates', kind: 'count', get: (r) => r.duplicates },
  { key: 'non_member_deliveries', kind: 'count', get: (r) => r.non_member_deliveries },
  ...ROLES.map((role) => ({
    key: `packets_per_s.${role}`,
    kind: 'rate' as Kind,
    get: (r: RunReport) => r.packets_per_s[role],
  })),
  ...ROLES.map((role) => ({ key: `nodes.${role}`, kind: 'count' as Kind, get: (r: RunReport) => r.nodes[role] })),
  { key: 'anonymity.entropy_bits_mean', kind: 'bits', get: (r) => r.anonymity.entropy_bits_mean },
  { key: 'anonymity.max_entropy_bits', kind: 'bits', get: (r) => r.anonymity.max_entropy_bits },
  { key: 'anonymity.linking_accuracy', kind: 'ratio', get: (r) => r.anonymity.linking_accuracy },
  { key: 'anonymity.random_guess_accuracy', kind: 'ratio', get: (r) => r.anonymity.random_guess_accuracy },
  { key: 'anonymity.cs_grouping_accuracy', kind: 'ratio', get: (r) => r.anonymity.cs_grouping_accuracy },
  { key: 'anonymity.candidate_senders', kind: 'count', get: (r) => r.anonymity.candidate_senders },
  { key: 'anonymity.messages_scored', kind: 'count', get: (r) => r.anonymity.messages_scored },
  { key: 'anonymity.cs_grouping_pairs', kind: 'count', get: (r) => r.anonymity.cs_grouping_pairs },
  { key: 'anonymity.cs_grouping_tau_ms', kind: 'ms', get: (r) => r.anonymity.cs_grouping_tau_ms },
];

function fmtValue(v: number | undefined, kind: Kind): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  switch (kind) {
    case 'count':
      return Number.isInteger(v) ? String(v) : v.toFixed(2);
    case 'ratio':
      return v.toFixed(4);
    case 'bits':
      return v.toFixed(3);
    case 'ms':
      return v.toFixed(1);
    case 'rate':
      return v.toFixed(2);
  }
}

/** Plain-text table (metric, defended, ablation) plus the target checks, for the terminal. */
export function summaryTable(report: SimReport): string {
  const rows = [['metric', 'defended', 'ablation']];
  for (const row of ROWS)
    rows.push([row.key, fmtValue(row.get(report), row.kind), fmtValue(row.get(report.ablation), row.kind)]);
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const w2 = Math.max(...rows.map((r) => r[2].length));
  const lines = rows.map((r) => `${r[0].padEnd(w0)}  ${r[1].padStart(w1)}  ${r[2].padStart(w2)}`);
  lines.splice(1, 0, `${'-'.repeat(w0)}  ${'-'.repeat(w1)}  ${'-'.repeat(w2)}`);
  lines.push('');
  for (const c of checkTargets(report)) lines.push(`[${c.ok ? 'ok' : 'FAIL'}] ${c.name}: ${c.detail}`);
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------
// HTML.

const DEFENDED_COLOR = '#1f5fa8';
const ABLATION_COLOR = '#c0392b';
const BASELINE_COLOR = '#555555';

const CSS = `
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1b1b1b; background: #fafafa; }
main { max-width: 960px; margin: 0 auto; padding: 24px; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.2em; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
table { border-collapse: collapse; background: #fff; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border: 1px solid #ddd; padding: 3px 10px; }
th { background: #f0f0f0; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.92em; }
figure { margin: 16px 0; background: #fff; border: 1px solid #ddd; padding: 8px; }
figcaption { font-size: 0.92em; color: #444; margin-top: 4px; }
svg.chart { max-width: 100%; height: auto; font-size: 11px; }
svg.chart text { fill: #222; }
svg.chart .grid { stroke: #e6e6e6; }
svg.chart .baseline { stroke: #777; }
svg.chart .nodata { font-size: 16px; fill: #888; }
ul.targets { list-style: none; padding: 0; }
ul.targets li { margin: 2px 0; }
.ok { color: #1e7b34; font-weight: 600; }
.fail { color: #b02a2a; font-weight: 600; }
`;

function paramValue(v: unknown): string {
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** One self-contained HTML page: summary, targets, three charts and the parameters. */
export function renderHtmlReport(report: SimReport, extras: HtmlExtras): string {
  const e = escapeHtml;
  const pct = (x: number) => (Number.isFinite(x) ? (x * 100).toFixed(1) : '-');
  const d = report.anonymity;
  const a = report.ablation.anonymity;
  const maxH = Math.max(d.max_entropy_bits, a.max_entropy_bits);

  const latencyChart = histogramSvg({
    id: 'latency-histogram',
    title: 'Latency histogram, defended vs ablation',
    desc:
      `Share of delivered messages per send-to-delivery latency bin. Defended p50 ${formatNumber(report.latency_ms.p50)} ms, ` +
      `p99 ${formatNumber(report.latency_ms.p99)} ms; ablation p50 ${formatNumber(report.ablation.latency_ms.p50)} ms, ` +
      `p99 ${formatNumber(report.ablation.latency_ms.p99)} ms.`,
    xLabel: 'latency (ms)',
    bins: 24,
    scale: 'auto',
    series: [
      { label: 'defended', values: extras.latencies, color: DEFENDED_COLOR },
      { label: 'ablation', values: extras.ablationLatencies, color: ABLATION_COLOR },
    ],
  });
  const entropyChart = histogramSvg({
    id: 'entropy-histogram',
    title: 'Sender entropy per delivered message, defended vs ablation',
    desc:
      `Share of delivered messages per bin of the Shannon entropy (bits) of the adversary's sender distribution. ` +
      `Mean: defended ${d.entropy_bits_mean.toFixed(3)} bits, ablation ${a.entropy_bits_mean.toFixed(3)} bits; ` +
      `the ideal is log2 of the number of candidate senders, ${maxH.toFixed(3)} bits (dashed line).`,
    xLabel: 'entropy (bits)',
    bins: 20,
    domain: [0, maxH > 0 ? maxH : 1],
    series: [
      { label: 'defended', values: extras.entropies, color: DEFENDED_COLOR },
      { label: 'ablation', values: extras.ablationEntropies, color: ABLATION_COLOR },
    ],
    markers: [{ x: maxH, label: `max ${maxH.toFixed(2)} bits` }],
  });
  const accuracyChart = barChartSvg({
    id: 'accuracy-bars',
    title: 'Adversary accuracy, defended vs ablation, against chance',
    desc:
      `Linking accuracy: defended ${d.linking_accuracy.toFixed(3)}, ablation ${a.linking_accuracy.toFixed(3)}, ` +
      `random guess ${d.random_guess_accuracy.toFixed(3)}. CS grouping balanced accuracy: defended ` +
      `${d.cs_grouping_accuracy.toFixed(3)}, ablation ${a.cs_grouping_accuracy.toFixed(3)}, chance 0.5.`,
    yLabel: 'accuracy',
    yMax: 1,
    groups: [
      {
        label: 'linking accuracy (top-1 sender)',
        bars: [
          { label: 'defended', value: d.linking_accuracy, color: DEFENDED_COLOR },
          { label: 'ablation', value: a.linking_accuracy, color: ABLATION_COLOR },
          { label: 'chance baseline', value: d.random_guess_accuracy, color: BASELINE_COLOR, dashed: true },
        ],
      },
      {
        label: 'CS grouping accuracy (balanced)',
        bars: [
          { label: 'defended', value: d.cs_grouping_accuracy, color: DEFENDED_COLOR },
          { label: 'ablation', value: a.cs_grouping_accuracy, color: ABLATION_COLOR },
          { label: 'chance baseline', value: 0.5, color: BASELINE_COLOR, dashed: true },
        ],
      },
    ],
  });

  const targets = checkTargets(report)
    .map(
      (c) =>
        `<li><span class="${c.ok ? 'ok' : 'fail'}">${c.ok ? 'met' : 'not met'}</span> ${e(c.name)}: ${e(c.detail)}</li>`,
    )
    .join('\n');
  const summaryRows = ROWS.map(
    (row) =>
      `<tr><th scope="row"><code>${e(row.key)}</code></th><td class="num">${e(fmtValue(row.get(report), row.kind))}</td>` +
      `<td class="num">${e(fmtValue(row.get(report.ablation), row.kind))}</td></tr>`,
  ).join('\n');
  const params = { ...(report.params ?? {}), ...extras.params };
  const paramRows = Object.entries(params)
    .map(([k, v]) => `<tr><th scope="row"><code>${e(k)}</code></th><td><code>${e(paramValue(v))}</code></td></tr>`)
    .join('\n');

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mixd simulate report</title>
<style>${CSS}</style>
</head>
<body>
<main>
<h1>mixd simulate report</h1>
<p>Delivered ${pct(report.delivered_ratio)}% (${report.deliveries}/${report.expected_deliveries}),
latency p50 ${e(fmtValue(report.latency_ms.p50, 'ms'))} ms. A global passive adversary links
${pct(d.linking_accuracy)}% of messages to their sender with the defences and
${pct(a.linking_accuracy)}% without them (ablation: no delays, no cover); a random guess gets
${pct(d.random_guess_accuracy)}%.</p>

<section aria-labelledby="targets-h">
<h2 id="targets-h">Targets</h2>
<ul class="targets">
${targets}
</ul>
</section>

<section aria-labelledby="charts-h">
<h2 id="charts-h">Charts</h2>
<figure>
${latencyChart}
<figcaption>Send-to-delivery latency of every delivered message (share per bin; logarithmic bins when the runs differ by orders of magnitude).</figcaption>
</figure>
<figure>
${entropyChart}
<figcaption>Entropy of the adversary's sender distribution per delivered message; the dashed line is the ideal, log2(candidate senders).</figcaption>
</figure>
<figure>
${accuracyChart}
<figcaption>What the defences buy: the adversary's top-1 linking accuracy against the random-guess baseline, and its balanced accuracy at telling whether two CS deliveries carry the same message against 0.5 (chance).</figcaption>
</figure>
</section>

<section aria-labelledby="summary-h">
<h2 id="summary-h">Summary</h2>
<table>
<caption>All report keys, defended run and ablation</caption>
<thead><tr><th scope="col">key</th><th scope="col">defended</th><th scope="col">ablation</th></tr></thead>
<tbody>
${summaryRows}
</tbody>
</table>
</section>

<section aria-labelledby="params-h">
<h2 id="params-h">Parameters</h2>
<table>
<caption>Simulation parameters</caption>
<thead><tr><th scope="col">parameter</th><th scope="col">value</th></tr></thead>
<tbody>
${paramRows}
</tbody>
</table>
</section>

<section aria-labelledby="method-h">
<h2 id="method-h">Method</h2>
<p>The adversary sees the time, endpoints and size of every datagram on every link and knows the public delay model
(each message crosses a number of independent exponential delays). Every source-to-proxy datagram, real or cover, is a
candidate send. For each delivered message it is told which central-to-recipient datagrams carry it (a conservative
gift), computes the exact posterior over senders (sum over each sender's sends of the product of the delay densities
of all copies), and records its Shannon entropy and top-1 guess (ties score 1/ties). For grouping it segments the
stream of deliveries at gaps longer than the model's median gap between two copies of one message and is graded by
balanced accuracy on time-adjacent delivery pairs (0.5 = chance). Packets per second are per node of each role.</p>
</section>
</main>
</body>
</html>
`;
}

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { type AnonymityFigures, mulberry32, type Role } from '../../src/sim/adversary.js';
import { escapeHtml, histogramSvg } from '../../src/sim/charts.js';
import {
  buildReport,
  checkTargets,
  countPacketsByRole,
  type HtmlExtras,
  type RunParts,
  renderHtmlReport,
  type SimReport,
  summaryTable,
  writeJsonReport,
} from '../../src/sim/report.js';

const rnd = mulberry32(7);
const exp = (mean: number) => -Math.log(1 - rnd()) * mean;

function anonymity(linking: number, grouping: number, entropies: number[]): AnonymityFigures {
  return {
    entropy_bits_mean: entropies.reduce((a, b) => a + b, 0) / entropies.length,
    max_entropy_bits: Math.log2(10),
    linking_accuracy: linking,
    random_guess_accuracy: 0.1,
    cs_grouping_accuracy: grouping,
    candidate_senders: 10,
    messages_scored: entropies.length,
    cs_grouping_pairs: 500,
    cs_grouping_tau_ms: 73.7,
    entropies,
  };
}

const defendedLatencies = Array.from({ length: 200 }, () => 5 + exp(50) + exp(50) + exp(50));
const ablationLatencies = Array.from({ length: 200 }, () => 1 + rnd() * 3);
const defendedEntropies = Array.from({ length: 200 }, () => 3.322 - exp(0.2));
const ablationEntropies = Array.from({ length: 200 }, () => exp(0.02));

const packets = {
  sentByRole: { central: 3000, proxy: 6000, source: 12000 } as Record<Role, number>,
  nodesByRole: { central: 1, proxy: 3, source: 10 } as Record<Role, number>,
};

function parts(latenciesMs: number[], a: AnonymityFigures): RunParts {
  return {
    deliveries: 199,
    expectedDeliveries: 200,
    duplicates: 1,
    nonMemberDeliveries: 0,
    latenciesMs,
    packets,
    durationS: 60,
    anonymity: a,
  };
}

const params = { sources: 10, proxies: 3, meanDelayMs: 50, note: 'a<b & "c"' };

function makeReport(): SimReport {
  return buildReport({
    defended: parts(defendedLatencies, anonymity(0.12, 0.52, defendedEntropies)),
    ablation: parts(ablationLatencies, anonymity(0.99, 0.93, ablationEntropies)),
    params,
  });
}

const extras: HtmlExtras = {
  latencies: defendedLatencies,
  entropies: defendedEntropies,
  ablationLatencies,
  ablationEntropies,
  params,
};

const TOP_KEYS = [
  'delivered_ratio',
  'latency_ms',
  'deliveries',
  'expected_deliveries',
  'duplicates',
  'non_member_deliveries',
  'packets_per_s',
  'anonymity',
];
const ANON_KEYS = [
  'entropy_bits_mean',
  'max_entropy_bits',
  'linking_accuracy',
  'random_guess_accuracy',
  'cs_grouping_accuracy',
];

t.test('buildReport computes the figures', async (t) => {
  const r = makeReport();
  t.equal(r.delivered_ratio, 0.995);
  t.equal(r.deliveries, 199);
  t.equal(r.expected_deliveries, 200);
  t.same(r.packets_per_s, { central: 50, proxy: 1000 / 30, source: 20 });
  t.ok(r.latency_ms.p50 <= r.latency_ms.p95 && r.latency_ms.p95 <= r.latency_ms.p99);
  t.notOk('entropies' in r.anonymity, 'per-message entropies stay out of the JSON');
  t.equal(r.anonymity.linking_accuracy, 0.12);
  t.equal(r.ablation.anonymity.linking_accuracy, 0.99);
  t.notOk('ablation' in r.ablation);
  t.same(
    checkTargets(r).map((c) => c.ok),
    [true, true, true, true],
  );
  const bad = buildReport({
    defended: parts(defendedLatencies, anonymity(0.5, 0.8, defendedEntropies)),
    ablation: parts(ablationLatencies, anonymity(0.55, 0.82, ablationEntropies)),
  });
  t.same(
    checkTargets(bad).map((c) => c.ok),
    [false, false, false, false],
  );
});

t.test('empty runs give finite numbers', async (t) => {
  const none: RunParts = {
    deliveries: 0,
    expectedDeliveries: 0,
    duplicates: 0,
    nonMemberDeliveries: 0,
    latenciesMs: [],
    packets: { sentByRole: { central: 0, proxy: 0, source: 0 }, nodesByRole: { central: 0, proxy: 0, source: 0 } },
    durationS: 0,
    anonymity: { ...anonymity(0, 0.5, [0]), entropy_bits_mean: Number.NaN, messages_scored: 0 },
  };
  const r = buildReport({ defended: none, ablation: none });
  const json = JSON.stringify(r);
  t.notMatch(json, /null|NaN|Infinity/);
  t.equal(r.anonymity.entropy_bits_mean, 0);
  t.ok(checkTargets(r).every((c) => !c.ok));
  const html = renderHtmlReport(r, {
    latencies: [],
    entropies: [],
    ablationLatencies: [],
    ablationEntropies: [],
    params: {},
  });
  t.match(html, /no data/);
  t.notMatch(html, /NaN/);
});

t.test('countPacketsByRole counts by the sender role', async (t) => {
  const roles = new Map<string, Role>([
    ['c:1', 'central'],
    ['p:1', 'proxy'],
    ['s:1', 'source'],
    ['s:2', 'source'],
  ]);
  const ev = (from: string, to: string) => ({ timeMs: 0, from, to, size: 1 });
  const c = countPacketsByRole(
    [ev('s:1', 'p:1'), ev('s:2', 'c:1'), ev('p:1', 'c:1'), ev('c:1', 's:1'), ev('x:9', 's:1')],
    roles,
  );
  t.same(c, { sentByRole: { central: 1, proxy: 1, source: 2 }, nodesByRole: { central: 1, proxy: 1, source: 2 } });
});

t.test('the JSON file has every key', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mixd-report-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'report.json');
  writeJsonReport(path, makeReport());
  const j = JSON.parse(readFileSync(path, 'utf8'));
  for (const run of [j, j.ablation]) {
    for (const k of TOP_KEYS) t.ok(k in run, k);
    t.same(Object.keys(run.latency_ms).sort(), ['p50', 'p95', 'p99']);
    t.same(Object.keys(run.packets_per_s).sort(), ['central', 'proxy', 'source']);
    for (const k of ANON_KEYS) t.type(run.anonymity[k], 'number', `anonymity.${k}`);
  }
  t.ok('ablation' in j);
  t.same(j.params, params);
});

t.test('the HTML page is self-contained, accessible and escaped', async (t) => {
  const html = renderHtmlReport(makeReport(), extras);
  t.match(html, /^<!doctype html>/);
  const svgs = html.match(/<svg [^>]*>/g) ?? [];
  t.equal(svgs.length, 3, 'three charts');
  for (const id of ['latency-histogram', 'entropy-histogram', 'accuracy-bars']) {
    t.match(html, new RegExp(`<svg id="${id}"[^>]*role="img"[^>]*aria-labelledby="${id}-title ${id}-desc"`));
    t.match(html, new RegExp(`<title id="${id}-title">[^<]+</title>`));
    t.match(html, new RegExp(`<desc id="${id}-desc">[^<]+</desc>`));
  }
  t.match(html, /max 3\.32 bits/, 'max entropy marked');
  t.match(html, /chance baseline/);
  t.notMatch(html, /<script/i, 'no scripts');
  t.notMatch(html, /https?:/i, 'no external links');
  t.notMatch(html, /<link|@import|url\(/i, 'no external resources');
  t.match(html, /a&lt;b &amp; &quot;c&quot;/, 'parameter value escaped');
  t.notMatch(html, /a<b/);
  for (const k of [...TOP_KEYS.filter((k) => k !== 'latency_ms' && k !== 'packets_per_s' && k !== 'anonymity')]) {
    t.match(html, k);
  }
});

t.test('summaryTable mentions every key, aligned', async (t) => {
  const s = summaryTable(makeReport());
  for (const k of TOP_KEYS) t.match(s, k);
  for (const k of ['p50', 'p95', 'p99', 'central', 'proxy', 'source', ...ANON_KEYS]) t.match(s, k);
  const table = s.split('\n').filter((l) => /^\S+\s{2,}\S+\s{2,}\S+$/.test(l));
  t.ok(table.length > 20);
  t.equal(new Set(table.map((l) => l.length)).size, 1, 'all rows the same width');
  t.match(s, /\[ok\] defended linking_accuracy <= 2 x random_guess_accuracy/);
});

t.test('charts escape labels and handle degenerate data', async (t) => {
  t.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  const svg = histogramSvg({
    id: 'h',
    title: 'T <x>',
    desc: 'D',
    xLabel: 'x',
    series: [{ label: 'one <s>', values: [5, 5, 5], color: '#000' }],
  });
  t.match(svg, /<title id="h-title">T &lt;x&gt;<\/title>/);
  t.match(svg, /one &lt;s&gt;/);
  t.notMatch(svg, /NaN|Infinity/);
});

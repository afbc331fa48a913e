/**
 * Inline SVG charts for the simulation report: plain strings, no DOM, no
 * external resources. Every chart is an `<svg role="img">` with a `<title>`
 * and a `<desc>` (referenced by aria-labelledby), and every piece of text
 * goes through `escapeHtml`.
 */

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/** Compact number for axis ticks and labels. */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1000) return x.toFixed(0);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1).replace(/\.0$/, '');
  if (a >= 1) return x.toFixed(2).replace(/\.?0+$/, '');
  return x.toPrecision(2);
}

export interface Series {
  label: string;
  values: number[];
  color: string;
}

export interface Marker {
  x: number;
  label: string;
}

export interface HistogramSpec {
  id: string;
  title: string;
  desc: string;
  xLabel: string;
  series: Series[];
  bins?: number;
  /** 'auto' (default): logarithmic bins when all values are positive and span more than 20×. */
  scale?: 'linear' | 'log' | 'auto';
  /** Fixed x range (linear scale), e.g. [0, max entropy]. */
  domain?: [number, number];
  markers?: Marker[];
}

export interface BarGroup {
  label: string;
  bars: Array<{ label: string; value: number; color: string; dashed?: boolean }>;
}

export interface BarChartSpec {
  id: string;
  title: string;
  desc: string;
  yLabel: string;
  yMax: number;
  groups: BarGroup[];
}

const W = 640;
const H = 300;
const M = { left: 56, right: 16, top: 36, bottom: 48 };
const PW = W - M.left - M.right;
const PH = H - M.top - M.bottom;

function open(id: string, title: string, desc: string): string {
  const t = `${id}-title`;
  const d = `${id}-desc`;
  return (
    `<svg id="${escapeHtml(id)}" class="chart" role="img" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" ` +
    `aria-labelledby="${escapeHtml(t)} ${escapeHtml(d)}">` +
    `<title id="${escapeHtml(t)}">${escapeHtml(title)}</title>` +
    `<desc id="${escapeHtml(d)}">${escapeHtml(desc)}</desc>`
  );
}

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}"${attrs ? ` ${attrs}` : ''}>${escapeHtml(s)}</text>`;
}

function legend(items: Array<{ label: string; color: string; dashed?: boolean }>): string {
  let x = M.left;
  let out = '<g class="legend">';
  for (const it of items) {
    out += it.dashed
      ? `<line x1="${x}" y1="16" x2="${x + 12}" y2="16" stroke="${escapeHtml(it.color)}" stroke-width="2" stroke-dasharray="4 2"/>`
      : `<rect x="${x}" y="10" width="12" height="12" fill="${escapeHtml(it.color)}"/>`;
    out += text(x + 16, 20, it.label);
    x += 28 + it.label.length * 7;
  }
  return `${out}</g>`;
}

/** A "nice" step (1, 2, 2.5 or 5 × 10^k) close to `raw`. */
export function niceStep(raw: number): number {
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * p;
}

/** y axis from 0 to yMax with gridlines every `step`, labelled with `fmt`. */
function yAxis(yMax: number, step: number, label: string, fmt: (v: number) => string): string {
  let out = '<g class="axis">';
  const ticks = Math.round(yMax / step);
  for (let i = 0; i <= ticks; i++) {
    const v = i * step;
    const y = M.top + PH - (PH * v) / yMax;
    out += `<line x1="${M.left}" y1="${y.toFixed(1)}" x2="${M.left + PW}" y2="${y.toFixed(1)}" class="grid"/>`;
    out += text(M.left - 6, y + 4, fmt(v), 'text-anchor="end"');
  }
  out += text(14, M.top + PH / 2, label, `text-anchor="middle" transform="rotate(-90 14 ${M.top + PH / 2})"`);
  out += `<line x1="${M.left}" y1="${M.top + PH}" x2="${M.left + PW}" y2="${M.top + PH}" class="baseline"/>`;
  return `${out}</g>`;
}

/** x tick values: 1-2-5 per decade on a log axis, multiples of a nice step on a linear one. */
function xTicks(lo: number, hi: number, scale: 'linear' | 'log'): number[] {
  const out: number[] = [];
  if (scale === 'log') {
    for (let d = Math.floor(Math.log10(lo)); d <= Math.ceil(Math.log10(hi)); d++) {
      for (const m of [1, 2, 5]) {
        const v = m * 10 ** d;
        if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
      }
    }
    return out;
  }
  const step = niceStep((hi - lo) / 6);
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.round(v / step) * step);
  return out;
}

const percentLabel = (v: number): string => `${Number((v * 100).toFixed(1))}%`;

/** Bin edges for a histogram of `all` values. */
function binEdges(all: number[], bins: number, scale: 'linear' | 'log', domain?: [number, number]): number[] {
  let lo = domain ? domain[0] : Math.min(...all);
  let hi = domain ? domain[1] : Math.max(...all);
  if (scale === 'log') {
    lo = Math.log10(lo);
    hi = Math.log10(hi);
  }
  if (!(hi > lo)) {
    const pad = Math.abs(lo) * 0.05 || 0.5;
    lo -= pad;
    hi += pad;
  }
  const edges: number[] = [];
  for (let i = 0; i <= bins; i++) {
    const e = lo + ((hi - lo) * i) / bins;
    edges.push(scale === 'log' ? 10 ** e : e);
  }
  return edges;
}

/**
 * A grouped histogram: one bar per series in each bin, heights are the share
 * of that series' values in the bin (series of different sizes compare).
 */
export function histogramSvg(spec: HistogramSpec): string {
  const bins = spec.bins ?? 20;
  const all = spec.series.flatMap((s) => s.values.filter(Number.isFinite));
  let out = open(spec.id, spec.title, spec.desc);
  out += legend([
    ...spec.series.map((s) => ({ label: `${s.label} (n=${s.values.length})`, color: s.color })),
    ...(spec.markers ?? []).map((m) => ({ label: m.label, color: '#444', dashed: true })),
  ]);
  if (all.length === 0) {
    out += yAxis(1, 0.25, 'share of values', percentLabel);
    out += text(M.left + PW / 2, M.top + PH / 2, 'no data', 'text-anchor="middle" class="nodata"');
    return `${out}</svg>`;
  }
  const positive = all.every((v) => v > 0);
  const span = positive ? Math.max(...all) / Math.min(...all) : 0;
  const scale: 'linear' | 'log' =
    spec.domain || !positive
      ? 'linear'
      : spec.scale === 'auto' || !spec.scale
        ? span > 20
          ? 'log'
          : 'linear'
        : spec.scale;
  const edges = binEdges(all, bins, scale, spec.domain);
  const pos = (v: number): number => {
    const a = scale === 'log' ? Math.log10(edges[0]) : edges[0];
    const b = scale === 'log' ? Math.log10(edges[bins]) : edges[bins];
    const x = scale === 'log' ? Math.log10(Math.max(v, edges[0])) : v;
    return M.left + (PW * (x - a)) / (b - a);
  };
  const binOf = (v: number): number => {
    if (v <= edges[0]) return 0;
    if (v >= edges[bins]) return bins - 1;
    let lo = 0;
    let hi = bins;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (v >= edges[mid]) lo = mid;
      else hi = mid;
    }
    return lo;
  };
  const shares = spec.series.map((s) => {
    const counts = new Array<number>(bins).fill(0);
    const vals = s.values.filter(Number.isFinite);
    for (const v of vals) counts[binOf(v)]++;
    return counts.map((c) => (vals.length ? c / vals.length : 0));
  });
  const top = Math.max(0.01, ...shares.flat());
  const yStep = niceStep(top / 4);
  const yMax = yStep * Math.ceil(top / yStep - 1e-9);
  out += yAxis(yMax, yStep, 'share of values', percentLabel);
  out += '<g class="bars">';
  const k = spec.series.length;
  for (let b = 0; b < bins; b++) {
    const x0 = pos(edges[b]);
    const x1 = pos(edges[b + 1]);
    const w = (x1 - x0 - 2) / k;
    spec.series.forEach((s, si) => {
      const share = shares[si][b];
      if (share <= 0) return;
      const h = (PH * share) / yMax;
      const range = `${formatNumber(edges[b])}–${formatNumber(edges[b + 1])}`;
      out +=
        `<rect x="${(x0 + 1 + si * w).toFixed(1)}" y="${(M.top + PH - h).toFixed(1)}" width="${Math.max(0.5, w).toFixed(1)}" ` +
        `height="${h.toFixed(1)}" fill="${escapeHtml(s.color)}"><title>${escapeHtml(
          `${s.label}: ${(share * 100).toFixed(1)}% in ${range} ${spec.xLabel}`,
        )}</title></rect>`;
    });
  }
  out += '</g><g class="axis">';
  for (const v of xTicks(edges[0], edges[bins], scale)) {
    const x = pos(v);
    out += `<line x1="${x.toFixed(1)}" y1="${M.top + PH}" x2="${x.toFixed(1)}" y2="${M.top + PH + 4}" class="baseline"/>`;
    out += text(x, M.top + PH + 16, formatNumber(v), 'text-anchor="middle"');
  }
  out += text(M.left + PW / 2, H - 8, `${spec.xLabel}${scale === 'log' ? ' (log scale)' : ''}`, 'text-anchor="middle"');
  out += '</g>';
  for (const m of spec.markers ?? []) {
    if (!Number.isFinite(m.x)) continue;
    const x = pos(Math.min(Math.max(m.x, edges[0]), edges[bins]));
    out +=
      `<g class="marker"><line x1="${x.toFixed(1)}" y1="${M.top}" x2="${x.toFixed(1)}" y2="${M.top + PH}" ` +
      `stroke="#444" stroke-width="2" stroke-dasharray="4 2"/>${text(x - 4, M.top + 12, m.label, 'text-anchor="end"')}</g>`;
  }
  return `${out}</svg>`;
}

/** Grouped vertical bars on a fixed [0, yMax] axis; dashed bars are baselines. */
export function barChartSvg(spec: BarChartSpec): string {
  let out = open(spec.id, spec.title, spec.desc);
  const seen = new Map<string, { label: string; color: string; dashed?: boolean }>();
  for (const g of spec.groups) for (const b of g.bars) if (!seen.has(b.label)) seen.set(b.label, b);
  out += legend([...seen.values()]);
  out += yAxis(spec.yMax, niceStep(spec.yMax / 4), spec.yLabel, (v) => formatNumber(v));
  const gw = PW / Math.max(1, spec.groups.length);
  out += '<g class="bars">';
  spec.groups.forEach((g, gi) => {
    const x0 = M.left + gi * gw + gw * 0.1;
    const bw = (gw * 0.8) / Math.max(1, g.bars.length);
    g.bars.forEach((b, bi) => {
      const v = Number.isFinite(b.value) ? Math.min(Math.max(b.value, 0), spec.yMax) : 0;
      const h = (PH * v) / spec.yMax;
      const x = x0 + bi * bw;
      const fill = b.dashed ? 'none' : escapeHtml(b.color);
      const stroke = b.dashed ? ` stroke="${escapeHtml(b.color)}" stroke-width="2" stroke-dasharray="5 3"` : '';
      out +=
        `<rect x="${(x + 2).toFixed(1)}" y="${(M.top + PH - h).toFixed(1)}" width="${(bw - 4).toFixed(1)}" ` +
        `height="${h.toFixed(1)}" fill="${fill}"${stroke}><title>${escapeHtml(
          `${g.label}, ${b.label}: ${formatNumber(b.value)}`,
        )}</title></rect>`;
      out += text(x + bw / 2, M.top + PH - h - 4, formatNumber(b.value), 'text-anchor="middle" class="value"');
    });
    out += text(M.left + gi * gw + gw / 2, M.top + PH + 18, g.label, 'text-anchor="middle"');
  });
  return `${out}</g></svg>`;
}

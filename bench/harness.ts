/**
 * Small benchmark harness. A figure group is an async function returning
 * figures; bench/run.ts holds the registry and prints them. Timings are
 * medians over several batches, and the cases one figure is compared with
 * (e.g. unwrap against X25519) are measured interleaved, batch by batch, so
 * that load from other tenants of a shared machine hits both alike.
 */

/** One printed number. `name` is stable: scripts and CI compare it across runs. */
export interface Figure {
  name: string;
  value: number;
  unit: string;
}

export interface FigureGroup {
  /** Matched by `--only PREFIX`. */
  name: string;
  description: string;
  /** Opt-in groups run only when `--all` is given or `--only` selects them. */
  optIn?: boolean;
  run(): Promise<Figure[]>;
}

export interface MeasureOptions {
  /** Number of timed batches per case; the median batch is reported. */
  batches?: number;
  /** Target wall time of one batch, which sets the iterations per batch. */
  batchMs?: number;
  /** Untimed warm-up per case (JIT, caches, lazy native init). */
  warmupMs?: number;
}

export interface Measurement {
  /** Median over batches of the mean time per operation, in microseconds. */
  us: number;
  opsPerSec: number;
  iterations: number;
  /** Per-batch µs/op, in measurement order. */
  samples: number[];
  /** (p75 - p25) / median of the batch samples: how noisy this figure was. */
  relIqr: number;
}

const DEFAULTS: Required<MeasureOptions> = { batches: 15, batchMs: 25, warmupMs: 100 };

/** Keeps results alive so the optimiser cannot drop the measured call. */
let sink: unknown;
/** The last result of the last batch (read it to keep `sink` observable). */
export function lastResult(): unknown {
  return sink;
}

function nowNs(): bigint {
  return process.hrtime.bigint();
}

function runBatch(fn: () => unknown, iterations: number): number {
  const t0 = nowNs();
  for (let i = 0; i < iterations; i++) sink = fn();
  return Number(nowNs() - t0);
}

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
}

export function median(xs: number[]): number {
  return quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
}

/** Warms `fn` up for `warmupMs`, then returns how many calls take about `batchMs`. */
function calibrate(fn: () => unknown, batchMs: number, warmupMs: number): number {
  const warmEnd = nowNs() + BigInt(Math.round(warmupMs * 1e6));
  let n = 1;
  let perOpNs = Number.POSITIVE_INFINITY;
  do {
    const ns = runBatch(fn, n);
    perOpNs = Math.min(perOpNs, ns / n);
    if (ns < 1e6) n *= 2;
  } while (nowNs() < warmEnd);
  return Math.max(1, Math.round((batchMs * 1e6) / perOpNs));
}

/**
 * Measures every case in `cases` round-robin: batch 1 of each, then batch 2
 * of each, and so on, so that slow phases of a shared machine are spread over
 * all cases. Returns one Measurement per case key.
 */
export function measureInterleaved<K extends string>(
  cases: Record<K, () => unknown>,
  options: MeasureOptions = {},
): Record<K, Measurement> {
  const { batches, batchMs, warmupMs } = { ...DEFAULTS, ...options };
  const keys = Object.keys(cases) as K[];
  const iterations = {} as Record<K, number>;
  const samples = {} as Record<K, number[]>;
  for (const k of keys) {
    iterations[k] = calibrate(cases[k], batchMs, warmupMs);
    samples[k] = [];
  }
  for (let b = 0; b < batches; b++) {
    // Rotate the starting case so none always runs right after a GC-heavy one.
    for (let j = 0; j < keys.length; j++) {
      const k = keys[(b + j) % keys.length] as K;
      samples[k].push(runBatch(cases[k], iterations[k]) / iterations[k] / 1e3);
    }
  }
  const out = {} as Record<K, Measurement>;
  for (const k of keys) {
    const sorted = [...samples[k]].sort((a, b) => a - b);
    const us = quantile(sorted, 0.5);
    out[k] = {
      us,
      opsPerSec: 1e6 / us,
      iterations: iterations[k],
      samples: samples[k],
      relIqr: (quantile(sorted, 0.75) - quantile(sorted, 0.25)) / us,
    };
  }
  return out;
}

/** One case on its own. */
export function measure(fn: () => unknown, options?: MeasureOptions): Measurement {
  return measureInterleaved({ only: fn }, options).only;
}

export function figure(name: string, value: number, unit: string): Figure {
  return { name, value, unit };
}

/** Rounds to `digits` significant digits: the noise is larger than that anyway. */
export function round(value: number, digits = 4): number {
  if (!Number.isFinite(value) || value === 0) return value;
  return Number(value.toPrecision(digits));
}

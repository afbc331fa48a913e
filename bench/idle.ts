/**
 * What the secure defaults cost when nobody sends anything (issue 10, F12): one source, three
 * proxies and CS with the default network parameters and the daemons' real timers, idle for
 * IDLE_MS after a warm-up. Bytes are counted from each daemon's own packet counters times the
 * fixed frame sizes of docs/protocol.md section 25 (every frame on these links has one size);
 * CPU from /proc/<pid>/stat (user + system time).
 */
import { readFileSync } from 'node:fs';
import { DIRECTORY_FRAME_BYTES } from '../src/node/limits.js';
import { sourceLinkFrameBytes } from '../src/node/wire.js';
import { DEFAULT_GEOMETRY } from '../src/scramble/geometry.js';
import { startCluster } from '../src/sim/processCluster.js';
import type { NodeProcess } from '../src/sim/processes.js';
import { type Figure, figure, round } from './harness.js';

const WARMUP_MS = 40_000;
const IDLE_MS = 120_000;
const CLOCK_TICKS_PER_S = 100;

type Counts = { metrics: { packetsIn: Record<string, number>; packetsOut: Record<string, number> } };

function cpuSeconds(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
}

/** Bytes a source sent and received, from its counters: Sphinx packets, link frames, directory traffic. */
function sourceBytes(c: Counts): { up: number; down: number } {
  const link = sourceLinkFrameBytes(DEFAULT_GEOMETRY.payloadBytes);
  const out = c.metrics.packetsOut;
  const inn = c.metrics.packetsIn;
  const linkOut = ['hello', 'register', 'keepalive', 'ack'].reduce((s, k) => s + (out[k] ?? 0), 0);
  const linkIn = ['boxed', 'delivery'].reduce((s, k) => s + (inn[k] ?? 0), 0);
  return {
    up:
      (out.sphinx ?? 0) * DEFAULT_GEOMETRY.packetSize + linkOut * link + (out.dirRequest ?? 0) * DIRECTORY_FRAME_BYTES,
    down: linkIn * link + (inn.dirResponse ?? 0) * DIRECTORY_FRAME_BYTES,
  };
}

export async function idleFigures(): Promise<Figure[]> {
  const cluster = await startCluster(3, 1, [], {}, { realTiming: true });
  try {
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    const nodes: Array<[string, NodeProcess]> = [
      ['source', cluster.sources[0] as NodeProcess],
      ['proxy', cluster.proxies[0] as NodeProcess],
      ['central', cluster.central],
    ];
    const cpu0 = nodes.map(([, n]) => cpuSeconds(n.proc.pid));
    const c0 = await (cluster.sources[0] as NodeProcess).call<Counts>('status');
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const seconds = (performance.now() - t0) / 1000;
    const c1 = await (cluster.sources[0] as NodeProcess).call<Counts>('status');
    const cpu = nodes.map(([, n], i) => (cpuSeconds(n.proc.pid) - (cpu0[i] as number)) / seconds);
    const b0 = sourceBytes(c0);
    const b1 = sourceBytes(c1);
    const perHour = (x: number) => (x / seconds) * 3600;
    return [
      figure('idle_source_mb_per_hour_up', round(perHour(b1.up - b0.up) / 1e6, 3), 'MB/h'),
      figure('idle_source_mb_per_hour_down', round(perHour(b1.down - b0.down) / 1e6, 3), 'MB/h'),
      ...nodes.map(([role], i) =>
        figure(`idle_${role}_cpu_percent`, round(100 * (cpu[i] as number), 3), '% of a core'),
      ),
      figure('idle_window_s', round(seconds, 3), 's'),
    ];
  } finally {
    await cluster.stop();
  }
}

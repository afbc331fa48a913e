import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Operational counters of one daemon. Deliberately aggregate only: no label
 * carries a peer address, node id or mailbox, because a metrics endpoint that
 * breaks traffic down per link would hand an observer the very correlation the
 * mix exists to hide. Serve it on loopback unless you mean otherwise.
 */
export interface Metrics {
  /** Private to this daemon (not prom-client's global registry), so tests and embedded nodes never collide. */
  readonly registry: Registry;
  readonly packetsIn: Counter<'kind'>;
  readonly packetsOut: Counter<'kind'>;
  readonly drops: Counter<'reason'>;
  readonly replayHits: Counter;
  readonly queueDepth: Gauge;
  /** Mixing delay actually applied per packet, in milliseconds. */
  readonly delayMs: Histogram;
  readonly mailboxEntries: Gauge;
  /** Errors caught by a guard (timer, datagram handler, process): bugs, never bad input. */
  readonly internalErrors: Counter<'where'>;
  /** Plain numbers for a status command: labelled counters become {labelValue: count}. */
  snapshot(): Promise<MetricsSnapshot>;
}

export interface MetricsSnapshot {
  packetsIn: Record<string, number>;
  packetsOut: Record<string, number>;
  drops: Record<string, number>;
  replayHits: number;
  queueDepth: number;
  delayMs: { count: number; sum: number };
  mailboxEntries: number;
  internalErrors: Record<string, number>;
}

/** Covers the configured 0..10 000 ms delay range with finer steps at the low end, where the mean sits. */
export const DELAY_BUCKETS_MS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

export function createMetrics(role: string): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  const registers = [registry];
  const packetsIn = new Counter({
    name: 'mixd_packets_in_total',
    help: 'Packets received, by kind',
    labelNames: ['kind'] as const,
    registers,
  });
  const packetsOut = new Counter({
    name: 'mixd_packets_out_total',
    help: 'Packets sent, by kind',
    labelNames: ['kind'] as const,
    registers,
  });
  const drops = new Counter({
    name: 'mixd_drops_total',
    help: 'Packets dropped, by reason',
    labelNames: ['reason'] as const,
    registers,
  });
  const replayHits = new Counter({
    name: 'mixd_replay_hits_total',
    help: 'Packets rejected as replays',
    registers,
  });
  const queueDepth = new Gauge({ name: 'mixd_queue_depth', help: 'Packets waiting in the mixing queue', registers });
  const delayMs = new Histogram({
    name: 'mixd_delay_milliseconds',
    help: 'Mixing delay applied per packet',
    buckets: DELAY_BUCKETS_MS,
    registers,
  });
  const mailboxEntries = new Gauge({
    name: 'mixd_mailbox_entries',
    help: 'Entries held in mailboxes awaiting acknowledgement',
    registers,
  });

  const internalErrors = new Counter({
    name: 'mixd_internal_errors_total',
    help: 'Errors caught by a guard (a bug), by where they happened',
    labelNames: ['where'] as const,
    registers,
  });

  return {
    registry,
    packetsIn,
    packetsOut,
    drops,
    replayHits,
    queueDepth,
    delayMs,
    mailboxEntries,
    internalErrors,
    async snapshot() {
      const delay = await delayMs.get();
      const pick = (suffix: string) => delay.values.find((v) => v.metricName === `mixd_delay_milliseconds${suffix}`);
      return {
        packetsIn: await byLabel(packetsIn, 'kind'),
        packetsOut: await byLabel(packetsOut, 'kind'),
        drops: await byLabel(drops, 'reason'),
        replayHits: await single(replayHits),
        queueDepth: await single(queueDepth),
        delayMs: { count: pick('_count')?.value ?? 0, sum: pick('_sum')?.value ?? 0 },
        mailboxEntries: await single(mailboxEntries),
        internalErrors: await byLabel(internalErrors, 'where'),
      };
    },
  };
}

async function byLabel<L extends string>(metric: Counter<L>, label: L): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await metric.get()).values) {
    const key = String(v.labels[label] ?? '');
    out[key] = (out[key] ?? 0) + v.value;
  }
  return out;
}

async function single(metric: Counter | Gauge): Promise<number> {
  let sum = 0;
  for (const v of (await metric.get()).values) sum += v.value;
  return sum;
}

export interface MetricsServer {
  /** The bound port (useful when 0 was asked for). */
  readonly port: number;
  close(): Promise<void>;
}

/** Serves `GET /metrics` in Prometheus text format; everything else is 404. */
export function serveMetrics(metrics: Metrics, host: string, port: number): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '').split('?')[0];
    if (url !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${String(err)}\n`);
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((err) => (err ? fail(err) : done()));
            // A scraper's keep-alive connection must not hold the daemon's shutdown open.
            server.closeAllConnections();
          }),
      });
    });
  });
}

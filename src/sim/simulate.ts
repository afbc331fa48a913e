import { writeFileSync } from 'node:fs';
import { startLocalNetwork } from './network.js';
import { percentile } from './stats.js';

interface SimArgs {
  proxies?: number;
  sources?: number;
  duration?: number;
  rate?: number;
  mu?: number;
  seed?: number;
  json?: string;
}

/**
 * `mixd simulate`: a local network in this process, a workload of datagrams
 * between random sources, and a report of what arrived and how late.
 */
export async function runSimulation(raw: Record<string, unknown>): Promise<Record<string, unknown>> {
  const a = raw as SimArgs;
  const proxies = a.proxies ?? 5;
  const sourcesN = a.sources ?? 8;
  const durationS = a.duration ?? 20;
  const rate = a.rate ?? 2;
  const mu = a.mu ?? 50;
  const tty = process.stderr.isTTY;
  const say = (s: string) => process.stderr.write(`${s}\n`);

  say(
    `mixd simulate: 1 central, ${proxies} proxies, ${sourcesN} sources, ${durationS} s at ${rate} msg/s, mean delay ${mu} ms per hop`,
  );
  const net = await startLocalNetwork({
    proxies,
    sources: sourcesN,
    network: { meanDelayMs: mu, maxDelayMs: mu * 20 },
  });
  const sent = new Map<string, number>();
  const latencies: number[] = [];
  let duplicates = 0;
  const got = new Set<string>();
  net.sources.forEach((d) => {
    d.source?.subscribe((m) => {
      const id = Buffer.from(m.data).toString('utf8');
      const t0 = sent.get(id);
      if (t0 === undefined) return;
      if (got.has(id)) {
        duplicates++;
        return;
      }
      got.add(id);
      latencies.push(performance.now() - t0);
    });
  });
  const addresses = net.sources.map((d) => d.source?.address as string);
  let n = 0;
  const start = performance.now();
  const interval = 1000 / rate;
  while (performance.now() - start < durationS * 1000) {
    const from = Math.floor(Math.random() * sourcesN);
    let to = Math.floor(Math.random() * (sourcesN - 1));
    if (to >= from) to++;
    const id = `msg-${n++}`;
    sent.set(id, performance.now());
    net.sources[from]?.source?.sendUnicast(addresses[to] as string, Buffer.from(id));
    const elapsed = Math.round((performance.now() - start) / 1000);
    if (tty) process.stderr.write(`\r  ${elapsed}/${durationS} s  sent ${sent.size}  delivered ${got.size}   `);
    await new Promise((r) => setTimeout(r, interval));
  }
  // Drain: the slowest message needs 3 hops at up to 20·mu each.
  const drainUntil = performance.now() + Math.max(3000, mu * 20 * 3);
  while (got.size < sent.size && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 100));
  if (tty) process.stderr.write('\n');
  await net.stop();

  const report = {
    delivered_ratio: sent.size ? got.size / sent.size : 0,
    deliveries: got.size,
    expected_deliveries: sent.size,
    duplicates,
    latency_ms: {
      p50: percentile(latencies, 0.5),
      p95: percentile(latencies, 0.95),
      p99: percentile(latencies, 0.99),
    },
  };
  say('');
  say(`  delivered      ${got.size}/${sent.size} (${(report.delivered_ratio * 100).toFixed(2)} %)`);
  say(`  duplicates     ${duplicates}`);
  say(
    `  latency p50    ${report.latency_ms.p50.toFixed(1)} ms   p95 ${report.latency_ms.p95.toFixed(1)} ms   p99 ${report.latency_ms.p99.toFixed(1)} ms`,
  );
  if (a.json) writeFileSync(a.json, `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

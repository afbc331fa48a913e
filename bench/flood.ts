/**
 * Strangers against real daemon processes on loopback (issue 10):
 *   max_amplification_unauthenticated  largest reply ÷ request over every datagram a stranger can send
 *   flood_legit_delivery_ratio         group deliveries that arrive while a stranger floods CS and the proxies
 *   flood_rss_growth_mb                largest growth of a daemon's resident memory over the flood
 * See bench/README.md for what each measures and how.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pollingDriver, SystemClock } from '../src/node/clock.js';
import { assemblePages, type Directory, decodePage, mixKeyFor } from '../src/node/directory.js';
import { nodeIdOf } from '../src/node/ids.js';
import { directoryRequestFrame } from '../src/node/wire.js';
import { getCrypto } from '../src/scramble/crypto/index.js';
import { packetGeometry } from '../src/scramble/geometry.js';
import { createPacket } from '../src/scramble/packet.js';
import { systemRng } from '../src/scramble/rng.js';
import { measureAmplification } from '../src/sim/amplification.js';
import { startCluster } from '../src/sim/processCluster.js';
import { collect, type Inbox, type NodeProcess, text } from '../src/sim/processes.js';
import { decodeOrNull, Stranger } from '../src/sim/stranger.js';
import { FAST_TEST_NETWORK } from '../src/sim/testnet.js';
import { formGroups, type GroupMember } from '../src/sim/workload.js';
import type { FloodPlan } from './floodWorker.js';
import { type Figure, figure, round } from './harness.js';

const FLOOD_RATE = 25_000;
const FLOOD_MS = 20_000;
const BASELINE_MS = 8_000;
const FLOOD_SOCKETS = 8;
const MEMBERS = 4;
/** Group messages per second per member (each reaches the other three). */
const LEGIT_PER_MEMBER_PER_S = 4;

export async function amplificationFigures(): Promise<Figure[]> {
  const crypto = getCrypto('sodium');
  const cluster = await startCluster(1, 1, [], { ...FAST_TEST_NETWORK }, { insecureNoCover: true });
  try {
    const cases = await measureAmplification(
      crypto,
      [
        { name: 'central', node: cluster.central },
        { name: 'proxy', node: cluster.proxies[0] as NodeProcess },
        { name: 'source', node: cluster.sources[0] as NodeProcess },
      ],
      cluster.central,
      cluster.centralKey,
    );
    const worst = cases.reduce((a, b) => (b.ratio > a.ratio ? b : a));
    process.stderr.write(
      `bench: amplification: largest ${worst.target} <- ${worst.message}: ${worst.receivedBytes}/${worst.sentBytes} bytes\n`,
    );
    return [
      figure('max_amplification_unauthenticated', round(worst.ratio, 4), 'reply/request bytes'),
      figure('amplification_cases', cases.length, '(target, message) pairs'),
      figure('amplification_cases_answered', cases.filter((c) => c.receivedBytes > 0).length, 'pairs'),
    ];
  } finally {
    await cluster.stop();
  }
}

/** Resident set size of a process, in MB (Linux /proc). */
function rssMb(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

async function fetchDirectory(csPort: number): Promise<Directory> {
  const s = await Stranger.open();
  try {
    s.send(directoryRequestFrame(0, 0), csPort);
    await s.next(() => true);
    const first = decodeOrNull((s.received[0] as { bytes: Uint8Array }).bytes);
    if (first?.type !== 'dirResponse') throw new Error('no directory');
    return assemblePages([decodePage(first.document)]);
  } finally {
    await s.close();
  }
}

/** Sends group messages from every member at a steady pace for `ms`; returns the ids and expected deliveries. */
async function legitTraffic(members: NodeProcess[], label: string, ms: number): Promise<string[]> {
  const ids: string[] = [];
  const start = performance.now();
  let n = 0;
  const gap = 1000 / (LEGIT_PER_MEMBER_PER_S * members.length);
  while (performance.now() - start < ms) {
    const who = members[n % members.length] as NodeProcess;
    const id = `${label}-${n++}`;
    ids.push(id);
    who.call('groupSend', { group: 'flood', data: Buffer.from(id).toString('base64') }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, gap));
  }
  return ids;
}

/** Wilson score interval (95 %) of a proportion k/n. */
function wilson95(k: number, n: number): [number, number] {
  if (n === 0) return [0, 1];
  const z = 1.96;
  const p = k / n;
  const centre = (p + (z * z) / (2 * n)) / (1 + (z * z) / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / (1 + (z * z) / n);
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

function deliveredOf(inboxes: Inbox[], ids: string[]): number {
  const want = new Set(ids);
  let n = 0;
  for (const inbox of inboxes) for (const d of inbox.items) if (want.has(text(d))) n++;
  return n;
}

export async function floodFigures(): Promise<Figure[]> {
  const crypto = getCrypto('sodium');
  // No cover and short delays (below the security floor, on purpose): the legitimate load is then set
  // by this bench alone, and delivery is immediate; the flood meets the same defences either way.
  const cluster = await startCluster(3, MEMBERS, [], { ...FAST_TEST_NETWORK }, { insecureNoCover: true });
  const inboxes: Inbox[] = [];
  try {
    const members = cluster.sources;
    const adapters = members.map(
      (s, i): GroupMember => ({
        address: cluster.addresses[i] as string,
        create: (group) => s.call('groupCreate', { name: group }),
        invite: (group, address, passphrase) => s.call('groupInvite', { group, address, passphrase }),
        pendingInvites: async () => (await s.call<unknown[]>('groupInvites')).length,
        join: (passphrase) => s.call('groupJoin', { passphrase }),
        groups: () => s.call<Array<{ name: string; members: number }>>('groupList'),
      }),
    );
    await formGroups(
      adapters,
      [{ name: 'flood', members: members.map((_, i) => i) }],
      pollingDriver(new SystemClock()),
      120_000,
    );
    for (const m of members) inboxes.push(await collect(m));
    const expected = (ids: string[]) => ids.length * (MEMBERS - 1);
    const drain = async (ids: string[]) => {
      const until = performance.now() + 10_000;
      while (deliveredOf(inboxes, ids) < expected(ids) && performance.now() < until) {
        await new Promise((r) => setTimeout(r, 100));
      }
    };

    // Baseline: the same traffic without a flood.
    const baseIds = await legitTraffic(members, 'base', BASELINE_MS);
    await drain(baseIds);
    const baseline = deliveredOf(inboxes, baseIds) / expected(baseIds);

    // Replays: valid packets a stranger can build from the public directory, one batch per proxy.
    const csPort = cluster.central.ready.listen.port;
    const dir = await fetchDirectory(csPort);
    const geometry = packetGeometry(dir.params.packetSize, dir.params.maxHops);
    const rng = systemRng(crypto);
    const replays = cluster.proxies.map((p) => {
      const node = dir.proxies.find((d) => d.address === `127.0.0.1:${p.ready.listen.port}`);
      if (!node) return [];
      const route = [
        {
          publicKey: mixKeyFor(node, dir.epoch) as Uint8Array,
          command: { kind: 'relay' as const, next: nodeIdOf(crypto, dir.central.identityKey), delayMs: 0 },
        },
        { publicKey: mixKeyFor(dir.central, dir.epoch) as Uint8Array, command: { kind: 'drop' as const } },
      ];
      return Array.from({ length: 8 }, () =>
        Buffer.from(createPacket(crypto, geometry, route, new Uint8Array(0), rng)).toString('hex'),
      );
    });
    const daemons: Array<{ role: string; node: NodeProcess }> = [
      { role: 'central', node: cluster.central },
      ...cluster.proxies.map((node) => ({ role: 'proxy', node })),
      ...members.map((node) => ({ role: 'source', node })),
    ];
    const rssBefore = daemons.map((d) => rssMb(d.node.proc.pid));
    const rssMax = [...rssBefore];
    const sampler = setInterval(() => {
      daemons.forEach((d, i) => {
        rssMax[i] = Math.max(rssMax[i] as number, rssMb(d.node.proc.pid));
      });
    }, 500);

    const plan: FloodPlan = {
      rate: FLOOD_RATE,
      durationMs: FLOOD_MS,
      sockets: FLOOD_SOCKETS,
      packetSize: geometry.packetSize,
      central: csPort,
      proxies: cluster.proxies.map((p) => p.ready.listen.port),
      replays,
    };
    const worker = spawn(
      process.execPath,
      ['--import', 'tsx', resolve(import.meta.dirname, 'floodWorker.ts'), JSON.stringify(plan)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    worker.stdout.on('data', (c) => {
      out += c;
    });
    const workerDone = new Promise<void>((r) => worker.once('exit', () => r()));
    // Give the worker a moment to start, then send the same legitimate traffic through the flood.
    await new Promise((r) => setTimeout(r, 1500));
    const floodIds = await legitTraffic(members, 'flood', FLOOD_MS - 3000);
    await workerDone;
    await drain(floodIds);
    clearInterval(sampler);
    const sent = JSON.parse(out.trim().split('\n').pop() as string) as {
      sent: number;
      errors: number;
      elapsedMs: number;
    };
    const ratio = deliveredOf(inboxes, floodIds) / expected(floodIds);

    const growth = daemons.map((_, i) => (rssMax[i] as number) - (rssBefore[i] as number));
    const byRole = (role: string) =>
      Math.max(...daemons.flatMap((d, i) => (d.role === role ? [growth[i] as number] : [])));
    let refused = 0;
    for (const d of daemons) {
      const st = await d.node.call<{ metrics: { drops: Record<string, number> } }>('status');
      refused += st.metrics.drops.rate_limited ?? 0;
      process.stderr.write(
        `bench: flood: ${d.role} ${d.node.ready.listen.port} drops ${JSON.stringify(st.metrics.drops)}\n`,
      );
    }
    const [low, high] = wilson95(deliveredOf(inboxes, floodIds), expected(floodIds));
    return [
      figure('flood_legit_delivery_ratio', round(ratio, 4), 'delivered/expected'),
      figure('flood_legit_delivery_ratio_ci95_low', round(low, 4), 'delivered/expected'),
      figure('flood_legit_delivery_ratio_ci95_high', round(high, 4), 'delivered/expected'),
      figure('flood_legit_deliveries_expected', expected(floodIds), 'deliveries'),
      figure('flood_baseline_delivery_ratio', round(baseline, 4), 'delivered/expected'),
      figure('flood_datagrams_per_s', Math.round(sent.sent / (sent.elapsedMs / 1000)), 'datagrams/s'),
      figure('flood_datagrams_sent', sent.sent, 'datagrams'),
      figure('flood_duration_s', round(sent.elapsedMs / 1000, 3), 's'),
      figure('flood_rate_limited', refused, 'datagrams'),
      figure('flood_rss_growth_mb', round(Math.max(...growth), 3), 'MB'),
      figure('flood_rss_growth_mb_central', round(byRole('central'), 3), 'MB'),
      figure('flood_rss_growth_mb_proxy', round(byRole('proxy'), 3), 'MB'),
      figure('flood_rss_growth_mb_source', round(byRole('source'), 3), 'MB'),
    ];
  } finally {
    for (const i of inboxes) i.close();
    await cluster.stop();
  }
}

import { writeFileSync } from 'node:fs';
import { DEFAULT_NETWORK } from '../node/config.js';
import { hex } from '../node/ids.js';
import { MIN_MIX_OCCUPANCY, securityProblems } from '../node/securityFloor.js';
import { analyseAnonymity, mulberry32, type TrueMessage } from './adversary.js';
import {
  buildReport,
  countPacketsByRole,
  type RunParts,
  renderHtmlReport,
  type SimReport,
  summaryTable,
  writeJsonReport,
} from './report.js';
import { inProcessNetwork, multiProcessNetwork } from './simNetwork.js';
import { planGroups } from './workload.js';

export interface SimOptions {
  proxies: number;
  sources: number;
  groups: number;
  groupSize: number;
  /** Seconds of workload per run (defended, then ablation). */
  duration: number;
  /** Group messages per second, whole network (Poisson). */
  rate: number;
  /** Mean per-hop delay, ms. */
  mu: number;
  cover: boolean;
  /** Source sending rate λ (packets/s) when cover is on. */
  lambda: number;
  seed: number;
  json?: string;
  report?: string;
  quiet?: boolean;
  /** Every daemon in its own OS process instead of all in this one. */
  processes?: boolean;
}

export const DEFAULT_SIM: SimOptions = {
  proxies: 5,
  sources: 10,
  groups: 3,
  groupSize: 4,
  duration: 8,
  rate: 8,
  mu: 50,
  cover: true,
  lambda: 20,
  seed: 1,
};

/** Delays a group message crosses between S and CS: P1's relay delay, P2's hold, P3's relay delay. */
const DELAY_STAGES = 3;
const INVITE_KDF = { opsLimit: 1, memLimitBytes: 8 * 1024 * 1024 };

interface RunResult {
  parts: RunParts;
  latencies: number[];
  entropies: number[];
}

function progress(quiet: boolean | undefined): (s: string, done?: boolean) => void {
  const tty = process.stderr.isTTY;
  return (s, done) => {
    if (quiet) return;
    if (tty) process.stderr.write(`\r\x1b[2K${s}${done ? '\n' : ''}`);
    else if (done) process.stderr.write(`${s}\n`);
  };
}

/** One run of the workload on a fresh network, observed by the global passive adversary. */
async function runOnce(o: SimOptions, label: string, defended: boolean): Promise<RunResult> {
  const say = progress(o.quiet);
  const mu = defended ? o.mu : 0;
  const cover = defended && o.cover;
  say(
    `${label}: starting 1 central, ${o.proxies} proxies, ${o.sources} sources${o.processes ? ' as separate processes' : ''}`,
  );
  const network = {
    meanDelayMs: mu,
    maxDelayMs: Math.max(100, mu * 20),
    lambdaPerSecond: cover ? o.lambda : 0,
    loopPerSecond: cover ? o.lambda / 5 : 0,
    // Enough mix loops for the security floor's occupancy of 2 packets per mix at this mean delay.
    mixLoopPerSecond: cover ? Math.max(2, mu > 0 ? (MIN_MIX_OCCUPANCY * 1000) / (2 * mu) : 0) : 0,
    deliveryPerSecond: cover ? o.lambda : 0,
  };
  // The ablation is below the floor by design; a defended run only when the user asked for that.
  const insecureNoCover = securityProblems({ ...DEFAULT_NETWORK, ...network }).length > 0;
  const netOptions = {
    proxies: o.proxies,
    sources: o.sources,
    network,
    inviteKdf: INVITE_KDF,
    insecureNoCover,
  };
  const net = o.processes ? await multiProcessNetwork(netOptions) : await inProcessNetwork(netOptions);
  try {
    const sourceEndpoints = net.sourceEndpoints;
    say(`${label}: forming ${o.groups} groups of ${o.groupSize} (invites, passphrases, announcements)`);
    const groups = planGroups(o.seed, o.sources, o.groups, o.groupSize);
    await net.formGroups(groups);

    const messages = new Map<string, TrueMessage>();
    const seenAt = new Map<string, Set<string>>();
    let duplicates = 0;
    let nonMember = 0;
    let delivered = 0;
    const latencies: number[] = [];
    net.onGroupDatagram((i, _group, data, at) => {
      const id = Buffer.from(data).toString('utf8');
      const m = messages.get(id);
      if (!m) return;
      const me = sourceEndpoints[i] as string;
      if (!m.recipients.includes(me)) {
        nonMember++;
        return;
      }
      const seen = seenAt.get(id) ?? new Set<string>();
      if (seen.has(me)) {
        duplicates++;
        return;
      }
      seen.add(me);
      seenAt.set(id, seen);
      delivered++;
      m.deliveries.push({ recipient: me, atMs: at });
      latencies.push(at - m.sentAtMs);
    });

    // The adversary starts watching when the workload starts.
    net.startObserving();
    const rnd = mulberry32(o.seed * 7919 + (defended ? 1 : 2));
    const start = performance.now();
    let n = 0;
    let next = start;
    while (performance.now() - start < o.duration * 1000) {
      const now = performance.now();
      if (now >= next) {
        const g = groups[Math.floor(rnd() * groups.length)] as (typeof groups)[0];
        const senderIdx = g.members[Math.floor(rnd() * g.members.length)] as number;
        const id = `sim:${label}:${n++}:${hex(new Uint8Array([Math.floor(rnd() * 256)]))}`;
        messages.set(id, {
          id,
          sender: sourceEndpoints[senderIdx] as string,
          sentAtMs: net.now(),
          group: g.name,
          recipients: g.members.filter((m) => m !== senderIdx).map((m) => sourceEndpoints[m] as string),
          deliveries: [],
        });
        net.send(senderIdx, g.name, Buffer.from(id));
        next += (-Math.log(1 - rnd()) / o.rate) * 1000;
      }
      say(
        `${label}: ${((now - start) / 1000).toFixed(1)}/${o.duration} s  sent ${messages.size}  delivered ${delivered}`,
      );
      await new Promise((r) => setTimeout(r, Math.max(1, Math.min(50, next - performance.now()))));
    }
    const expected = [...messages.values()].reduce((k, m) => k + m.recipients.length, 0);
    const drainUntil = performance.now() + Math.max(4000, mu * 20 * 6);
    while (delivered < expected && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 50));
    const durationS = (performance.now() - start) / 1000;
    const events = await net.stopObserving();
    say(`${label}: ${delivered}/${expected} delivered; analysing ${events.length} link events`, true);

    const anonymity = analyseAnonymity({
      events,
      roles: net.roles,
      messages: [...messages.values()],
      meanDelayMs: mu,
      delayStages: DELAY_STAGES,
    });
    return {
      parts: {
        deliveries: delivered,
        expectedDeliveries: expected,
        duplicates,
        nonMemberDeliveries: nonMember,
        latenciesMs: latencies,
        packets: countPacketsByRole(events, net.roles),
        durationS,
        anonymity,
      },
      latencies,
      entropies: anonymity.entropies,
    };
  } finally {
    await net.stop();
  }
}

/** `mixd simulate`: the defended run, the ablation (no delays, no cover), and the report. */
export async function simulate(options: Partial<SimOptions> = {}): Promise<SimReport> {
  const o = { ...DEFAULT_SIM, ...options };
  const defended = await runOnce(o, 'defended', true);
  const ablation = await runOnce(o, 'ablation', false);
  const params = {
    proxies: o.proxies,
    sources: o.sources,
    groups: o.groups,
    group_size: o.groupSize,
    duration_s: o.duration,
    rate_msgs_per_s: o.rate,
    mu_ms: o.mu,
    cover: o.cover,
    lambda_per_s: o.lambda,
    seed: o.seed,
    processes: Boolean(o.processes),
  };
  const report = buildReport({ defended: defended.parts, ablation: ablation.parts, params });
  if (o.json) writeJsonReport(o.json, report);
  if (o.report) {
    writeFileSync(
      o.report,
      renderHtmlReport(report, {
        latencies: defended.latencies,
        entropies: defended.entropies,
        ablationLatencies: ablation.latencies,
        ablationEntropies: ablation.entropies,
        params,
      }),
    );
  }
  return report;
}

function num(v: unknown, name: string, min: number, max: number, integer = true): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    const e = new Error(
      `--${name} must be ${integer ? 'an integer' : 'a number'} between ${min} and ${max} (got ${String(v)})`,
    );
    e.name = 'UsageError';
    throw e;
  }
  return n;
}

/** CLI entry: validates flags, runs, prints the summary. */
export async function runSimulation(raw: Record<string, unknown>): Promise<SimReport> {
  const cover = raw.cover === undefined ? undefined : String(raw.cover);
  if (cover !== undefined && cover !== 'on' && cover !== 'off') {
    const e = new Error(`--cover must be "on" or "off" (got ${cover})`);
    e.name = 'UsageError';
    throw e;
  }
  const opts: Partial<SimOptions> = {};
  const set = <K extends keyof SimOptions>(k: K, v: SimOptions[K] | undefined) => {
    if (v !== undefined) opts[k] = v;
  };
  set('proxies', num(raw.proxies, 'proxies', 2, 50));
  set('sources', num(raw.sources, 'sources', 2, 200));
  set('groups', num(raw.groups, 'groups', 1, 50));
  set('groupSize', num(raw['group-size'], 'group-size', 2, 100));
  set('duration', num(raw.duration, 'duration', 1, 3600, false));
  set('rate', num(raw.rate, 'rate', 0.1, 1000, false));
  set('mu', num(raw.mu, 'mu', 0, 10_000, false));
  set('lambda', num(raw.lambda, 'lambda', 0.1, 1000, false));
  set('seed', num(raw.seed, 'seed', 0, 2 ** 31));
  if (cover) opts.cover = cover === 'on';
  if (typeof raw.json === 'string') opts.json = raw.json;
  if (typeof raw.report === 'string') opts.report = raw.report;
  if (raw.processes === true) opts.processes = true;
  const o = { ...DEFAULT_SIM, ...opts };
  if (o.groupSize > o.sources) {
    const e = new Error(`--group-size (${o.groupSize}) cannot exceed --sources (${o.sources})`);
    e.name = 'UsageError';
    throw e;
  }
  process.stderr.write(
    `mixd simulate: ${o.proxies} proxies, ${o.sources} sources, ${o.groups} groups of ${o.groupSize}, ${o.duration} s at ${o.rate} msg/s, mu ${o.mu} ms, cover ${o.cover ? `on (lambda ${o.lambda}/s)` : 'off'}, seed ${o.seed}\n`,
  );
  const report = await simulate(o);
  process.stdout.write(`\n${summaryTable(report)}\n`);
  if (o.json) process.stdout.write(`JSON report: ${o.json}\n`);
  if (o.report) process.stdout.write(`HTML report: ${o.report}\n`);
  return report;
}

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InviteKdf } from '../group/invite.js';
import { pollingDriver, SystemClock } from '../node/clock.js';
import type { NetworkParams } from '../node/config.js';
import { peerKey, type SentDatagram } from '../node/transport.js';
import type { SourceNode } from '../source/sourceNode.js';
import type { LinkEvent, Role } from './adversary.js';
import { startCluster } from './processCluster.js';
import { collect, type Inbox } from './processes.js';
import { createTestnet } from './testnet.js';
import { formGroups, type GroupMember, type SimGroup } from './workload.js';

/** What the workload driver needs from a network, in one process or in many. */
export interface SimNetwork {
  roles: Map<string, Role>;
  sourceEndpoints: string[];
  /** The clock link events and deliveries are stamped with. */
  now(): number;
  formGroups(groups: SimGroup[]): Promise<void>;
  send(source: number, group: string, data: Uint8Array): void;
  onGroupDatagram(fn: (source: number, group: string, data: Uint8Array, atMs: number) => void): void;
  startObserving(): void;
  stopObserving(): Promise<LinkEvent[]>;
  stop(): Promise<void>;
}

export interface SimNetworkOptions {
  proxies: number;
  sources: number;
  network: Partial<NetworkParams>;
  inviteKdf?: InviteKdf;
  /** The parameters are below the security floor on purpose (the ablation, or the user's choice). */
  insecureNoCover?: boolean;
}

/** The adversary's view of one datagram: endpoints and size, no content. */
export function linkEvent(d: SentDatagram): LinkEvent {
  return { timeMs: d.timeMs, from: peerKey(d.from), to: peerKey(d.to), size: d.bytes.length };
}

/** Every daemon in this process on real loopback UDP, in real time; the adversary is a tap on every transport. */
export async function inProcessNetwork(o: SimNetworkOptions): Promise<SimNetwork> {
  const net = await createTestnet(null, {
    world: 'real',
    proxies: o.proxies,
    sources: o.sources,
    network: o.network,
    inviteKdf: o.inviteKdf,
    insecureNoCover: o.insecureNoCover,
  });
  const roles = new Map<string, Role>();
  roles.set(peerKey(net.central.local), 'central');
  for (const p of net.proxies) roles.set(peerKey(p.local), 'proxy');
  for (const s of net.sources) roles.set(peerKey(s.local), 'source');
  const sources = net.sources.map((d) => d.source as SourceNode);
  const now = () => net.clock.preciseNow();
  let events: LinkEvent[] = [];
  let untap: (() => void) | null = null;
  return {
    roles,
    sourceEndpoints: net.sources.map((d) => peerKey(d.local)),
    now,
    formGroups: (groups) => net.formGroups(groups),
    send: (i, group, data) => {
      (sources[i] as SourceNode).groups.send(group, data);
    },
    onGroupDatagram: (fn) => {
      for (const [i, s] of sources.entries()) {
        s.subscribe((d) => {
          if (d.kind === 'group' && d.group) fn(i, d.group, d.data, now());
        });
      }
    },
    startObserving: () => {
      events = [];
      untap = net.tap((d) => events.push(linkEvent(d)));
    },
    stopObserving: async () => {
      untap?.();
      untap = null;
      return events;
    },
    stop: async () => {
      untap?.();
      await net.stop();
    },
  };
}

/**
 * Every daemon its own OS process (`--processes`). Each writes what it sends
 * to a file under MIXD_SIM_TAP_DIR (simulation only), stamped with the
 * machine's wall clock, and the files are merged into one trace.
 */
export async function multiProcessNetwork(o: SimNetworkOptions): Promise<SimNetwork> {
  const tapDir = mkdtempSync(join(tmpdir(), 'mixd-tap-'));
  const previous = process.env.MIXD_SIM_TAP_DIR;
  process.env.MIXD_SIM_TAP_DIR = tapDir;
  const network: Record<string, number> = {};
  for (const [k, v] of Object.entries(o.network)) if (typeof v === 'number') network[k] = v;
  let cluster: Awaited<ReturnType<typeof startCluster>>;
  try {
    cluster = await startCluster(o.proxies, o.sources, [], network, { insecureNoCover: o.insecureNoCover });
  } finally {
    if (previous === undefined) delete process.env.MIXD_SIM_TAP_DIR;
    else process.env.MIXD_SIM_TAP_DIR = previous;
  }
  const ep = (n: { ready: { listen: { port: number } } }) => `127.0.0.1:${n.ready.listen.port}`;
  const roles = new Map<string, Role>();
  roles.set(ep(cluster.central), 'central');
  for (const p of cluster.proxies) roles.set(ep(p), 'proxy');
  for (const s of cluster.sources) roles.set(ep(s), 'source');
  const inboxes: Inbox[] = [];
  const listeners: Array<(source: number, group: string, data: Uint8Array, atMs: number) => void> = [];
  let observeFrom = Number.POSITIVE_INFINITY;
  let observeTo = Number.POSITIVE_INFINITY;
  const wall = () => performance.timeOrigin + performance.now();

  const sim: SimNetwork = {
    roles,
    sourceEndpoints: cluster.sources.map(ep),
    now: wall,
    async formGroups(groups) {
      const members = cluster.sources.map(
        (s, i): GroupMember => ({
          address: cluster.addresses[i] as string,
          create: (group) => s.call('groupCreate', { name: group }),
          invite: (group, address, passphrase) => s.call('groupInvite', { group, address, passphrase }),
          pendingInvites: async () => (await s.call<unknown[]>('groupInvites')).length,
          // Several invites may be pending and join then needs an id: take the oldest.
          join: async (passphrase) => {
            const pending = await s.call<Array<{ id: string }>>('groupInvites');
            return s.call('groupJoin', { invite: pending[0]?.id ?? '', passphrase });
          },
          groups: () => s.call<Array<{ name: string; members: number }>>('groupList'),
        }),
      );
      await formGroups(members, groups, pollingDriver(new SystemClock(), 50), 120_000);
      for (const [i, s] of cluster.sources.entries()) {
        const inbox = await collect(s);
        inboxes.push(inbox);
        const seen = { n: 0 };
        // Poll the inbox (events arrive on the control socket).
        const timer = setInterval(() => {
          while (seen.n < inbox.items.length) {
            const d = inbox.items[seen.n++] as (typeof inbox.items)[0];
            if (d.kind !== 'group' || !d.group) continue;
            for (const l of listeners)
              l(i, d.group, new Uint8Array(Buffer.from(d.data, 'base64')), d.receivedAtMs ?? wall());
          }
        }, 20);
        timer.unref();
      }
    },
    send(i, group, data) {
      void (cluster.sources[i] as (typeof cluster.sources)[0]).call('groupSend', {
        group,
        data: Buffer.from(data).toString('base64'),
      });
    },
    onGroupDatagram(fn) {
      listeners.push(fn);
    },
    startObserving() {
      observeFrom = wall();
    },
    async stopObserving() {
      observeTo = wall();
      return [];
    },
    async stop() {
      for (const i of inboxes) i.close();
      // A graceful stop flushes every process's tap file.
      await Promise.all([...cluster.sources, ...cluster.proxies, cluster.central].map((n) => n.stop('SIGTERM')));
      await cluster.stop();
    },
  };
  // Events are only complete once the processes have exited: read them in stop order.
  const stop = sim.stop;
  sim.stopObserving = async () => {
    observeTo = wall();
    await stop();
    const events: LinkEvent[] = [];
    for (const f of readdirSync(tapDir)) {
      for (const line of readFileSync(join(tapDir, f), 'utf8').split('\n')) {
        if (!line) continue;
        const e = JSON.parse(line) as LinkEvent;
        if (e.timeMs >= observeFrom && e.timeMs <= observeTo) events.push(e);
      }
    }
    rmSync(tapDir, { recursive: true, force: true });
    events.sort((a, b) => a.timeMs - b.timeMs);
    return events;
  };
  sim.stop = async () => {
    if (cluster.central.proc.exitCode === null && cluster.central.proc.signalCode === null) await stop();
    rmSync(tapDir, { recursive: true, force: true });
  };
  return sim;
}

/**
 * A toy mixnet in pure code that writes a trace in the format of
 * src/sim/trace.ts, with known answers, for testing the adversary suite.
 *
 * Sources emit packets as a Poisson process of rate λ (a queued group
 * bundle if one waits, else a drop cover packet), or send bundles at once
 * when λ = 0. A bundle goes S → P1 → P2; P2 fans it out into one copy per
 * recipient, each held for its own exponential delay and sent P2 → P3 → CS;
 * CS stores and delivers it at once to the recipient. Drop cover ends at
 * CS; loops come back to their sender. Every hop has an exponential delay
 * of mean μ and every link a latency. A link interceptor (an active attack)
 * may drop or hold first-hop datagrams. Deterministic for a seed.
 */

import type { LinkInterceptor } from '../../../src/sim/adversaries/activeControllers.js';
import type { Endpoint, Role } from '../../../src/sim/adversaries/observation.js';
import { mulberry32 } from '../../../src/sim/stats.js';
import type { PacketKind, TraceRecord, TruthHop, TruthPacketRecord } from '../../../src/sim/trace.js';

export const TOY_PACKET_BYTES = 2048;
export const TOY_DELIVERY_BYTES = 1749;

export interface ToyOptions {
  seed: number;
  sources: number;
  proxies: number;
  /** Member indexes of each group. Default: `groupCount` random groups of `groupSize`. */
  groups?: number[][];
  groupCount?: number;
  groupSize?: number;
  durationMs: number;
  /** Real group messages per second over the whole network (Poisson; random group, random member). */
  messagesPerS: number;
  muMs: number;
  /** Per-source sending rate (cover on); 0 = bundles leave at once, no cover. */
  lambdaPerS: number;
  loopPerS?: number;
  /** Link latency (ms) plus uniform jitter in [0, jitterMs). */
  latencyMs?: number;
  jitterMs?: number;
  /** CS obs name the owner of each mailbox (today's protocol). Default true. */
  csKnowsOwners?: boolean;
  /** The sender gets a copy of its own message (issue 9). Default false. */
  senderGetsCopy?: boolean;
  /** Extra messages per second from one sender to one group (a planted contact for the SDA). */
  planted?: { sender: number; group: number; perS: number };
  interceptor?: LinkInterceptor;
}

export interface ToyNetwork {
  records: TraceRecord[];
  sources: string[];
  proxies: string[];
  central: string;
  groups: number[][];
}

interface QueueItem {
  t: number;
  seq: number;
  run: () => void;
}

/** Binary min-heap on (t, seq). */
class EventQueue {
  private readonly heap: QueueItem[] = [];
  private seq = 0;
  /** Time of the event being run. */
  now = 0;
  push(t: number, run: () => void): void {
    const h = this.heap;
    h.push({ t, seq: this.seq++, run });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(h[p], h[i])) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
  }
  pop(): QueueItem | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop() as QueueItem;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l], h[m])) m = l;
        if (r < h.length && less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }
}

function less(a: QueueItem, b: QueueItem): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}

interface Packet {
  truth: TruthPacketRecord;
}

export function toyMixnet(o: ToyOptions): ToyNetwork {
  const rnd = mulberry32(o.seed);
  const exp = (mean: number) => (mean > 0 ? -Math.log(1 - rnd()) * mean : 0);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const hex = () => {
    let s = '';
    for (let i = 0; i < 2; i++)
      s += Math.floor(rnd() * 2 ** 32)
        .toString(16)
        .padStart(8, '0');
    return s;
  };
  const sources = Array.from({ length: o.sources }, (_, i) => `10.0.${i >> 8}.${i & 255}:4000`);
  const proxies = Array.from({ length: o.proxies }, (_, i) => `10.1.0.${i}:5000`);
  const central = '10.2.0.1:6000';
  const groups =
    o.groups ??
    Array.from({ length: o.groupCount ?? 3 }, () => {
      const pool = Array.from({ length: o.sources }, (_, i) => i);
      const members: number[] = [];
      while (members.length < Math.min(o.groupSize ?? 4, o.sources))
        members.push(pool.splice(Math.floor(rnd() * pool.length), 1)[0]);
      return members.sort((a, b) => a - b);
    });
  const latency = o.latencyMs ?? 1;
  const jitter = o.jitterMs ?? 0;
  const knowsOwners = o.csKnowsOwners ?? true;
  const roles = new Map<string, Role>();
  const endpoints: Endpoint[] = [{ id: central, role: 'central', name: 'cs' }];
  roles.set(central, 'central');
  proxies.forEach((p, i) => {
    endpoints.push({ id: p, role: 'proxy', name: `p${i}` });
    roles.set(p, 'proxy');
  });
  sources.forEach((s, i) => {
    endpoints.push({ id: s, role: 'source', name: `s${i}` });
    roles.set(s, 'source');
  });

  const records: TraceRecord[] = [];
  const packets: Packet[] = [];
  const q = new EventQueue();
  let packetSeq = 0;
  let entrySeq = 0;
  const messages = new Map<string, { rec: Extract<TraceRecord, { what: 'message' }>; got: Set<string> }>();

  const newPacket = (kind: PacketKind, msg?: string, recipient?: string): Packet => {
    const truth: TruthPacketRecord = { type: 'truth', what: 'packet', id: `pk${packetSeq++}`, kind, hops: [] };
    if (msg !== undefined) truth.msg = msg;
    if (recipient !== undefined) truth.recipient = recipient;
    const p = { truth };
    packets.push(p);
    return p;
  };

  /** Puts a datagram on the link from→to at time t (through the interceptor on first hops); `arrive` runs at the far end. */
  const send = (
    t: number,
    from: string,
    to: string,
    size: number,
    p: Packet,
    arrive: (at: number, hash: string) => void,
  ) => {
    const hash = hex();
    let at = t;
    if (o.interceptor) {
      const v = o.interceptor.decide({ t, from, to, size, hash });
      if (v.action === 'drop') return;
      if (v.action === 'hold') at = v.untilMs;
    }
    const emit = () => {
      records.push({ type: 'link', t: at, from, to, size, hash });
      const hop: TruthHop = { hash, from, to, t: at };
      p.truth.hops.push(hop);
      q.push(at + latency + (jitter > 0 ? rnd() * jitter : 0), () => arrive(q.now, hash));
    };
    if (at === t) emit();
    else q.push(at, emit);
  };

  const otherProxy = (not: string[]): string => {
    const pool = proxies.filter((p) => !not.includes(p));
    return pick(pool.length ? pool : proxies);
  };

  /** A proxy relays a packet: obs at arrival, link after the delay. */
  const relay = (
    node: string,
    at: number,
    inHash: string,
    next: string,
    delay: number,
    p: Packet,
    onward: (at: number, hash: string) => void,
  ) => {
    const outHash = hex();
    records.push({
      type: 'obs',
      t: at,
      node,
      op: 'relay',
      in: inHash,
      out: [{ hash: outHash, to: next, delayMs: delay }],
    });
    q.push(at + delay, () => sendWithHash(at + delay, node, next, TOY_PACKET_BYTES, p, outHash, onward));
  };
  /** Like send, with a hash already announced in an obs record (proxies are not intercepted). */
  const sendWithHash = (
    t: number,
    from: string,
    to: string,
    size: number,
    p: Packet,
    hash: string,
    arrive: (at: number, hash: string) => void,
  ) => {
    records.push({ type: 'link', t, from, to, size, hash });
    p.truth.hops.push({ hash, from, to, t });
    q.push(t + latency + (jitter > 0 ? rnd() * jitter : 0), () => arrive(q.now, hash));
  };

  const deliverAtCs = (at: number, inHash: string, p: Packet, op: string, owner: string | undefined, real: boolean) => {
    const entry = `e${++entrySeq}`;
    const obs: TraceRecord = { type: 'obs', t: at, node: central, op, in: inHash, entry };
    if (owner !== undefined) {
      obs.key = `mb-${owner}`;
      if (knowsOwners) obs.owner = owner;
    }
    records.push(obs);
    if (owner === undefined) return;
    const outHash = hex();
    records.push({ type: 'obs', t: at, node: central, op: 'send', out: [{ hash: outHash, to: owner }], real, entry });
    sendWithHash(at, central, owner, TOY_DELIVERY_BYTES, p, outHash, (rt) => {
      const m = p.truth.msg === undefined ? undefined : messages.get(p.truth.msg);
      if (m && !m.got.has(owner)) {
        m.got.add(owner);
        m.rec.received.push({ recipient: owner, t: rt });
      }
    });
  };

  /** The path S → P1 → P2 → P3 → CS of cover and loops. */
  const emitFourHop = (t: number, s: string, kind: 'cover' | 'loop') => {
    const p = newPacket(kind);
    const p1 = pick(proxies);
    const p2 = otherProxy([p1]);
    const p3 = otherProxy([p2]);
    const [d1, d2, d3] = [exp(o.muMs), exp(o.muMs), exp(o.muMs)];
    send(t, s, p1, TOY_PACKET_BYTES, p, (a1, h1) =>
      relay(p1, a1, h1, p2, d1, p, (a2, h2) =>
        relay(p2, a2, h2, p3, d2, p, (a3, h3) =>
          relay(p3, a3, h3, central, d3, p, (a4, h4) =>
            kind === 'cover'
              ? deliverAtCs(a4, h4, p, 'drop', undefined, false)
              : deliverAtCs(a4, h4, p, 'deliver', s, false),
          ),
        ),
      ),
    );
  };

  const emitBundle = (t: number, s: string, msg: string, group: number, recipients: string[]) => {
    const bundle = newPacket('real', msg);
    const p1 = pick(proxies);
    const p2 = otherProxy([p1]);
    const d1 = exp(o.muMs);
    send(t, s, p1, TOY_PACKET_BYTES, bundle, (a1, h1) =>
      relay(p1, a1, h1, p2, d1, bundle, (a2, h2) => {
        const copies = recipients.map((r) => {
          const p = newPacket('real', msg, r);
          return { r, p, p3: otherProxy([p2]), d2: exp(o.muMs), d3: exp(o.muMs), hash: hex() };
        });
        records.push({
          type: 'obs',
          t: a2,
          node: p2,
          op: 'fanout',
          in: h2,
          key: `gk-${group}`,
          out: copies.map((c) => ({ hash: c.hash, to: c.p3, delayMs: c.d2 })),
        });
        records.push({
          type: 'truth',
          what: 'fanout',
          t: a2,
          node: p2,
          bundle: bundle.truth.id,
          copies: copies.map((c) => c.p.truth.id),
          msg,
        });
        for (const c of copies) {
          q.push(a2 + c.d2, () =>
            sendWithHash(a2 + c.d2, p2, c.p3, TOY_PACKET_BYTES, c.p, c.hash, (a3, h3) =>
              relay(c.p3, a3, h3, central, c.d3, c.p, (a4, h4) => deliverAtCs(a4, h4, c.p, 'deliverToken', c.r, true)),
            ),
          );
        }
      }),
    );
  };

  // Per-source send queues (Loopix: a real packet takes the next slot of the λ process).
  const queues = sources.map(() => [] as Array<(t: number) => void>);
  const submit = (t: number, si: number, emit: (t: number) => void) => {
    if (o.lambdaPerS > 0) queues[si].push(emit);
    else emit(t);
  };
  let msgSeq = 0;
  const newMessage = (t: number, gi: number, si: number) => {
    const g = groups[gi];
    const s = sources[si];
    const id = `m${msgSeq++}`;
    const recipients = g.filter((m) => m !== si).map((m) => sources[m]);
    const copyTo = o.senderGetsCopy ? [...recipients, s] : recipients;
    const rec = {
      type: 'truth' as const,
      what: 'message' as const,
      id,
      group: `g${gi}`,
      sender: s,
      recipients,
      sentAt: t,
      received: [] as Array<{ recipient: string; t: number }>,
    };
    messages.set(id, { rec, got: new Set() });
    submit(t, si, (at) => emitBundle(at, s, id, gi, copyTo));
  };

  const end = o.durationMs;
  const poisson = (ratePerS: number, start: number, fn: (t: number) => void) => {
    if (!(ratePerS > 0)) return;
    const step = (t: number) => {
      if (t >= end) return;
      fn(t);
      q.push(t + exp(1000 / ratePerS), () => step(q.now));
    };
    q.push(start + exp(1000 / ratePerS), () => step(q.now));
  };
  poisson(o.messagesPerS, 0, (t) => {
    const gi = Math.floor(rnd() * groups.length);
    newMessage(t, gi, pick(groups[gi]));
  });
  if (o.planted) {
    const pl = o.planted;
    poisson(pl.perS, 0, (t) => newMessage(t, pl.group, pl.sender));
  }
  sources.forEach((s, si) => {
    poisson(o.lambdaPerS, 0, (t) => {
      const next = queues[si].shift();
      if (next) next(t);
      else emitFourHop(t, s, 'cover');
    });
    poisson(o.loopPerS ?? 0, 0, (t) => emitFourHop(t, s, 'loop'));
  });

  for (let ev = q.pop(); ev; ev = q.pop()) {
    q.now = ev.t;
    ev.run();
  }
  if (o.interceptor) {
    for (const a of o.interceptor.drainActions(end)) records.push({ type: 'attack', ...a });
  }

  const out: TraceRecord[] = [
    {
      type: 'meta',
      version: 1,
      network: {
        mu_ms: o.muMs,
        lambda_per_s: o.lambdaPerS,
        loop_per_s: o.loopPerS ?? 0,
        mix_loop_per_s: 0,
        delivery_per_s: 0,
        packet_bytes: TOY_PACKET_BYTES,
        delivery_bytes: TOY_DELIVERY_BYTES,
        hops_to_fanout: 2,
        hops_after_fanout: 2,
        sender_gets_copy: o.senderGetsCopy ?? false,
      },
      run: { seed: o.seed, duration_ms: end, generator: 'toyMixnet', messages_per_s: o.messagesPerS },
      endpoints,
    },
    ...groups.map(
      (g, gi): TraceRecord => ({
        type: 'truth',
        what: 'membership',
        t: 0,
        group: `g${gi}`,
        members: g.map((m) => sources[m]),
      }),
    ),
    ...records,
    ...[...messages.values()].map((m) => m.rec),
    ...packets.map((p) => p.truth),
  ];
  return { records: out, sources, proxies, central, groups };
}

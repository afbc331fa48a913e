import type { Clock } from './clock.js';
import {
  type BindTransport,
  type DatagramHandler,
  type Peer,
  peerKey,
  type SentDatagram,
  type Transport,
} from './transport.js';

/**
 * A datagram network in memory, for tests and simulations in virtual time
 * (model: wireguard-go conn/bindtest). `bind` is a BindTransport, so a daemon
 * runs on it unchanged. Every datagram is delivered through the clock after
 * its link's latency (plus seeded jitter), or lost with the link's loss
 * probability; like UDP, nothing is acknowledged and a datagram to an address
 * nobody holds vanishes.
 *
 * Three hooks serve the simulator's adversaries:
 *  - `tap(fn)`: a global passive observer; `fn` sees every datagram sent, at
 *    the moment it is sent, whatever happens to it afterwards;
 *  - `arrivals(fn)`: every datagram a node receives, at its arrival (a
 *    node's own view, e.g. a malicious CS's);
 *  - `intercept(fn)`: an active attacker on the links; `fn` decides per
 *    datagram to pass it, drop it, delay it (reordering), or hold it until
 *    `release` (hold-and-flush, n−1 attacks).
 *
 * Addresses are exact: a transport bound to 127.0.0.1:4000 receives what is
 * sent to 127.0.0.1:4000 only (no wildcard hosts). Port 0 gets the next free
 * port of that host, from FIRST_EPHEMERAL_PORT up.
 */

export interface LinkOptions {
  /** One-way delay of every datagram on the link, ms. */
  latencyMs: number;
  /** Extra delay, uniform in [0, jitterMs), from the network's seeded generator. */
  jitterMs: number;
  /** Probability in [0, 1] that a datagram is lost. */
  loss: number;
}

export interface MemoryNetworkOptions extends Partial<LinkOptions> {
  /** Seed of the generator for jitter and loss (not cryptographic: simulated noise only). */
  seed?: number;
}

/** What an interceptor decides for one datagram. */
export type InterceptVerdict = 'pass' | 'drop' | 'hold' | { delayMs: number };
export type Interceptor = (d: SentDatagram) => InterceptVerdict | undefined;

/** An address already bound in this network. */
export class AddressInUse extends Error {
  readonly code = 'EADDRINUSE';
  constructor(readonly address: string) {
    super(`address ${address} is already bound in this memory network`);
    this.name = 'AddressInUse';
  }
}

export const DEFAULT_LINK: Readonly<LinkOptions> = Object.freeze({ latencyMs: 1, jitterMs: 0, loss: 0 });
export const FIRST_EPHEMERAL_PORT = 20_000;

export interface MemoryNetworkStats {
  sent: number;
  delivered: number;
  /** Lost to link loss. */
  lost: number;
  /** Dropped by an interceptor. */
  dropped: number;
  /** Addressed to nobody (or to a closed transport) when they arrived. */
  unroutable: number;
}

/** mulberry32: a small seeded generator for simulated link noise (not for anything secret). */
function noise(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class MemoryTransport implements Transport {
  closed = false;
  constructor(
    private readonly network: MemoryNetwork,
    readonly local: Peer,
    readonly onDatagram: DatagramHandler,
  ) {}

  send(to: Peer, bytes: Uint8Array): void {
    if (!this.closed) this.network.transmit(this.local, to, bytes);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.network.unbind(this);
  }
}

export class MemoryNetwork {
  private readonly endpoints = new Map<string, MemoryTransport>();
  private readonly nextPort = new Map<string, number>();
  private readonly links = new Map<string, LinkOptions>();
  private readonly defaults: LinkOptions;
  private readonly random: () => number;
  private taps: Array<(d: SentDatagram) => void> = [];
  private arrivalTaps: Array<(d: SentDatagram) => void> = [];
  private interceptors: Interceptor[] = [];
  private heldDatagrams: SentDatagram[] = [];
  readonly stats: MemoryNetworkStats = { sent: 0, delivered: 0, lost: 0, dropped: 0, unroutable: 0 };

  constructor(
    private readonly clock: Clock,
    options: MemoryNetworkOptions = {},
  ) {
    this.defaults = checkLink({ ...DEFAULT_LINK, ...withoutUndefined(options) });
    this.random = noise(options.seed ?? 1);
  }

  /** The BindTransport of this network. */
  readonly bind: BindTransport = async (listen, onDatagram) => {
    let port = listen.port;
    if (port === 0) {
      port = this.nextPort.get(listen.host) ?? FIRST_EPHEMERAL_PORT;
      while (this.endpoints.has(peerKey({ host: listen.host, port }))) port++;
      this.nextPort.set(listen.host, port + 1);
    }
    const local = { host: listen.host, port };
    const key = peerKey(local);
    if (this.endpoints.has(key)) throw new AddressInUse(key);
    const t = new MemoryTransport(this, local, onDatagram);
    this.endpoints.set(key, t);
    return t;
  };

  /** Overrides the default link options for datagrams from `from` to `to` (one direction). */
  setLink(from: Peer, to: Peer, options: Partial<LinkOptions>): void {
    const key = linkKey(from, to);
    this.links.set(key, checkLink({ ...(this.links.get(key) ?? this.defaults), ...withoutUndefined(options) }));
  }

  /** Observes every datagram sent from now on. Returns the unsubscribe function. */
  tap(fn: (d: SentDatagram) => void): () => void {
    this.taps.push(fn);
    return () => {
      this.taps = this.taps.filter((x) => x !== fn);
    };
  }

  /**
   * Observes every datagram handed to a node, at its arrival (`timeMs` is the arrival time): a
   * node's own view of its inputs, e.g. what a malicious CS sees arrive and when. Filter on `to`
   * for one node. Returns the unsubscribe function.
   */
  arrivals(fn: (d: SentDatagram) => void): () => void {
    this.arrivalTaps.push(fn);
    return () => {
      this.arrivalTaps = this.arrivalTaps.filter((x) => x !== fn);
    };
  }

  /**
   * Lets `fn` decide the fate of every datagram sent from now on (after the
   * taps saw it). The first interceptor that returns something other than
   * 'pass' (or undefined) decides. Returns the function that removes it.
   */
  intercept(fn: Interceptor): () => void {
    this.interceptors.push(fn);
    return () => {
      this.interceptors = this.interceptors.filter((x) => x !== fn);
    };
  }

  /** Datagrams held by an interceptor, oldest first. */
  held(): readonly SentDatagram[] {
    return this.heldDatagrams;
  }

  /**
   * Puts held datagrams (all, or those `select` picks) back on their links,
   * now and in the order they were held; interceptors do not see them again.
   * Returns how many were released.
   */
  release(select: (d: SentDatagram) => boolean = () => true): number {
    const out = this.heldDatagrams.filter(select);
    this.heldDatagrams = this.heldDatagrams.filter((d) => !select(d));
    for (const d of out) this.carry(d, 0);
    return out.length;
  }

  /** Addresses currently bound. */
  addresses(): Peer[] {
    return [...this.endpoints.values()].map((t) => t.local);
  }

  /** @internal A transport's send. */
  transmit(from: Peer, to: Peer, bytes: Uint8Array): void {
    // A copy, as a socket makes: the sender may reuse its buffer at once.
    const d: SentDatagram = {
      timeMs: this.clock.preciseNow(),
      from,
      to: { host: to.host, port: to.port },
      bytes: bytes.slice(),
    };
    this.stats.sent++;
    for (const tap of this.taps) tap(d);
    let extraMs = 0;
    for (const intercept of this.interceptors) {
      const v = intercept(d) ?? 'pass';
      if (v === 'pass') continue;
      if (v === 'drop') {
        this.stats.dropped++;
        return;
      }
      if (v === 'hold') {
        this.heldDatagrams.push(d);
        return;
      }
      extraMs = Math.max(0, v.delayMs);
      break;
    }
    this.carry(d, extraMs);
  }

  /** @internal A transport's close. */
  unbind(t: MemoryTransport): void {
    const key = peerKey(t.local);
    if (this.endpoints.get(key) === t) this.endpoints.delete(key);
  }

  private carry(d: SentDatagram, extraMs: number): void {
    const link = this.links.get(linkKey(d.from, d.to)) ?? this.defaults;
    if (link.loss > 0 && this.random() < link.loss) {
      this.stats.lost++;
      return;
    }
    const jitter = link.jitterMs > 0 ? this.random() * link.jitterMs : 0;
    this.clock.setTimeout(
      () => {
        // Whoever holds the address when the datagram arrives gets it (a restarted node too).
        const target = this.endpoints.get(peerKey(d.to));
        if (!target || target.closed) {
          this.stats.unroutable++;
          return;
        }
        this.stats.delivered++;
        if (this.arrivalTaps.length > 0) {
          const arrived = { ...d, timeMs: this.clock.preciseNow() };
          for (const fn of this.arrivalTaps) fn(arrived);
        }
        target.onDatagram(d.bytes, d.from);
      },
      link.latencyMs + jitter + extraMs,
    );
  }
}

function linkKey(from: Peer, to: Peer): string {
  return `${peerKey(from)}>${peerKey(to)}`;
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function checkLink(o: Partial<LinkOptions> & Record<string, unknown>): LinkOptions {
  const l = { latencyMs: o.latencyMs, jitterMs: o.jitterMs, loss: o.loss } as LinkOptions;
  if (!(l.latencyMs >= 0) || !(l.jitterMs >= 0) || !(l.loss >= 0 && l.loss <= 1)) {
    throw new RangeError(`link options out of range: ${JSON.stringify(l)} (latency, jitter >= 0; loss in [0, 1])`);
  }
  return l;
}

/**
 * What an adversary can see, and what it answers (docs/simulation.md).
 *
 * These are the observable parts of a trace (src/sim/trace.ts imports them
 * from here, not the other way round): an adversary module may import this
 * file, `kernels.ts` and `../stats.ts`, never the trace module, the grader or
 * the view builders, so it cannot reach ground truth (checked by
 * test/sim/adversaries/noTruth.test.ts).
 */

export type Role = 'central' | 'proxy' | 'source';

export interface Endpoint {
  /** Opaque endpoint id as it appears on the wire (e.g. "127.0.0.1:4001"); every link names these. */
  id: string;
  role: Role;
  /** Stable human name for sources (e.g. "s3"); optional for others. */
  name?: string;
}

/**
 * Network parameters published in the directory plus the protocol's public
 * shape. Everything here is public: any adversary may use it.
 */
export interface PublicParams {
  /** Mean sender-chosen delay per mix hop (ms). */
  mu_ms: number;
  /** Source sending rate λ (packets/s); 0 = no cover traffic. */
  lambda_per_s: number;
  /** Source loop rate (packets/s). */
  loop_per_s: number;
  /** Proxy mix-loop rate (packets/s). */
  mix_loop_per_s: number;
  /** Steady CS→source delivery rate (per source per second); 0 = deliver at once. */
  delivery_per_s: number;
  /** Size of every Sphinx packet on a mix link (bytes). */
  packet_bytes: number;
  /** Size of every CS→source delivery frame (bytes), when fixed. Without it every CS→source datagram counts. */
  delivery_bytes?: number;
  /** Link hops from the sender to the fan-out node: 2 today (S→P1, P1→P2). */
  hops_to_fanout: number;
  /** Link hops from the fan-out node to CS: 2 today (P2→P3, P3→CS). */
  hops_after_fanout: number;
  /** Whether the sender's own mailbox/box gets a copy of its group message (false today, true after issue 9). */
  sender_gets_copy: boolean;
}

/** One datagram on one link, as a global observer sees it. */
export interface LinkEvent {
  /** Virtual ms when `from` sent it. */
  t: number;
  from: string;
  to: string;
  size: number;
  /** Short hash of the bytes (16 hex): identical retransmissions share it, re-encrypted packets do not. */
  hash: string;
}

/** A datagram a node produced while processing an input (or on its own). */
export interface ObsOutput {
  hash: string;
  to: string;
  /** Delay the node holds it for before sending (ms), when the node chose or read one. */
  delayMs?: number;
}

/**
 * What one node itself learns when it processes a datagram (or originates
 * one). Ops at a proxy: `relay`, `fanout`, `final` (a packet ending at the
 * mix, e.g. its own loop), `originate` (a packet the proxy made itself, e.g. a
 * mix loop). Ops at CS: the final command it executed (`deliver`,
 * `deliverToken`, `surbReply`, `drop`, and after issue 9 e.g. `boxWrite`,
 * `boxRead`), and `send` for every datagram it sends to a source. The set
 * is open: adversaries use the ops they know and ignore the rest.
 */
export interface NodeObservation {
  t: number;
  node: string;
  op: string;
  /** Hash of the datagram processed (absent for `originate` and `send`). */
  in?: string;
  /** Datagrams produced (fan-out: one per copy). */
  out?: ObsOutput[];
  /** The identifier the node reads in clear: mailbox id, box id, or P2's group key of a bundle. */
  key?: string;
  /** Endpoint the node associates with `key` (e.g. the source that registered that mailbox), if it knows one. */
  owner?: string;
  /** For CS: the stored entry / box this command wrote or this `send` served. */
  entry?: string;
  /** For a CS `send`: whether CS knew it sent a real entry (true) or its own dummy (false); absent if CS cannot tell. */
  real?: boolean;
  /** Anything else the node sees in clear. */
  fields?: Record<string, string | number | boolean>;
}

/** An active adversary's own action, logged by its controller (src/sim/adversaries/activeControllers.ts). */
export interface AttackAction {
  t: number;
  /** Name of the attack (e.g. "n-1", "hold-and-flush"). */
  attack: string;
  action: 'block-start' | 'block-end' | 'drop' | 'hold' | 'flush';
  /** The attacked source. */
  target: string;
  /** The datagram dropped or held. */
  hash?: string;
  /** When a held datagram is released (for `hold`). */
  untilMs?: number;
}

/** An alarm a node raised (e.g. loop loss on a first-hop proxy), read from its metrics. */
export interface AlarmEvent {
  t: number;
  node: string;
  name: string;
  value?: number;
}

/** What every adversary knows: the directory, the endpoint roles and how long it watched. */
export interface PublicInfo {
  network: PublicParams;
  endpoints: Endpoint[];
  /** Observation interval [startMs, endMs]. */
  startMs: number;
  endMs: number;
}

/** A global passive observer: every link, nothing inside the nodes. */
export interface GlobalView {
  public: PublicInfo;
  /** Sorted by time. */
  links: LinkEvent[];
}

/** An observer of the edge links only: S→P1 sends and CS→source deliveries. */
export interface EdgeView {
  public: PublicInfo;
  /** source → proxy datagrams, sorted by time. */
  sends: LinkEvent[];
  /** central → source datagrams, sorted by time. */
  deliveries: LinkEvent[];
}

/** A malicious CS: its own observations and every link that touches it. */
export interface CentralView {
  public: PublicInfo;
  central: string;
  /** Links from or to CS, sorted by time. */
  links: LinkEvent[];
  /** CS's own observations, sorted by time. */
  obs: NodeObservation[];
}

/** CS plus colluding proxies: their observations and every link touching any of them. */
export interface CollusionView {
  public: PublicInfo;
  central: string;
  proxies: string[];
  /** Links from or to CS or a colluding proxy, sorted by time. */
  links: LinkEvent[];
  /** Observations of CS and the colluding proxies, sorted by time. */
  obs: NodeObservation[];
}

/** An active attacker on the edge links: what it sees there and what it did. */
export interface ActiveView extends EdgeView {
  attack: string;
  target: string;
  actions: AttackAction[];
}

// ---- answers -------------------------------------------------------------

/**
 * A posterior over candidate senders attached to one observed event (the
 * hash of the datagram it is about). Only the top entries are listed; the
 * remaining `rest.count` candidates share `rest.mass` equally.
 */
export interface SenderGuess {
  event: string;
  /** (candidate endpoint, probability), highest first. */
  ranked: Array<[string, number]>;
  rest: { count: number; mass: number };
  /** Shannon entropy of the full posterior (bits). */
  entropyBits: number;
}

/** A score for a pair of endpoints (higher = more likely related). Directed for contacts, unordered for membership. */
export interface PairScore {
  a: string;
  b: string;
  score: number;
}

/** Membership guesses made from the traffic seen up to `horizonMs` after the observation started. */
export interface MembershipGuess {
  horizonMs: number;
  pairs: PairScore[];
}

/** For one observed event, other observed events ranked by how likely they carry the same message. */
export interface SiblingGuess {
  event: string;
  ranked: Array<[string, number]>;
}

/** Per observed delivery: the probability that it stems from the attacked source. */
export interface AttributionGuess {
  event: string;
  pTarget: number;
}

/** Knowledge handed to an adversary from ground truth. Any adversary that takes one is reported as gifted. */
export interface CentralGift {
  /** Group id → members (the full true membership over the run). */
  groups: Array<{ group: string; members: string[] }>;
  /** Sets of CS input hashes that carry copies of one message. */
  siblings: string[][];
}

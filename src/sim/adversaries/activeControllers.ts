/**
 * Active adversaries as link controllers (issue 8, item 5, "active").
 *
 * The simulator calls `decide` for every datagram about to cross a link, in
 * time order (its link-interception hook), and obeys: deliver, drop, or hold
 * until a later time (then the datagram enters the link at that time). The
 * controller logs what it did (`drainActions`), and the simulator writes
 * those as `attack` records, so the analysis (activeAnalysis.ts) knows what
 * the attacker knows: its own actions, nothing else. Pure state machines
 * driven by time: the same calls give the same decisions.
 */

import type { AttackAction, Role } from './observation.js';

export interface InterceptedDatagram {
  t: number;
  from: string;
  to: string;
  size: number;
  hash: string;
}

export type InterceptVerdict = { action: 'deliver' } | { action: 'drop' } | { action: 'hold'; untilMs: number };

export interface LinkInterceptor {
  readonly attack: string;
  readonly target: string;
  decide(d: InterceptedDatagram): InterceptVerdict;
  /** Actions since the last call, in time order; `untilMs` also closes schedule entries (windows) that ended by then. */
  drainActions(untilMs?: number): AttackAction[];
}

const DELIVER: InterceptVerdict = { action: 'deliver' };

interface WindowSchedule {
  startMs: number;
  periodMs: number;
  windowMs: number;
}

function checkSchedule(s: WindowSchedule): void {
  if (!(s.periodMs > 0) || !(s.windowMs > 0) || s.windowMs > s.periodMs || !Number.isFinite(s.startMs)) {
    throw new RangeError('attack schedule needs 0 < windowMs <= periodMs and a finite startMs');
  }
}

/** The end of the window containing t, or null when t is outside every window. */
function windowEnd(s: WindowSchedule, t: number): number | null {
  if (t < s.startMs) return null;
  const k = Math.floor((t - s.startMs) / s.periodMs);
  const start = s.startMs + k * s.periodMs;
  return t < start + s.windowMs ? start + s.windowMs : null;
}

/** Window boundary actions in (from, until]. */
function boundaries(
  s: WindowSchedule,
  fromMs: number,
  untilMs: number,
  open: AttackAction['action'] | null,
  close: AttackAction['action'],
  base: Pick<AttackAction, 'attack' | 'target'>,
): AttackAction[] {
  const out: AttackAction[] = [];
  if (untilMs < s.startMs) return out;
  const k0 = Math.max(0, Math.floor((fromMs - s.startMs) / s.periodMs) - 1);
  for (let k = k0; s.startMs + k * s.periodMs <= untilMs; k++) {
    const a = s.startMs + k * s.periodMs;
    const b = a + s.windowMs;
    if (open !== null && a > fromMs && a <= untilMs) out.push({ ...base, t: a, action: open });
    if (b > fromMs && b <= untilMs) out.push({ ...base, t: b, action: close });
  }
  return out;
}

abstract class ScheduledAttack implements LinkInterceptor {
  private pending: AttackAction[] = [];
  private scheduledUntil = Number.NEGATIVE_INFINITY;

  constructor(
    readonly attack: string,
    readonly target: string,
    protected readonly roles: Map<string, Role>,
    protected readonly schedule: WindowSchedule,
  ) {
    checkSchedule(schedule);
    if (roles.get(target) !== 'source') throw new RangeError(`attack target ${target} is not a source`);
  }

  protected abstract boundaryActions(fromMs: number, untilMs: number): AttackAction[];
  protected abstract verdict(d: InterceptedDatagram): InterceptVerdict;

  /** Only source → proxy links (the first hop) are attacked. */
  protected firstHop(d: InterceptedDatagram): boolean {
    return this.roles.get(d.from) === 'source' && this.roles.get(d.to) === 'proxy';
  }

  protected who(): Pick<AttackAction, 'attack' | 'target'> {
    return { attack: this.attack, target: this.target };
  }

  protected log(a: AttackAction): void {
    this.pending.push(a);
  }

  private advance(t: number): void {
    if (t <= this.scheduledUntil) return;
    this.pending.push(...this.boundaryActions(this.scheduledUntil, t));
    this.scheduledUntil = t;
  }

  decide(d: InterceptedDatagram): InterceptVerdict {
    this.advance(d.t);
    if (!this.firstHop(d)) return DELIVER;
    return this.verdict(d);
  }

  drainActions(untilMs?: number): AttackAction[] {
    if (untilMs !== undefined) this.advance(untilMs);
    const out = this.pending.sort((a, b) => a.t - b.t);
    this.pending = [];
    return out;
  }
}

export interface NMinusOneOptions {
  target: string;
  roles: Map<string, Role>;
  /** First block window starts here (ms). */
  startMs: number;
  /** A block window every `periodMs` (default 6000)... */
  periodMs?: number;
  /** ...lasting `blockMs` (default 3000). */
  blockMs?: number;
  /** What happens to other sources' first-hop packets in a window: dropped (default) or held to its end. */
  mode?: 'drop' | 'hold';
}

/**
 * n−1: in each window only the target's packets reach the first mixes, so
 * whatever leaves the network a little later is the target's.
 */
export class NMinusOneAttack extends ScheduledAttack {
  private readonly mode: 'drop' | 'hold';

  constructor(o: NMinusOneOptions) {
    super('n-1', o.target, o.roles, { startMs: o.startMs, periodMs: o.periodMs ?? 6000, windowMs: o.blockMs ?? 3000 });
    this.mode = o.mode ?? 'drop';
  }

  protected boundaryActions(fromMs: number, untilMs: number): AttackAction[] {
    return boundaries(this.schedule, fromMs, untilMs, 'block-start', 'block-end', this.who());
  }

  protected verdict(d: InterceptedDatagram): InterceptVerdict {
    if (d.from === this.target) return DELIVER;
    const end = windowEnd(this.schedule, d.t);
    if (end === null) return DELIVER;
    if (this.mode === 'drop') {
      this.log({ t: d.t, attack: this.attack, action: 'drop', target: this.target, hash: d.hash });
      return { action: 'drop' };
    }
    this.log({ t: d.t, attack: this.attack, action: 'hold', target: this.target, hash: d.hash, untilMs: end });
    return { action: 'hold', untilMs: end };
  }
}

export interface HoldAndFlushOptions {
  target: string;
  roles: Map<string, Role>;
  startMs: number;
  /** A hold window every `periodMs` (default 10 000)... */
  periodMs?: number;
  /** ...lasting `holdMs` (default 5000); everything held is released at its end. */
  holdMs?: number;
}

/** Hold-and-flush: hold the target's first-hop packets, then release them at once as a marked burst. */
export class HoldAndFlushAttack extends ScheduledAttack {
  constructor(o: HoldAndFlushOptions) {
    super('hold-and-flush', o.target, o.roles, {
      startMs: o.startMs,
      periodMs: o.periodMs ?? 10_000,
      windowMs: o.holdMs ?? 5000,
    });
  }

  protected boundaryActions(fromMs: number, untilMs: number): AttackAction[] {
    return boundaries(this.schedule, fromMs, untilMs, null, 'flush', this.who());
  }

  protected verdict(d: InterceptedDatagram): InterceptVerdict {
    if (d.from !== this.target) return DELIVER;
    const end = windowEnd(this.schedule, d.t);
    if (end === null) return DELIVER;
    this.log({ t: d.t, attack: this.attack, action: 'hold', target: this.target, hash: d.hash, untilMs: end });
    return { action: 'hold', untilMs: end };
  }
}

import { type Clock, type TimeDriver, TimeLimitExceeded, type TimerHandle, type UntilOptions } from './clock.js';

/**
 * Virtual time for tests and simulations. Nothing happens until a driver
 * calls `step`, `advance` or `until`: then events run one at a time in
 * (due time, order of scheduling) order, time jumps straight to each event's
 * due time, and after every event the promise chains it started are let run
 * (one macrotask turn), so promise-based code in the roles behaves as it does
 * in real time. Given the same inputs and seeded randomness, a run is
 * deterministic: no wall clock, no real timer, no thread decides an order.
 *
 * Limits of the model: work must not wait on real I/O (a file read, LMDB's
 * commit thread) while virtual time runs, since that completes at a real-time
 * moment the virtual schedule does not know; the virtual runtime therefore
 * uses in-memory stores (src/node/memoryStores.ts).
 */

/** 2030-01-01T00:00:00Z: a fixed start, so key epochs and signed timestamps are the same in every run. */
export const VIRTUAL_START_MS = Date.UTC(2030, 0, 1);

class VirtualTimer implements TimerHandle {
  readonly clockTimer = true as const;
  cancelled = false;
  constructor(
    readonly owner: VirtualClock,
    public due: number,
    public seq: number,
    readonly fn: () => unknown,
    /** 0 for a one-shot timer. */
    readonly intervalMs: number,
  ) {}
}

/** A second driver call while one is running: virtual time has one driver at a time. */
export class ClockBusy extends Error {
  readonly code = 'CLOCK_BUSY';
  constructor() {
    super('the virtual clock is already being driven (await the running step/advance/until first)');
    this.name = 'ClockBusy';
  }
}

/** Lets every promise chain that is ready run to its end (microtasks), and pending immediates. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class VirtualClock implements Clock, TimeDriver {
  private time: number;
  private seq = 0;
  private readonly heap: VirtualTimer[] = [];
  private live = 0;
  private driving = false;
  /** Events run so far (a cost measure for simulations). */
  eventsRun = 0;

  constructor(options: { startMs?: number } = {}) {
    this.time = options.startMs ?? VIRTUAL_START_MS;
  }

  now(): number {
    return Math.floor(this.time);
  }

  preciseNow(): number {
    return this.time;
  }

  setTimeout(fn: () => unknown, ms: number): TimerHandle {
    return this.push(fn, Number.isFinite(ms) && ms > 0 ? ms : 0, 0);
  }

  clearTimeout(handle: TimerHandle | null | undefined): void {
    this.cancel(handle);
  }

  setInterval(fn: () => unknown, ms: number): TimerHandle {
    const every = Number.isFinite(ms) && ms >= 1 ? ms : 1;
    return this.push(fn, every, every);
  }

  clearInterval(handle: TimerHandle | null | undefined): void {
    this.cancel(handle);
  }

  /** Timers scheduled and not yet run or cancelled. */
  get pending(): number {
    return this.live;
  }

  /** Due time of the next event, or undefined when nothing is scheduled. */
  nextDueMs(): number | undefined {
    this.dropCancelled();
    return this.heap[0]?.due;
  }

  /** Runs the next event (time jumps to its due time) and lets its promise chains settle. False if none. */
  async step(): Promise<boolean> {
    this.enter();
    try {
      return await this.runNext(Number.POSITIVE_INFINITY);
    } finally {
      this.driving = false;
    }
  }

  /** Runs every event due within `ms` from now, then sets the time to now + ms. */
  async advance(ms: number): Promise<void> {
    this.enter();
    try {
      const target = this.time + Math.max(0, ms);
      await settle();
      while (await this.runNext(target)) {}
      this.time = Math.max(this.time, target);
    } finally {
      this.driving = false;
    }
  }

  sleep(ms: number): Promise<void> {
    return this.advance(ms);
  }

  /**
   * Runs events until `cond` holds (checked before the first event and after
   * every event). Rejects with TimeLimitExceeded once `limitMs` of virtual time
   * has passed without it, or when no event is left that could change
   * anything. Resolves with the virtual time that passed.
   */
  async until(cond: () => boolean | Promise<boolean>, options: UntilOptions): Promise<void> {
    await this.runUntil(cond, options);
  }

  async runUntil(
    cond: () => boolean | Promise<boolean>,
    { limitMs, what = 'a condition' }: UntilOptions,
  ): Promise<number> {
    this.enter();
    const start = this.time;
    const deadline = start + limitMs;
    try {
      await settle();
      for (;;) {
        if (await cond()) return this.time - start;
        if (!(await this.runNext(deadline))) {
          this.time = Math.max(this.time, deadline);
          throw new TimeLimitExceeded(`${what} (virtual time)`, limitMs);
        }
      }
    } finally {
      this.driving = false;
    }
  }

  private enter(): void {
    if (this.driving) throw new ClockBusy();
    this.driving = true;
  }

  /** Runs the next event if it is due by `limit`. */
  private async runNext(limit: number): Promise<boolean> {
    this.dropCancelled();
    const e = this.heap[0];
    if (!e || e.due > limit) return false;
    this.pop();
    this.time = Math.max(this.time, e.due);
    if (e.intervalMs > 0) {
      e.due += e.intervalMs;
      e.seq = this.seq++;
      this.insert(e);
    } else {
      e.cancelled = true;
      this.live--;
    }
    this.eventsRun++;
    // A throw here is not caught: roles use a GuardedClock, so anything that
    // reaches this point is a bug in test or simulation code, and the driver's
    // promise rejects with it.
    e.fn();
    await settle();
    return true;
  }

  private push(fn: () => unknown, delay: number, intervalMs: number): TimerHandle {
    const t = new VirtualTimer(this, this.time + delay, this.seq++, fn, intervalMs);
    this.insert(t);
    this.live++;
    return t;
  }

  private cancel(handle: TimerHandle | null | undefined): void {
    if (!(handle instanceof VirtualTimer) || handle.owner !== this || handle.cancelled) return;
    handle.cancelled = true;
    this.live--;
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && (this.heap[0] as VirtualTimer).cancelled) this.pop();
  }

  // Binary min-heap on (due, seq): equal due times run in the order they were scheduled.
  private static before(a: VirtualTimer, b: VirtualTimer): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private insert(t: VirtualTimer): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!VirtualClock.before(t, h[parent] as VirtualTimer)) break;
      h[i] = h[parent] as VirtualTimer;
      i = parent;
    }
    h[i] = t;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop() as VirtualTimer;
    if (h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && VirtualClock.before(h[r] as VirtualTimer, h[l] as VirtualTimer) ? r : l;
      if (!VirtualClock.before(h[c] as VirtualTimer, last)) break;
      h[i] = h[c] as VirtualTimer;
      i = c;
    }
    h[i] = last;
  }
}

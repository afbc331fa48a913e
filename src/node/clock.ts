/**
 * Time as a collaborator. Every role schedules through a `Clock` it is given
 * (NodeContext.clock), never through the global timers, so the same code runs
 * in real time (SystemClock) or in virtual time (VirtualClock, tests and large
 * simulations) and cannot tell which.
 */

/** An opaque pending timer: only the clock that made it can cancel it. */
export interface TimerHandle {
  readonly clockTimer: true;
}

export interface Clock {
  /**
   * Epoch milliseconds, an integer, like Date.now(): protocol time (key
   * epochs, signed timestamps, mailbox ages) is computed from it.
   */
  now(): number;
  /**
   * Epoch milliseconds with sub-millisecond precision, for measurements only
   * (latency stamps): never put it on the wire or compare it with now().
   */
  preciseNow(): number;
  /** Runs `fn` once after `ms` (0: after the current turn, before any later timer). */
  setTimeout(fn: () => unknown, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | null | undefined): void;
  /** Runs `fn` every `ms` (at least 1 ms), first after `ms`. */
  setInterval(fn: () => unknown, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle | null | undefined): void;
}

/** Resolves after `ms` of the clock's time (virtual time only passes when its driver advances it). */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

class SystemTimer implements TimerHandle {
  readonly clockTimer = true as const;
  constructor(
    readonly kind: 'timeout' | 'immediate' | 'interval',
    readonly native: NodeJS.Timeout | NodeJS.Immediate,
  ) {}
}

/** Real time: Node's timers and wall clock. */
export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }

  preciseNow(): number {
    return performance.timeOrigin + performance.now();
  }

  setTimeout(fn: () => unknown, ms: number): TimerHandle {
    // A zero delay runs in this turn of the event loop (after I/O), not after
    // Node's >= 1 ms timer floor: a mix releasing a zero-delay packet must not
    // add a millisecond per hop.
    if (!(ms > 0)) return new SystemTimer('immediate', setImmediate(fn));
    return new SystemTimer('timeout', setTimeout(fn, ms));
  }

  clearTimeout(handle: TimerHandle | null | undefined): void {
    if (!(handle instanceof SystemTimer)) return;
    if (handle.kind === 'immediate') clearImmediate(handle.native as NodeJS.Immediate);
    else clearTimeout(handle.native as NodeJS.Timeout);
  }

  setInterval(fn: () => unknown, ms: number): TimerHandle {
    return new SystemTimer('interval', setInterval(fn, Math.max(1, ms)));
  }

  clearInterval(handle: TimerHandle | null | undefined): void {
    if (handle instanceof SystemTimer) clearInterval(handle.native as NodeJS.Timeout);
  }
}

/**
 * Receives every error thrown by a guarded callback (a timer, a socket
 * handler): `where` says which kind. A daemon logs and counts it and keeps
 * running; a testnet also fails the test, so bugs still surface.
 */
export type InternalErrorReporter = (err: unknown, where: string) => void;

/**
 * `fn` with every throw, and every rejection of a promise it returns, handed
 * to `report` instead of escaping into the event loop (where an uncaught
 * error ends the process: a stranger's datagram or a bug in a cover-traffic
 * timer must not take a node down).
 */
export function guarded<A extends unknown[]>(
  fn: (...args: A) => unknown,
  report: InternalErrorReporter,
  where: string,
): (...args: A) => void {
  return (...args: A) => {
    try {
      const r = fn(...args);
      if (r instanceof Promise) r.catch((err: unknown) => report(err, where));
    } catch (err) {
      report(err, where);
    }
  };
}

/** A clock whose every timer callback is guarded (see `guarded`). Roles get one of these. */
export class GuardedClock implements Clock {
  constructor(
    private readonly inner: Clock,
    private readonly report: InternalErrorReporter,
  ) {}

  now(): number {
    return this.inner.now();
  }

  preciseNow(): number {
    return this.inner.preciseNow();
  }

  setTimeout(fn: () => unknown, ms: number): TimerHandle {
    return this.inner.setTimeout(guarded(fn, this.report, 'timer'), ms);
  }

  clearTimeout(handle: TimerHandle | null | undefined): void {
    this.inner.clearTimeout(handle);
  }

  setInterval(fn: () => unknown, ms: number): TimerHandle {
    return this.inner.setInterval(guarded(fn, this.report, 'timer'), ms);
  }

  clearInterval(handle: TimerHandle | null | undefined): void {
    this.inner.clearInterval(handle);
  }
}

/** A wait did not see its condition within its time limit (of the world's own time, virtual or real). */
export class TimeLimitExceeded extends Error {
  readonly code = 'TIME_LIMIT';
  constructor(
    readonly what: string,
    readonly limitMs: number,
  ) {
    super(`timed out after ${limitMs} ms waiting for ${what}`);
    this.name = 'TimeLimitExceeded';
  }
}

export interface UntilOptions {
  /** Give up after this much of the world's time. */
  limitMs: number;
  /** What is awaited, for the error message. */
  what?: string;
}

/**
 * How code outside the nodes (tests, the simulator's workload) lets time pass
 * in a world: real time is waited for, virtual time is run. The same test
 * body then works in both (VirtualClock implements this too).
 */
export interface TimeDriver {
  /** Lets `ms` of the world's time pass. */
  sleep(ms: number): Promise<void>;
  /** Resolves once `cond` holds; rejects with TimeLimitExceeded after `limitMs`. */
  until(cond: () => boolean | Promise<boolean>, options: UntilOptions): Promise<void>;
}

/** Real time: sleeps on the clock and polls the condition every `pollMs`. */
export function pollingDriver(clock: Clock, pollMs = 20): TimeDriver {
  return {
    sleep: (ms) => sleep(clock, ms),
    async until(cond, { limitMs, what = 'a condition' }) {
      const deadline = clock.now() + limitMs;
      while (!(await cond())) {
        if (clock.now() > deadline) throw new TimeLimitExceeded(what, limitMs);
        await sleep(clock, pollMs);
      }
    },
  };
}

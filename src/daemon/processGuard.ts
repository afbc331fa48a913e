import type { Logger } from 'pino';
import type { Metrics } from '../node/metrics.js';

/**
 * The daemon entry point's last line of defence: an error that escaped every
 * guard (in a library callback, say) is logged and counted in
 * internal_errors, and the daemon keeps serving rather than dropping every
 * user's traffic. Timers and socket callbacks are guarded where they are
 * made (GuardedClock, guarded datagram handler), so this should stay at 0.
 * Returns the function that removes the handlers.
 */
export function installProcessGuard(log: Logger, metrics: Metrics): () => void {
  const report = (err: unknown, where: string) => {
    metrics.internalErrors.inc({ where });
    log.error({ err, where }, 'uncaught error (a bug); the daemon keeps running');
  };
  const onException = (err: unknown) => report(err, 'uncaught_exception');
  const onRejection = (reason: unknown) => report(reason, 'unhandled_rejection');
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}

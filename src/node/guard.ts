import { countDrop, type NodeContext } from './context.js';

/**
 * Runs a timer or socket callback so that a throw can never end the process:
 * it is logged with its stack and counted as `internal_error`. Only for
 * callbacks whose expected failures (NoRoute, malformed input) are already
 * handled inside; what reaches here is a bug, and tests watch the counter.
 */
export function guarded(ctx: NodeContext, what: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    countDrop(ctx, 'internal_error', what);
    ctx.log.error({ err, what }, 'callback failed');
  }
}

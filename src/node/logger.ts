import { type Logger, pino } from 'pino';
import type { LogLevel } from './config.js';

/**
 * JSON lines on stderr (stdout stays free for command output). Synchronous
 * writes: the line logged just before a crash or a fatal exit is the one an
 * operator needs, and an async buffer would lose it. The daemon logs events,
 * not packets, so the cost is negligible. Never log packet contents, keys,
 * mailbox ids or peer addresses above debug: logs outlive the traffic.
 */
export function createLogger(role: string, level: LogLevel): Logger {
  return pino({ level, base: { role } }, pino.destination({ dest: 2, sync: true }));
}

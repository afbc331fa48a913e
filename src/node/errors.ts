/**
 * One error class for everything the daemon refuses a local caller (control
 * socket, CLI, library), with a stable machine-readable `code` and one named
 * factory per code (the shape of hyperdht's lib/errors.js). The control socket
 * answers `{code, message}`, so callers branch on codes, never on wording.
 *
 * Network input never becomes a MixdError: bytes from the network are dropped
 * and counted by reason (src/node/dropReasons.ts).
 */
export const ERROR_CODES = [
  /** A request's parameters are missing or malformed. */
  'BAD_REQUEST',
  /** The daemon of this role has no such control method. */
  'UNKNOWN_METHOD',
  /** The request is well-formed but refused in the current state (no such group, not an admin, …). */
  'REFUSED',
  /** No route can be built: no directory yet, no proxy with a key for this epoch, unusable keys. */
  'NO_ROUTE',
  /** A datagram larger than one packet carries. */
  'DATAGRAM_TOO_LARGE',
  /** The group layer refused (its reason is in the message). */
  'GROUP',
  /** The passphrase does not open the invite. */
  'WRONG_PASSPHRASE',
  /** This source was removed from the group: it can no longer send or read there. */
  'REMOVED',
  /** A UDP bridge was asked to listen on or send to a non-loopback address. */
  'BRIDGE_NOT_LOOPBACK',
  /** The configured network parameters are below the security floor and not explicitly allowed. */
  'INSECURE_NETWORK',
  /** The configuration is invalid (the message names the field). */
  'CONFIG',
  /** The control socket could not be reached. */
  'DAEMON_UNREACHABLE',
  /** The daemon closed the control socket before answering. */
  'DAEMON_CLOSED',
  /** A bug: the message says what failed. */
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export function isErrorCode(s: unknown): s is ErrorCode {
  return typeof s === 'string' && (ERROR_CODES as readonly string[]).includes(s);
}

export class MixdError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  override get name(): string {
    return 'MixdError';
  }

  /** The wire form of the control socket. */
  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }

  static BAD_REQUEST(message: string): MixdError {
    return new MixdError('BAD_REQUEST', message);
  }
  static UNKNOWN_METHOD(method: string, role: string): MixdError {
    return new MixdError('UNKNOWN_METHOD', `unknown method "${method}" for a ${role} daemon`);
  }
  static REFUSED(message: string): MixdError {
    return new MixdError('REFUSED', message);
  }
  static NO_ROUTE(message: string): MixdError {
    return new MixdError('NO_ROUTE', message);
  }
  static DATAGRAM_TOO_LARGE(bytes: number, max: number): MixdError {
    return new MixdError('DATAGRAM_TOO_LARGE', `datagram is ${bytes} bytes; at most ${max} fit`);
  }
  static GROUP(message: string): MixdError {
    return new MixdError('GROUP', message);
  }
  static BRIDGE_NOT_LOOPBACK(what: string, address: string): MixdError {
    return new MixdError(
      'BRIDGE_NOT_LOOPBACK',
      `bridge ${what} ${address} is not a loopback address: group plaintext must not leave this machine (use 127.0.0.1 or ::1)`,
    );
  }
  static INSECURE_NETWORK(problems: string[]): MixdError {
    return new MixdError(
      'INSECURE_NETWORK',
      `network parameters below the security floor: ${problems.join('; ')}; fix them, or set "insecureNoCover": true (--insecure-no-cover) to run without cover deliberately`,
    );
  }
  static CONFIG(message: string): MixdError {
    return new MixdError('CONFIG', message);
  }
  static DAEMON_UNREACHABLE(path: string, why: string): MixdError {
    return new MixdError(
      'DAEMON_UNREACHABLE',
      `cannot reach the daemon's control socket ${path} (${why}): is the daemon running with this data directory?`,
    );
  }
  static DAEMON_CLOSED(): MixdError {
    return new MixdError('DAEMON_CLOSED', 'daemon closed the control socket');
  }
  static INTERNAL(message: string, cause?: unknown): MixdError {
    return new MixdError('INTERNAL', message, { cause });
  }
}

import { existsSync, rmSync } from 'node:fs';
import net from 'node:net';
import { GroupError } from '../group/errors.js';
import { ConfigError } from './config.js';
import { type ErrorCode, isErrorCode, MixdError } from './errors.js';
import { NoRoute } from './routes.js';

/**
 * Local control interface of a daemon: a unix socket (mode 0600, so only the
 * owner can drive it) speaking newline-delimited JSON.
 *   request:  {"id": 1, "method": "status", "params": {...}}
 *   response: {"id": 1, "result": ...} | {"id": 1, "error": {"code": "REFUSED", "message": "..."}}
 *   events:   {"event": "datagram", "data": ...}  (after a "subscribe" request)
 */
export type ControlHandler = (
  method: string,
  params: Record<string, unknown>,
  conn: ControlConnection,
) => Promise<unknown> | unknown;

/** A refusal for a local caller: a MixdError, code REFUSED unless another is given. */
export class ControlError extends MixdError {
  constructor(message: string, code: ErrorCode = 'REFUSED') {
    super(code, message);
  }
}

/**
 * The `{code, message}` a control-socket caller gets for an error a method
 * threw: typed errors keep their meaning, anything else is a bug (INTERNAL).
 */
export function controlErrorOf(err: unknown): { code: ErrorCode; message: string } {
  if (err instanceof MixdError) return err.toJSON();
  if (err instanceof GroupError) return { code: 'GROUP', message: err.message };
  if (err instanceof NoRoute) return { code: 'NO_ROUTE', message: err.message };
  if (err instanceof ConfigError) return { code: 'CONFIG', message: err.message };
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

export interface ControlConnection {
  event(name: string, data: unknown): void;
  onClose(fn: () => void): void;
}

const MAX_LINE = 1 << 20;
/** Owner read/write only: the umask under which the control socket is created. */
const OWNER_ONLY_UMASK = 0o177;

export interface ControlServer {
  /** Stops listening and ends every open connection (a subscriber left open must not block shutdown). */
  close(): Promise<void>;
}

export function serveControl(path: string, handler: ControlHandler): Promise<ControlServer> {
  if (existsSync(path)) rmSync(path, { force: true });
  const open = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    open.add(sock);
    sock.on('close', () => open.delete(sock));
    let buf = '';
    const closers: Array<() => void> = [];
    const conn: ControlConnection = {
      event(name, data) {
        if (!sock.destroyed) sock.write(`${JSON.stringify({ event: name, data })}\n`);
      },
      onClose(fn) {
        closers.push(fn);
      },
    };
    sock.on('close', () => {
      for (const f of closers) f();
    });
    sock.on('error', () => {});
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE) {
        sock.destroy();
        return;
      }
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
        if (!line.trim()) continue;
        let req: { id?: unknown; method?: unknown; params?: unknown };
        try {
          req = JSON.parse(line);
        } catch {
          sock.write(`${JSON.stringify({ id: null, error: MixdError.BAD_REQUEST('request is not valid JSON') })}\n`);
          continue;
        }
        const id = req.id ?? null;
        if (typeof req.method !== 'string') {
          sock.write(`${JSON.stringify({ id, error: MixdError.BAD_REQUEST('request needs a string "method"') })}\n`);
          continue;
        }
        const params = (req.params && typeof req.params === 'object' ? req.params : {}) as Record<string, unknown>;
        Promise.resolve()
          .then(() => handler(req.method as string, params, conn))
          .then(
            (result) => {
              if (!sock.destroyed) sock.write(`${JSON.stringify({ id, result: result ?? null })}\n`);
            },
            (err: unknown) => {
              if (!sock.destroyed) sock.write(`${JSON.stringify({ id, error: controlErrorOf(err) })}\n`);
            },
          );
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // bind() creates the socket file synchronously inside listen(): under this umask it is born 0600.
    // A chmod after listen would leave a window in which any local user could connect and drive the node.
    const umask = process.umask(OWNER_ONLY_UMASK);
    try {
      server.listen(path, () => {
        resolve({
          close: () =>
            new Promise<void>((done) => {
              server.close(() => done());
              for (const sock of open) sock.destroy();
            }),
        });
      });
    } finally {
      process.umask(umask);
    }
  });
}

/** Client side, used by the CLI, the library API and tests. */
export class ControlClient {
  private nextId = 1;
  private buf = '';
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners: Array<(name: string, data: unknown) => void> = [];

  private constructor(private readonly sock: net.Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      this.buf += chunk;
      let nl = this.buf.indexOf('\n');
      while (nl >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        nl = this.buf.indexOf('\n');
        const msg = JSON.parse(line) as {
          id?: number;
          result?: unknown;
          error?: unknown;
          event?: string;
          data?: unknown;
        };
        if (msg.event) {
          for (const l of this.listeners) l(msg.event, msg.data);
          continue;
        }
        const p = this.pending.get(msg.id as number);
        if (!p) continue;
        this.pending.delete(msg.id as number);
        if (msg.error !== undefined) p.reject(errorFromWire(msg.error));
        else p.resolve(msg.result);
      }
    });
    const failAll = () => {
      for (const p of this.pending.values()) p.reject(MixdError.DAEMON_CLOSED());
      this.pending.clear();
    };
    sock.on('close', failAll);
    sock.on('error', failAll);
  }

  static connect(path: string): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const sock = net.createConnection(path);
      sock.once('connect', () => {
        sock.off('error', reject);
        resolve(new ControlClient(sock));
      });
      sock.once('error', (err: NodeJS.ErrnoException) => {
        reject(MixdError.DAEMON_UNREACHABLE(path, err.code ?? err.message));
      });
    });
  }

  call<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.sock.write(`${JSON.stringify({ id, method, params })}\n`);
    });
  }

  onEvent(fn: (name: string, data: unknown) => void): void {
    this.listeners.push(fn);
  }

  close(): void {
    this.sock.end();
  }
}

/** A MixdError from the `error` field of a response (a bare string, from an older daemon, is INTERNAL). */
function errorFromWire(e: unknown): MixdError {
  if (typeof e === 'object' && e !== null) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    return new MixdError(isErrorCode(code) ? code : 'INTERNAL', typeof message === 'string' ? message : 'error');
  }
  return new MixdError('INTERNAL', String(e));
}

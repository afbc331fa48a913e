/**
 * Library API for Node programs: talk to a running source daemon.
 *
 *   import { connect } from 'mixd';
 *   const mixd = await connect({ dir: './alice' });
 *   await mixd.send('friends', new TextEncoder().encode('hi'));
 *   for await (const d of mixd) console.log(d.group, d.from, d.data);
 *
 * Calls reject with a MixdError: branch on `err.code` ('NO_ROUTE', 'GROUP', 'DATAGRAM_TOO_LARGE', …).
 */
import { join } from 'node:path';
import { loadConfig } from './node/config.js';
import { ControlClient } from './node/controlSocket.js';
import { MixdError } from './node/errors.js';

/** Every failure a call can report: a MixdError whose `code` (one of ERROR_CODES) callers branch on. */
export { ERROR_CODES, type ErrorCode, MixdError } from './node/errors.js';

export interface Datagram {
  kind: 'group' | 'unicast';
  /** Group name, or null for a unicast datagram. */
  group: string | null;
  /** Sender's address for group datagrams; null for unicast (the sender is anonymous). */
  from: string | null;
  data: Uint8Array;
}

export interface ConnectOptions {
  /** The source's data directory (its mixd.json is read to find the control socket). */
  dir?: string;
  /** Or the config file. */
  config?: string;
  /** Or the control socket path itself. */
  socket?: string;
}

export class MixdClient implements AsyncIterable<Datagram> {
  private readonly queue: Datagram[] = [];
  private waiter: ((d: IteratorResult<Datagram>) => void) | null = null;
  private subscribed = false;
  private closed = false;

  constructor(private readonly control: ControlClient) {
    control.onEvent((name, raw) => {
      if (name !== 'datagram') return;
      const r = raw as { kind: Datagram['kind']; group: string | null; from: string | null; data: string };
      const d: Datagram = {
        kind: r.kind,
        group: r.group,
        from: r.from,
        data: new Uint8Array(Buffer.from(r.data, 'base64')),
      };
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w({ value: d, done: false });
      } else this.queue.push(d);
    });
  }

  address(): Promise<string> {
    return this.control.call<string>('address');
  }

  /** Multicasts `data` to every other member of `group`. */
  async send(group: string, data: Uint8Array): Promise<{ packets: number; recipients: number }> {
    return this.control.call('groupSend', { group, data: Buffer.from(data).toString('base64') });
  }

  /** Sends `data` to one member address; the recipient does not learn who sent it. */
  async sendTo(address: string, data: Uint8Array): Promise<void> {
    await this.control.call('sendTo', { to: address, data: Buffer.from(data).toString('base64') });
  }

  groups(): Promise<Array<{ name: string; id: string; epoch: number; members: number; admin: boolean }>> {
    return this.control.call('groupList');
  }

  status(): Promise<Record<string, unknown>> {
    return this.control.call('status');
  }

  [Symbol.asyncIterator](): AsyncIterator<Datagram> {
    if (!this.subscribed) {
      this.subscribed = true;
      void this.control.call('subscribe');
    }
    return {
      next: () => {
        const d = this.queue.shift();
        if (d) return Promise.resolve({ value: d, done: false });
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.waiter = resolve;
        });
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  close(): void {
    this.closed = true;
    this.waiter?.({ value: undefined, done: true });
    this.waiter = null;
    this.control.close();
  }
}

export async function connect(opts: ConnectOptions): Promise<MixdClient> {
  let socket = opts.socket;
  if (!socket) {
    const file = opts.config ?? (opts.dir ? join(opts.dir, 'mixd.json') : undefined);
    if (!file) throw MixdError.BAD_REQUEST('connect needs { dir }, { config } or { socket }');
    socket = join(loadConfig(file).dataDir, 'control.sock');
  }
  const client = new MixdClient(await ControlClient.connect(socket));
  return client;
}

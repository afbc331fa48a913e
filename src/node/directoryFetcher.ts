import type { TimerHandle } from './clock.js';
import { MalformedMessage } from './codec.js';
import type { NodeContext } from './context.js';
import { countDrop } from './context.js';
import { BadSignature, type IndexedDirectory, indexDirectory, openDirectory } from './directory.js';
import { type Peer, peerKey } from './transport.js';
import { encodeControl } from './wire.js';

/**
 * Keeps a verified copy of the directory. Requests go to the configured CS
 * address; answers are accepted only from that address and only when signed by
 * the pinned CS key, so a spoofed or stale directory cannot steer routes.
 */
export class DirectoryFetcher {
  private dir: IndexedDirectory | null = null;
  private waiters: Array<(d: IndexedDirectory) => void> = [];
  private timer: TimerHandle | null = null;
  private listeners: Array<(d: IndexedDirectory) => void> = [];

  constructor(
    private readonly ctx: NodeContext,
    private readonly central: Peer,
    private readonly pinnedKey: Uint8Array,
    private readonly refreshMs: number,
  ) {}

  start(): void {
    const ask = () => {
      this.ctx.metrics.packetsOut.inc({ kind: 'dirRequest' });
      this.ctx.transport.send(this.central, encodeControl({ type: 'dirRequest' }));
      // Retry fast until the first answer, then refresh at the normal pace.
      this.timer = this.ctx.clock.setTimeout(ask, this.dir ? this.refreshMs : 500);
    };
    ask();
  }

  stop(): void {
    this.ctx.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  offer(msg: { document: Uint8Array; signature: Uint8Array }, from: Peer): void {
    if (peerKey(from) !== peerKey(this.central)) return countDrop(this.ctx, 'directory_wrong_sender');
    let dir: IndexedDirectory;
    try {
      dir = indexDirectory(
        this.ctx.crypto,
        openDirectory(this.ctx.crypto, this.pinnedKey, msg.document, msg.signature),
      );
    } catch (err) {
      if (err instanceof BadSignature || err instanceof MalformedMessage) {
        return countDrop(this.ctx, 'bad_directory', err.message);
      }
      throw err;
    }
    if (this.dir && dir.issuedAtMs < this.dir.issuedAtMs) return countDrop(this.ctx, 'stale', 'directory');
    this.dir = dir;
    for (const w of this.waiters) w(dir);
    this.waiters = [];
    for (const l of this.listeners) l(dir);
  }

  current(): IndexedDirectory | null {
    return this.dir;
  }

  ready(): Promise<IndexedDirectory> {
    if (this.dir) return Promise.resolve(this.dir);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  onUpdate(fn: (d: IndexedDirectory) => void): void {
    this.listeners.push(fn);
  }
}

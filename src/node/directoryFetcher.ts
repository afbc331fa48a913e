import type { TimerHandle } from './clock.js';
import { MalformedMessage } from './codec.js';
import type { NodeContext } from './context.js';
import { countDrop } from './context.js';
import {
  assemblePages,
  BadSignature,
  type Directory,
  type DirectoryPage,
  type IndexedDirectory,
  indexDirectory,
  openDirectoryPage,
} from './directory.js';
import { DIRECTORY_MAX_AGE_MS, DIRECTORY_PAGES_IN_FLIGHT, FRESHNESS_MS } from './limits.js';
import { nodeProblem } from './nodeValidation.js';
import { securityProblems } from './securityFloor.js';
import { type Peer, peerKey } from './transport.js';
import { directoryRequestFrame } from './wire.js';

export interface FetcherOptions {
  /** Accept a directory whose parameters are below the security floor (src/node/securityFloor.ts). */
  insecureNoCover?: boolean;
}

/** Retry pace until a directory is complete. */
const RETRY_MS = 500;

/**
 * Keeps a verified copy of the directory. Requests go to the configured CS
 * address; answers are accepted only from that address and only when signed by
 * the pinned CS key, so a spoofed directory cannot steer routes. The directory
 * comes in signed pages (docs/protocol.md section 15), fetched page 0 first,
 * then the rest of the same issue, each request padded to the size of a page.
 *
 * A complete directory is refused when it is older than DIRECTORY_MAX_AGE_MS by
 * this node's clock (a replayed old copy, e.g. after a restart), when its
 * parameters are below the security floor (unless the operator opted out), or
 * when CS's own entry is unusable; proxies with an unusable address or mix key
 * are left out of it (F1: route building must never meet a key it cannot use).
 */
export class DirectoryFetcher {
  private dir: IndexedDirectory | null = null;
  private assembling: { issuedAtMs: number; pageCount: number; pages: Map<number, DirectoryPage> } | null = null;
  private waiters: Array<(d: IndexedDirectory) => void> = [];
  private timer: TimerHandle | null = null;
  private listeners: Array<(d: IndexedDirectory) => void> = [];
  private running = false;
  /** When CS last answered with a valid page (of a new issue or of the one held): status pages, tests. */
  lastAnswerAtMs = 0;

  constructor(
    private readonly ctx: NodeContext,
    private readonly central: Peer,
    private readonly pinnedKey: Uint8Array,
    private readonly refreshMs: number,
    private readonly options: FetcherOptions = {},
  ) {}

  start(): void {
    this.running = true;
    this.ask();
  }

  stop(): void {
    this.running = false;
    this.ctx.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /** Asks for what is missing (pages of the issue being assembled, else page 0 of the current one). */
  private ask(): void {
    if (!this.running) return;
    this.ctx.clock.clearTimeout(this.timer);
    const a = this.assembling;
    if (a) {
      let asked = 0;
      for (let i = 0; i < a.pageCount && asked < DIRECTORY_PAGES_IN_FLIGHT; i++) {
        if (a.pages.has(i)) continue;
        this.request(i, a.issuedAtMs);
        asked++;
      }
    } else this.request(0, 0);
    // Retry fast until a directory is complete, then refresh at the normal pace.
    this.timer = this.ctx.clock.setTimeout(() => this.ask(), this.dir && !this.assembling ? this.refreshMs : RETRY_MS);
  }

  private request(page: number, issuedAtMs: number): void {
    this.ctx.metrics.packetsOut.inc({ kind: 'dirRequest' });
    this.ctx.transport.send(this.central, directoryRequestFrame(page, issuedAtMs));
  }

  offer(msg: { document: Uint8Array; signature: Uint8Array }, from: Peer): void {
    if (peerKey(from) !== peerKey(this.central)) return countDrop(this.ctx, 'directory_wrong_sender');
    let page: DirectoryPage;
    try {
      page = openDirectoryPage(this.ctx.crypto, this.pinnedKey, msg.document, msg.signature);
    } catch (err) {
      if (err instanceof BadSignature || err instanceof MalformedMessage) {
        return countDrop(this.ctx, 'bad_directory', err.message);
      }
      throw err;
    }
    const now = this.ctx.now();
    if (page.issuedAtMs < now - DIRECTORY_MAX_AGE_MS) return countDrop(this.ctx, 'directory_too_old');
    if (page.issuedAtMs > now + FRESHNESS_MS) return countDrop(this.ctx, 'bad_directory', 'issued in the future');
    this.lastAnswerAtMs = now;
    if (this.dir && page.issuedAtMs <= this.dir.issuedAtMs) {
      // The issue we hold (a late page of it, or a refresh that found nothing new) or an older one.
      if (page.issuedAtMs < this.dir.issuedAtMs) countDrop(this.ctx, 'stale', 'directory');
      return;
    }
    let a = this.assembling;
    if (!a || page.issuedAtMs > a.issuedAtMs) {
      a = { issuedAtMs: page.issuedAtMs, pageCount: page.pageCount, pages: new Map() };
      this.assembling = a;
    } else if (page.issuedAtMs < a.issuedAtMs) return countDrop(this.ctx, 'stale', 'directory page');
    if (page.pageCount !== a.pageCount) return countDrop(this.ctx, 'bad_directory', 'page count changed');
    a.pages.set(page.page, page);
    if (a.pages.size < a.pageCount) {
      // Ask for the rest now, not at the next tick.
      if (a.pages.size === 1) this.ask();
      return;
    }
    this.assembling = null;
    let assembled: Directory;
    try {
      assembled = assemblePages([...a.pages.values()]);
    } catch (err) {
      if (err instanceof MalformedMessage) return countDrop(this.ctx, 'bad_directory', err.message);
      throw err;
    }
    this.accept(assembled);
  }

  private accept(d: Directory): void {
    const problems = securityProblems(d.params);
    if (problems.length > 0 && !this.options.insecureNoCover) {
      countDrop(this.ctx, 'insecure_directory', problems.join('; '));
      this.ctx.log.warn({ problems }, 'directory refused: parameters below the security floor');
      return;
    }
    const central = nodeProblem(this.ctx.crypto, d.central);
    if (central) return countDrop(this.ctx, 'bad_directory', `central: ${central}`);
    const proxies = d.proxies.filter((p) => {
      const problem = nodeProblem(this.ctx.crypto, p);
      if (problem) countDrop(this.ctx, 'bad_directory_entry', problem);
      return !problem;
    });
    const dir = indexDirectory(this.ctx.crypto, { ...d, proxies });
    const first = this.dir === null;
    this.dir = dir;
    for (const w of this.waiters) w(dir);
    this.waiters = [];
    for (const l of this.listeners) l(dir);
    if (first && this.running) {
      // From now on at the refresh pace.
      this.ctx.clock.clearTimeout(this.timer);
      this.timer = this.ctx.clock.setTimeout(() => this.ask(), this.refreshMs);
    }
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

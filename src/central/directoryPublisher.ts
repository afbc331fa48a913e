import { type Directory, encodeDirectoryPages, signDocument } from '../node/directory.js';
import { DIRECTORY_FRAME_BYTES, DIRECTORY_REISSUE_MS } from '../node/limits.js';
import type { CryptoBackend } from '../scramble/crypto/backend.js';

/** dirResponse framing around a page: 3-byte prefix, u32 length, 64-byte signature. */
const RESPONSE_OVERHEAD_BYTES = 3 + 4 + 64;
/** Largest page document: a dirResponse carrying it is exactly DIRECTORY_FRAME_BYTES at most. */
export const MAX_PAGE_BYTES = DIRECTORY_FRAME_BYTES - RESPONSE_OVERHEAD_BYTES;

interface Issue {
  issuedAtMs: number;
  epoch: number;
  pages: Array<{ document: Uint8Array; signature: Uint8Array }>;
}

/**
 * CS's signed directory, cut into pages that each fit one DIRECTORY_FRAME_BYTES
 * datagram (issue 10, F2): however many proxies are listed, every answer is
 * smaller than the padded request that asked for it, and below the MTU.
 *
 * A new issue is signed when the proxy set changes, when the epoch changes,
 * and at least every DIRECTORY_REISSUE_MS, so an honest copy is never older
 * than that (nodes refuse old ones, F12). The previous issue is kept, so a
 * node assembling its pages across a re-issue still gets them.
 */
export class DirectoryPublisher {
  private current: Issue | null = null;
  private previous: Issue | null = null;
  private stale = true;

  constructor(
    private readonly crypto: CryptoBackend,
    private readonly seed: Uint8Array,
    /** The directory as of `issuedAtMs` (its issuedAtMs must be that). */
    private readonly build: (issuedAtMs: number) => Directory,
    /** The key epoch at a time: a new epoch means new published keys. */
    private readonly epochAt: (nowMs: number) => number,
  ) {}

  /** The listed proxies changed: sign a new issue at the next request. */
  invalidate(): void {
    this.stale = true;
  }

  /**
   * Page `page` of the issue of `issuedAtMs` if still held (0 or unknown: the
   * current one); null when there is no such page.
   */
  page(page: number, issuedAtMs: number, nowMs: number): { document: Uint8Array; signature: Uint8Array } | null {
    const current = this.currentIssue(nowMs);
    const issue = issuedAtMs !== 0 && this.previous?.issuedAtMs === issuedAtMs ? this.previous : current;
    return issue.pages[page] ?? null;
  }

  /** Pages of the current issue (status, tests). */
  pageCount(nowMs: number): number {
    return this.currentIssue(nowMs).pages.length;
  }

  private currentIssue(nowMs: number): Issue {
    const c = this.current;
    const fresh = c && !this.stale && nowMs >= c.issuedAtMs && nowMs - c.issuedAtMs < DIRECTORY_REISSUE_MS;
    if (c && fresh && this.epochAt(nowMs) === c.epoch) return c;
    // Strictly increasing, so that nodes can tell every issue from the one before.
    const issuedAtMs = Math.max(Math.floor(nowMs), (c?.issuedAtMs ?? 0) + 1);
    const d = this.build(issuedAtMs);
    const pages = encodeDirectoryPages(d, MAX_PAGE_BYTES).map((document) => ({
      document,
      signature: signDocument(this.crypto, 'directory', this.seed, document),
    }));
    this.previous = c;
    this.current = { issuedAtMs: d.issuedAtMs, epoch: d.epoch, pages };
    this.stale = false;
    return this.current;
  }
}

import type { CryptoBackend } from '../scramble/crypto/backend.js';
import { InvalidArgument } from '../scramble/errors.js';
import { MalformedMessage, Reader, Writer } from './codec.js';
import { nodeIdOf } from './ids.js';
import { MAX_PROXIES } from './limits.js';
import { signedBytes } from './wire.js';

/**
 * The directory: a document signed by CS's Ed25519 identity key (pinned by
 * every source and proxy) listing the mixes, their per-epoch X25519 keys and
 * the network parameters. Nothing in it is secret; everything in it is
 * authenticated.
 */
export interface NetworkParams {
  packetSize: number;
  maxHops: number;
  meanDelayMs: number;
  maxDelayMs: number;
  epochSeconds: number;
  graceSeconds: number;
  /** Source sending rate (Poisson, packets/s); 0 disables cover traffic. */
  lambdaPerSecond: number;
  loopPerSecond: number;
  mixLoopPerSecond: number;
  /** CS→source steady delivery rate with dummies; 0 = deliver as soon as possible. */
  deliveryPerSecond: number;
}

export interface MixKey {
  epoch: number;
  publicKey: Uint8Array;
}

export interface NodeDescriptor {
  identityKey: Uint8Array;
  address: string;
  mixKeys: MixKey[];
  timestampMs: number;
}

export interface Directory {
  issuedAtMs: number;
  epoch: number;
  params: NetworkParams;
  central: NodeDescriptor;
  proxies: NodeDescriptor[];
}

/** One signed page of a directory: the shared head (time, epoch, parameters, CS) and a slice of the proxies. */
export interface DirectoryPage extends Directory {
  page: number;
  pageCount: number;
}

const DESCRIPTOR_VERSION = 1;
/** Version 2: the directory is cut into signed pages (version 1 was one document). */
const DIRECTORY_VERSION = 2;
/** The wire limit of one node entry; what CS admits is stricter (src/node/nodeValidation.ts). */
const MAX_KEYS = 8;
/** Bytes of a page before its nodes: version, issuedAtMs, epoch, page, pageCount, the ten parameters. */
const PAGE_HEAD_BYTES = 1 + 8 + 4 + 2 + 2 + 8 * 10;

function writeNode(w: Writer, n: NodeDescriptor): void {
  w.fixed(n.identityKey).string(n.address).u64(n.timestampMs).u8(n.mixKeys.length);
  for (const k of n.mixKeys) w.u32(k.epoch).fixed(k.publicKey);
}

function readNode(r: Reader): NodeDescriptor {
  const identityKey = r.fixed(32);
  const address = r.string();
  const timestampMs = r.u64();
  const n = r.u8();
  if (n > MAX_KEYS) throw new MalformedMessage('bad_field', 'too many mix keys');
  const mixKeys: MixKey[] = [];
  for (let i = 0; i < n; i++) mixKeys.push({ epoch: r.u32(), publicKey: r.fixed(32) });
  return { identityKey, address, mixKeys, timestampMs };
}

export function encodeDescriptor(n: NodeDescriptor): Uint8Array {
  const w = new Writer().u8(DESCRIPTOR_VERSION);
  writeNode(w, n);
  return w.finish();
}

export function decodeDescriptor(bytes: Uint8Array): NodeDescriptor {
  const r = new Reader(bytes);
  if (r.u8() !== DESCRIPTOR_VERSION) throw new MalformedMessage('bad_version', 'unknown descriptor version');
  const n = readNode(r);
  r.end();
  return n;
}

const PARAM_KEYS: Array<keyof NetworkParams> = [
  'packetSize',
  'maxHops',
  'meanDelayMs',
  'maxDelayMs',
  'epochSeconds',
  'graceSeconds',
  'lambdaPerSecond',
  'loopPerSecond',
  'mixLoopPerSecond',
  'deliveryPerSecond',
];

/** Bytes one node entry takes in a page. */
export function nodeEntryBytes(n: NodeDescriptor): number {
  return 32 + 2 + Buffer.byteLength(n.address, 'utf8') + 8 + 1 + 36 * n.mixKeys.length;
}

/**
 * The directory cut into pages of at most `maxPageBytes` each (signed one by
 * one by the caller), so that it stays fetchable, below any UDP or MTU limit,
 * however many proxies it lists. Bounded by construction: more than
 * MAX_PROXIES proxies, or one node too large for a page, is a programming
 * error (CS admits neither), never an oversized datagram.
 */
export function encodeDirectoryPages(d: Directory, maxPageBytes: number): Uint8Array[] {
  if (d.proxies.length > MAX_PROXIES) {
    throw new InvalidArgument(`a directory lists at most ${MAX_PROXIES} proxies, not ${d.proxies.length}`);
  }
  const room = maxPageBytes - PAGE_HEAD_BYTES - nodeEntryBytes(d.central) - 2;
  const slices: NodeDescriptor[][] = [[]];
  let used = 0;
  for (const p of d.proxies) {
    const size = nodeEntryBytes(p);
    if (size > room)
      throw new InvalidArgument(`a node entry of ${size} bytes does not fit a ${maxPageBytes}-byte page`);
    if (used + size > room) {
      slices.push([]);
      used = 0;
    }
    (slices[slices.length - 1] as NodeDescriptor[]).push(p);
    used += size;
  }
  return slices.map((proxies, page) => encodePage({ ...d, proxies, page, pageCount: slices.length }));
}

/** One page (tests and callers that build a single page themselves). */
export function encodePage(p: DirectoryPage): Uint8Array {
  if (p.proxies.length > MAX_PROXIES) throw new InvalidArgument(`at most ${MAX_PROXIES} proxies per page`);
  const w = new Writer().u8(DIRECTORY_VERSION).u64(p.issuedAtMs).u32(p.epoch).u16(p.page).u16(p.pageCount);
  for (const k of PARAM_KEYS) w.f64(p.params[k]);
  writeNode(w, p.central);
  w.u16(p.proxies.length);
  for (const n of p.proxies) writeNode(w, n);
  return w.finish();
}

export function decodePage(bytes: Uint8Array): DirectoryPage {
  const r = new Reader(bytes);
  if (r.u8() !== DIRECTORY_VERSION) throw new MalformedMessage('bad_version', 'unknown directory version');
  const issuedAtMs = r.u64();
  const epoch = r.u32();
  const page = r.u16();
  const pageCount = r.u16();
  if (pageCount < 1 || pageCount > MAX_PROXIES || page >= pageCount) {
    throw new MalformedMessage('bad_field', `page ${page} of ${pageCount}`);
  }
  const params = {} as NetworkParams;
  for (const k of PARAM_KEYS) params[k] = r.f64();
  const central = readNode(r);
  const n = r.u16();
  if (n > MAX_PROXIES) throw new MalformedMessage('bad_field', 'too many proxies');
  const proxies: NodeDescriptor[] = [];
  for (let i = 0; i < n; i++) proxies.push(readNode(r));
  r.end();
  return { issuedAtMs, epoch, page, pageCount, params, central, proxies };
}

/**
 * The directory made of a complete set of pages (any order): all must be of one
 * issue (same time, epoch, parameters and CS entry), pages 0..n−1 each once,
 * at most MAX_PROXIES proxies in all. MalformedMessage otherwise.
 */
export function assemblePages(pages: DirectoryPage[]): Directory {
  const first = pages[0];
  if (!first) throw new MalformedMessage('bad_field', 'no pages');
  const head = encodeHead(first);
  const byIndex: Array<DirectoryPage | undefined> = new Array(first.pageCount);
  let count = 0;
  for (const p of pages) {
    if (p.pageCount !== first.pageCount || !bytesEqual(encodeHead(p), head)) {
      throw new MalformedMessage('bad_field', 'pages of different directory issues');
    }
    if (byIndex[p.page]) throw new MalformedMessage('bad_field', `page ${p.page} twice`);
    byIndex[p.page] = p;
    count += p.proxies.length;
  }
  if (pages.length !== first.pageCount) throw new MalformedMessage('truncated', 'pages missing');
  if (count > MAX_PROXIES) throw new MalformedMessage('bad_field', 'too many proxies');
  const proxies = byIndex.flatMap((p) => (p as DirectoryPage).proxies);
  return { issuedAtMs: first.issuedAtMs, epoch: first.epoch, params: first.params, central: first.central, proxies };
}

/** What every page of one issue repeats. */
function encodeHead(p: DirectoryPage): Uint8Array {
  const w = new Writer().u64(p.issuedAtMs).u32(p.epoch);
  for (const k of PARAM_KEYS) w.f64(p.params[k]);
  writeNode(w, p.central);
  return w.finish();
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export function signDocument(crypto: CryptoBackend, label: string, seed: Uint8Array, doc: Uint8Array): Uint8Array {
  return crypto.ed25519Sign(seed, signedBytes(label, doc));
}

export class BadSignature extends Error {
  constructor(what: string) {
    super(`${what} signature does not verify against the pinned key`);
    this.name = 'BadSignature';
  }
}

/** Verifies a directory page against the pinned CS key and decodes it. */
export function openDirectoryPage(
  crypto: CryptoBackend,
  pinnedCentralKey: Uint8Array,
  document: Uint8Array,
  signature: Uint8Array,
): DirectoryPage {
  if (!crypto.ed25519Verify(pinnedCentralKey, signedBytes('directory', document), signature)) {
    throw new BadSignature('directory');
  }
  const dir = decodePage(document);
  if (!crypto.equal(dir.central.identityKey, pinnedCentralKey)) throw new BadSignature('directory central key');
  return dir;
}

/** The mix key a node uses for `epoch`, if it published one. */
export function mixKeyFor(node: NodeDescriptor, epoch: number): Uint8Array | undefined {
  return node.mixKeys.find((k) => k.epoch === epoch)?.publicKey;
}

export interface IndexedDirectory extends Directory {
  byId: Map<string, NodeDescriptor>;
}

export function indexDirectory(crypto: CryptoBackend, d: Directory): IndexedDirectory {
  const byId = new Map<string, NodeDescriptor>();
  for (const n of [d.central, ...d.proxies]) byId.set(Buffer.from(nodeIdOf(crypto, n.identityKey)).toString('hex'), n);
  return { ...d, byId };
}

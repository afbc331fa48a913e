import type { CryptoBackend } from '../scramble/crypto/backend.js';
import { MalformedMessage, Reader, Writer } from './codec.js';
import { nodeIdOf } from './ids.js';
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

const DOC_VERSION = 1;
const MAX_PROXIES = 1000;
const MAX_KEYS = 8;

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
  const w = new Writer().u8(DOC_VERSION);
  writeNode(w, n);
  return w.finish();
}

export function decodeDescriptor(bytes: Uint8Array): NodeDescriptor {
  const r = new Reader(bytes);
  if (r.u8() !== DOC_VERSION) throw new MalformedMessage('bad_version', 'unknown descriptor version');
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

export function encodeDirectory(d: Directory): Uint8Array {
  const w = new Writer().u8(DOC_VERSION).u64(d.issuedAtMs).u32(d.epoch);
  for (const k of PARAM_KEYS) w.f64(d.params[k]);
  writeNode(w, d.central);
  w.u16(d.proxies.length);
  for (const p of d.proxies) writeNode(w, p);
  return w.finish();
}

export function decodeDirectory(bytes: Uint8Array): Directory {
  const r = new Reader(bytes);
  if (r.u8() !== DOC_VERSION) throw new MalformedMessage('bad_version', 'unknown directory version');
  const issuedAtMs = r.u64();
  const epoch = r.u32();
  const params = {} as NetworkParams;
  for (const k of PARAM_KEYS) params[k] = r.f64();
  const central = readNode(r);
  const n = r.u16();
  if (n > MAX_PROXIES) throw new MalformedMessage('bad_field', 'too many proxies');
  const proxies: NodeDescriptor[] = [];
  for (let i = 0; i < n; i++) proxies.push(readNode(r));
  r.end();
  return { issuedAtMs, epoch, params, central, proxies };
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

/** Verifies a directory against the pinned CS key and decodes it. */
export function openDirectory(
  crypto: CryptoBackend,
  pinnedCentralKey: Uint8Array,
  document: Uint8Array,
  signature: Uint8Array,
): Directory {
  if (!crypto.ed25519Verify(pinnedCentralKey, signedBytes('directory', document), signature)) {
    throw new BadSignature('directory');
  }
  const dir = decodeDirectory(document);
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

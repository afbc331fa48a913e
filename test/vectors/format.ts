/**
 * JSON shapes of the test vectors in this folder, and the conversions shared by
 * generate.ts (which writes them once) and test/scramble/vectors.test.ts (which checks them).
 * All byte strings are lowercase hex.
 */
import type { HopCommand, UnwrapResult } from '../../src/scramble/index.js';

export interface CommandJson {
  kind: HopCommand['kind'];
  next?: string;
  delayMs?: number;
  mailbox?: string;
  surbId?: string;
}

export interface NodeJson {
  id: string;
  privateKey: string;
  publicKey: string;
}

/**
 * One hop's unwrap result. Final bodies are stored as their meaningful prefix
 * (`body`) plus the full length (`bodyLength`): the rest must be zero padding.
 */
export interface ResultJson {
  kind: UnwrapResult['kind'];
  replayTag: string;
  next?: string;
  delayMs?: number;
  packet?: string;
  mailbox?: string;
  surbId?: string;
  body?: string;
  bodyLength?: number;
  payload?: string;
}

/**
 * The sender's side of the header (docs/protocol.md §3 step 1), for implementers: `x` is the first
 * 32 bytes drawn from seededRng(seed); per hop, `accumulated` = clamp(x)·clamp(b_0)···clamp(b_{i−1})
 * mod ℓ (32 bytes, little-endian), `scalar` the X25519 scalar the sender uses (x at hop 0, then the
 * clamped representative of `accumulated`), and `shared` = X25519(scalar, pub_i) = X25519(priv_i, α_i).
 */
export interface SenderJson {
  x: string;
  hops: { accumulated: string; scalar: string; shared: string }[];
}

interface CaseBase {
  name: string;
  packetSize: number;
  maxHops: number;
  /** seededRng seed for createPacket / createSurb. */
  seed: string;
  nodes: NodeJson[];
  route: CommandJson[];
  /** Intermediate values of the header construction. */
  sender: SenderJson;
  /** The packet as it enters nodes[0]. */
  packet: string;
  /** Unwrap result at nodes[i]; a forward result's packet is the input of nodes[i + 1]. */
  hops: ResultJson[];
}

export interface PacketCaseJson extends CaseBase {
  type: 'packet';
  body: string;
}

export interface SurbCaseJson extends CaseBase {
  type: 'surb';
  firstHop: string;
  /** encodeSurb output. */
  surb: string;
  secret: { surbId: string; replyKey: string; payloadKeys: string[] };
  /** What the replier passes to useSurb; `packet` is the result. */
  replyBody: string;
}

export interface SphinxVectors {
  description: string;
  backend: string;
  cases: (PacketCaseJson | SurbCaseJson)[];
}

export interface SealedBoxVectors {
  description: string;
  backend: string;
  cases: { seed: string; secretKey: string; publicKey: string; message: string; sealed: string }[];
}

export interface LionessVectors {
  description: string;
  backend: string;
  cases: { key: string; plaintext: string; ciphertext: string }[];
}

export interface KdfVectors {
  description: string;
  backend: string;
  hopKeys: {
    shared: string;
    headerKey: string;
    macKey: string;
    payloadKey: string;
    blinding: string;
    replayTag: string;
  }[];
  /** seededRng(seed) called with each of `draws` in turn; `output` is everything it returned. */
  rng: { seed: string; draws: number[]; output: string }[];
}

const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

export function commandToJson(cmd: HopCommand): CommandJson {
  switch (cmd.kind) {
    case 'relay':
      return { kind: 'relay', next: toHex(cmd.next), delayMs: cmd.delayMs };
    case 'deliver':
      return { kind: 'deliver', mailbox: toHex(cmd.mailbox) };
    case 'surbReply':
      return { kind: 'surbReply', mailbox: toHex(cmd.mailbox), surbId: toHex(cmd.surbId) };
    default:
      return { kind: cmd.kind };
  }
}

export function commandFromJson(c: CommandJson): HopCommand {
  switch (c.kind) {
    case 'relay':
      return { kind: 'relay', next: fromHex(c.next as string), delayMs: c.delayMs as number };
    case 'deliver':
      return { kind: 'deliver', mailbox: fromHex(c.mailbox as string) };
    case 'surbReply':
      return { kind: 'surbReply', mailbox: fromHex(c.mailbox as string), surbId: fromHex(c.surbId as string) };
    case 'fanout':
    case 'deliverToken':
    case 'drop':
      return { kind: c.kind };
    default:
      throw new Error(`unknown command kind ${String(c.kind)}`);
  }
}

/** `bodyPrefix` is how many leading body bytes to store (the rest is zero padding). */
export function resultToJson(r: UnwrapResult, bodyPrefix: number): ResultJson {
  const base = { kind: r.kind, replayTag: toHex(r.replayTag) };
  switch (r.kind) {
    case 'forward':
      return { ...base, next: toHex(r.next), delayMs: r.delayMs, packet: toHex(r.packet) };
    case 'deliver':
      return {
        ...base,
        mailbox: toHex(r.mailbox),
        body: toHex(r.body.subarray(0, bodyPrefix)),
        bodyLength: r.body.length,
      };
    case 'fanout':
    case 'deliverToken':
      return { ...base, body: toHex(r.body.subarray(0, bodyPrefix)), bodyLength: r.body.length };
    case 'surbReply':
      return { ...base, mailbox: toHex(r.mailbox), surbId: toHex(r.surbId), payload: toHex(r.payload) };
    case 'drop':
      return base;
  }
}

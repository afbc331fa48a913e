import dgram from 'node:dgram';
import { encodeDescriptor, type MixKey, signDocument } from '../node/directory.js';
import { type ControlMessage, decodeAnyControl, encodeControl, FRAME_CONTROL, FRAME_PADDED } from '../node/wire.js';
import type { CryptoBackend } from '../scramble/crypto/backend.js';

/**
 * A stranger on the network (issue 10): a UDP socket on loopback that speaks
 * the wire protocol to real daemons and keeps count of everything that comes
 * back, for the regression tests of test/integration/strangers and the flood
 * and amplification benchmarks. It holds no key of any node.
 */
export interface Received {
  bytes: Uint8Array;
  from: { host: string; port: number };
  atMs: number;
}

export class Stranger {
  readonly received: Received[] = [];
  bytesIn = 0;
  bytesOut = 0;
  private keep = true;
  private readonly handlers: Array<(r: Received) => void> = [];

  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (msg, rinfo) => {
      const r = {
        bytes: new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength),
        from: { host: rinfo.address, port: rinfo.port },
        atMs: performance.now(),
      };
      this.bytesIn += msg.byteLength;
      if (this.keep) this.received.push(r);
      for (const h of this.handlers) h(r);
    });
    socket.on('error', () => {});
  }

  static async open(options: { keepReceived?: boolean; host?: string } = {}): Promise<Stranger> {
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
    await new Promise<void>((resolve) => socket.bind(0, options.host ?? '127.0.0.1', () => resolve()));
    const s = new Stranger(socket);
    s.keep = options.keepReceived ?? true;
    return s;
  }

  get port(): number {
    return this.socket.address().port;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  send(bytes: Uint8Array, port: number, host = '127.0.0.1'): void {
    this.bytesOut += bytes.length;
    this.socket.send(bytes, port, host);
  }

  onMessage(fn: (r: Received) => void): void {
    this.handlers.push(fn);
  }

  /** Control messages received so far (padded or not), decoded; undecodable datagrams are skipped. */
  controls(): Array<{ msg: ControlMessage; size: number; from: Received['from'] }> {
    const out: Array<{ msg: ControlMessage; size: number; from: Received['from'] }> = [];
    for (const r of this.received) {
      const m = decodeOrNull(r.bytes);
      if (m) out.push({ msg: m, size: r.bytes.length, from: r.from });
    }
    return out;
  }

  /** Resolves with the first datagram (already received or arriving) that `match` accepts. */
  next(match: (r: Received) => boolean, timeoutMs = 5000): Promise<Received> {
    const hit = this.received.find(match);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('stranger: timed out waiting for a datagram')), timeoutMs);
      this.handlers.push((r) => {
        if (!match(r)) return;
        clearTimeout(timer);
        resolve(r);
      });
    });
  }

  /**
   * Answers CS's reachability probes sent to this socket, as a proxy at this
   * address would: the attacker controls the address it advertises here.
   */
  answerProbes(): void {
    this.onMessage((r) => {
      const m = decodeOrNull(r.bytes);
      if (m?.type === 'probe')
        this.send(encodeControl({ type: 'probeReply', nonce: m.nonce }), r.from.port, r.from.host);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

export function decodeOrNull(bytes: Uint8Array): ControlMessage | null {
  if (bytes[0] !== FRAME_CONTROL && bytes[0] !== FRAME_PADDED) return null;
  try {
    return decodeAnyControl(bytes);
  } catch {
    return null;
  }
}

/** A self-signed descriptor as anyone can make one: a fresh identity, whatever address and keys it likes. */
export function forgedDescriptor(
  crypto: CryptoBackend,
  opts: { address: string; mixKeys: MixKey[]; seed?: Uint8Array; timestampMs?: number },
): Uint8Array {
  const seed = opts.seed ?? crypto.randomBytes(32);
  const descriptor = encodeDescriptor({
    identityKey: crypto.ed25519PublicKey(seed),
    address: opts.address,
    mixKeys: opts.mixKeys,
    timestampMs: opts.timestampMs ?? Date.now(),
  });
  return encodeControl({
    type: 'descriptor',
    descriptor,
    signature: signDocument(crypto, 'descriptor', seed, descriptor),
  });
}

/** An X25519 public key of order 8 (libsodium's blacklist): any multiple by a clamped scalar is zero. */
export const LOW_ORDER_X25519 = Uint8Array.from(
  Buffer.from('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'hex'),
);

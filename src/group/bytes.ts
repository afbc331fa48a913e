/**
 * Explicit big-endian binary framing shared by the group codecs. The reader
 * never reads past its input and reports every problem through the error
 * factory of the format being decoded, so each decoder throws only its own
 * typed error.
 */
export type ErrorFactory = (message: string) => Error;

export class ByteWriter {
  private readonly parts: Uint8Array[] = [];
  private length = 0;

  bytes(b: Uint8Array): this {
    this.parts.push(b.slice());
    this.length += b.length;
    return this;
  }

  u8(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`u8 out of range: ${v}`);
    return this.fixed(1, (dv) => dv.setUint8(0, v));
  }

  u16(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`u16 out of range: ${v}`);
    return this.fixed(2, (dv) => dv.setUint16(0, v, false));
  }

  u32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`u32 out of range: ${v}`);
    return this.fixed(4, (dv) => dv.setUint32(0, v, false));
  }

  /** u64 restricted to safe integers: sequence numbers and millisecond times never get near 2^53. */
  u64(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`u64 out of safe range: ${v}`);
    return this.fixed(8, (dv) => dv.setBigUint64(0, BigInt(v), false));
  }

  /** u16 length prefix then the bytes. */
  bytes16(b: Uint8Array): this {
    return this.u16(b.length).bytes(b);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let off = 0;
    for (const p of this.parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }

  private fixed(n: number, set: (dv: DataView) => void): this {
    const b = new Uint8Array(n);
    set(new DataView(b.buffer));
    this.parts.push(b);
    this.length += n;
    return this;
  }
}

export class ByteReader {
  private pos = 0;
  private readonly view: DataView;

  constructor(
    private readonly buf: Uint8Array,
    private readonly fail: ErrorFactory,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  /** A copy, so decoded values never alias (and keep alive) the input buffer. */
  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.pos++);
  }

  u16(what: string): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos, false);
    this.pos += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, false);
    this.pos += 4;
    return v;
  }

  u64(what: string): number {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, false);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.fail(`${what} is out of range`);
    return Number(v);
  }

  bytes16(what: string): Uint8Array {
    return this.bytes(this.u16(`${what} length`), what);
  }

  /** The input consumed so far (e.g. the signed prefix). */
  consumed(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /** Rejects trailing bytes: one encoding per value, so nothing can hide after it. */
  end(what: string): void {
    if (this.pos !== this.buf.length) throw this.fail(`${this.buf.length - this.pos} trailing bytes after ${what}`);
  }

  /** Accepts only zero padding after the value (bodies are zero-padded to a fixed size). */
  endZeroPadded(what: string): void {
    for (let i = this.pos; i < this.buf.length; i++) {
      if (this.buf[i] !== 0) throw this.fail(`non-zero padding after ${what}`);
    }
    this.pos = this.buf.length;
  }

  private need(n: number, what: string): void {
    if (this.buf.length - this.pos < n) throw this.fail(`truncated: ${what} needs ${n} bytes`);
  }
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const enc = new TextEncoder();

/**
 * Domain-separation label for a signed structure: the signature over one kind
 * of object can never be replayed as a signature over another kind.
 */
export function label(name: string): Uint8Array {
  return enc.encode(`mixd/v1/group/${name}\u0000`);
}

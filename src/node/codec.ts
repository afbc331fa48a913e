/**
 * Minimal binary reader/writer for control messages and documents. Every read
 * is bounds-checked and throws MalformedMessage, so parsers built on it can
 * only fail in one typed way on hostile bytes.
 */
/** Why bytes from the network did not decode (counted as `control_<reason>` for control frames). */
export type MessageErrorReason =
  | 'truncated'
  | 'range'
  | 'utf8'
  | 'trailing'
  | 'bad_frame'
  | 'bad_version'
  | 'bad_type'
  | 'bad_field'
  | 'bad_padding'
  | 'bad_seal'
  | 'empty';

export class MalformedMessage extends Error {
  readonly reason: MessageErrorReason;
  constructor(reason: MessageErrorReason, message: string) {
    super(message);
    this.name = 'MalformedMessage';
    this.reason = reason;
  }
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export class Writer {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  private pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`u8 out of range: ${v}`);
    this.ensure(1);
    this.view.setUint8(this.pos, v);
    this.pos += 1;
    return this;
  }
  u16(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`u16 out of range: ${v}`);
    this.ensure(2);
    this.view.setUint16(this.pos, v, false);
    this.pos += 2;
    return this;
  }
  u32(v: number): this {
    this.ensure(4);
    this.view.setUint32(this.pos, v, false);
    this.pos += 4;
    return this;
  }
  /** Integers up to 2^53 (timestamps in ms, entry ids). */
  u64(v: number): this {
    this.ensure(8);
    this.view.setBigUint64(this.pos, BigInt(v), false);
    this.pos += 8;
    return this;
  }
  f64(v: number): this {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, false);
    this.pos += 8;
    return this;
  }
  /** Fixed-length bytes: the reader must know the length. */
  fixed(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }
  /** u16-length-prefixed bytes. */
  bytes(b: Uint8Array): this {
    return this.u16(b.length).fixed(b);
  }
  string(s: string): this {
    return this.bytes(utf8.encode(s));
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

export class Reader {
  private pos = 0;
  private readonly view: DataView;
  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new MalformedMessage('truncated', 'message is truncated');
  }
  u8(): number {
    this.need(1);
    return this.view.getUint8(this.pos++);
  }
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, false);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, false);
    this.pos += 4;
    return v;
  }
  u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, false);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new MalformedMessage('range', 'integer out of range');
    return Number(v);
  }
  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, false);
    this.pos += 8;
    if (!Number.isFinite(v)) throw new MalformedMessage('range', 'number is not finite');
    return v;
  }
  fixed(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  bytes(): Uint8Array {
    return this.fixed(this.u16());
  }
  string(): string {
    try {
      return utf8Strict.decode(this.bytes());
    } catch (err) {
      if (err instanceof MalformedMessage) throw err;
      throw new MalformedMessage('utf8', 'string is not valid UTF-8');
    }
  }
  /** Position of the next unread byte (for signatures over a prefix). */
  offset(): number {
    return this.pos;
  }
  end(): void {
    if (this.pos !== this.buf.length) throw new MalformedMessage('trailing', 'trailing bytes after message');
  }
}

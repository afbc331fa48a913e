import { MalformedMessage, Reader, Writer } from '../node/codec.js';

/**
 * End-to-end framing inside a packet body: u16 length | sealed box | zero
 * padding. The sealed box is opened with the recipient's key (unicast) or the
 * group key (multicast); its plaintext starts with a version and a kind byte.
 */
export function frameSealed(sealed: Uint8Array): Uint8Array {
  return new Writer().bytes(sealed).finish();
}

export function unframeSealed(body: Uint8Array): Uint8Array {
  const r = new Reader(body);
  const len = r.u16();
  if (len === 0) throw new MalformedMessage('empty', 'empty frame');
  return r.fixed(len);
}

export const INNER_VERSION = 1;
export const INNER_UNICAST = 1;

export function encodeUnicast(data: Uint8Array): Uint8Array {
  return new Writer().u8(INNER_VERSION).u8(INNER_UNICAST).fixed(data).finish();
}

export function decodeUnicast(inner: Uint8Array): Uint8Array {
  const r = new Reader(inner);
  if (r.u8() !== INNER_VERSION) throw new MalformedMessage('bad_version', 'unknown inner version');
  if (r.u8() !== INNER_UNICAST) throw new MalformedMessage('bad_type', 'not a unicast message');
  return inner.slice(2);
}

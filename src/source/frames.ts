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

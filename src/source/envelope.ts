import { MalformedMessage, Reader, Writer } from '../node/codec.js';

/**
 * What travels sealed to one recipient (unicast path, deliver command): a
 * fragment of a direct message (invite, rekey, datagram), optionally carrying
 * a SURB so the recipient can acknowledge it without learning who sent it.
 *
 *   version(1)=1 | type(1)=1 | msgId(16) | index(u8) | count(u8) | surbLen(u16) | surb | chunkLen(u16) | chunk
 *
 * An acknowledgement travels back inside a SURB reply:
 *   version(1)=1 | type(1)=2 | msgId(16) | index(u8)
 */
export const ENVELOPE_VERSION = 1;
const TYPE_FRAGMENT = 1;
const TYPE_ACK = 2;
const TYPE_LOOP = 3;
export const MSG_ID_BYTES = 16;
export const MAX_FRAGMENTS = 64;
export const FRAGMENT_HEADER_BYTES = 1 + 1 + MSG_ID_BYTES + 1 + 1 + 2 + 2;

export interface Fragment {
  msgId: Uint8Array;
  index: number;
  count: number;
  surb: Uint8Array | null;
  chunk: Uint8Array;
}

export interface Ack {
  msgId: Uint8Array;
  index: number;
}

export function encodeFragment(f: Fragment): Uint8Array {
  const w = new Writer().u8(ENVELOPE_VERSION).u8(TYPE_FRAGMENT).fixed(f.msgId).u8(f.index).u8(f.count);
  w.bytes(f.surb ?? new Uint8Array(0));
  return w.bytes(f.chunk).finish();
}

export function decodeFragment(bytes: Uint8Array): Fragment {
  const r = new Reader(bytes);
  if (r.u8() !== ENVELOPE_VERSION) throw new MalformedMessage('bad_version', 'unknown envelope version');
  if (r.u8() !== TYPE_FRAGMENT) throw new MalformedMessage('bad_type', 'not a fragment');
  const msgId = r.fixed(MSG_ID_BYTES);
  const index = r.u8();
  const count = r.u8();
  if (count === 0 || count > MAX_FRAGMENTS || index >= count) {
    throw new MalformedMessage('bad_field', `fragment ${index} of ${count} is impossible`);
  }
  const surb = r.bytes();
  const chunk = r.bytes();
  r.end();
  return { msgId, index, count, surb: surb.length ? surb : null, chunk };
}

export function encodeAck(a: Ack): Uint8Array {
  return new Writer().u8(ENVELOPE_VERSION).u8(TYPE_ACK).fixed(a.msgId).u8(a.index).finish();
}

/** Decodes an ack from a SURB reply body (zero padding after it is allowed). */
export function decodeAck(bytes: Uint8Array): Ack {
  const r = new Reader(bytes);
  if (r.u8() !== ENVELOPE_VERSION) throw new MalformedMessage('bad_version', 'unknown envelope version');
  if (r.u8() !== TYPE_ACK) throw new MalformedMessage('bad_type', 'not an ack');
  const msgId = r.fixed(MSG_ID_BYTES);
  const index = r.u8();
  return { msgId, index };
}

/** A loop cover packet's sealed content: it comes back to its sender and is discarded. */
export function loopMarker(id: Uint8Array): Uint8Array {
  return new Writer().u8(ENVELOPE_VERSION).u8(TYPE_LOOP).fixed(id).finish();
}

export function isLoop(plain: Uint8Array): boolean {
  return plain.length === 2 + MSG_ID_BYTES && plain[0] === ENVELOPE_VERSION && plain[1] === TYPE_LOOP;
}

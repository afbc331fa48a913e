import { MalformedMessage, Reader, Writer } from './codec.js';
import { DIRECTORY_FRAME_BYTES } from './limits.js';

/**
 * Datagram framing. Byte 0 says what follows:
 *   0x01  a Sphinx packet (exactly the network's packetSize; the byte is the packet version)
 *   0x02  a control message: 0x02 | wire version | type | fields
 */
export const FRAME_SPHINX = 0x01;
export const FRAME_CONTROL = 0x02;
export const WIRE_VERSION = 1;

export type ControlMessage =
  /** Page `page` of the directory issued at `issuedAtMs` (0: the current one). Sent padded: see directoryRequestFrame. */
  | { type: 'dirRequest'; page: number; issuedAtMs: number }
  | { type: 'dirResponse'; document: Uint8Array; signature: Uint8Array }
  | { type: 'descriptor'; descriptor: Uint8Array; signature: Uint8Array }
  | { type: 'descriptorAck'; ok: boolean }
  | { type: 'hello'; identityKey: Uint8Array }
  | { type: 'challenge'; nonce: Uint8Array }
  | { type: 'register'; identityKey: Uint8Array; nonce: Uint8Array; signature: Uint8Array }
  /** `cookie` binds the session to the address the registration came from (CS only checks it). */
  | { type: 'registered'; mailbox: Uint8Array; cookie: Uint8Array }
  | { type: 'keepalive'; identityKey: Uint8Array; timeMs: number; cookie: Uint8Array; signature: Uint8Array }
  /** Sealed to the recipient source: see deliveryFrame.ts. Real, SURB-reply and dummy deliveries look alike. */
  | { type: 'delivery'; sealed: Uint8Array }
  | { type: 'ack'; identityKey: Uint8Array; timeMs: number; ids: number[]; signature: Uint8Array }
  | { type: 'error'; code: string; text: string }
  /** CS → S: the address cookie for the address a keepalive came from (inside `boxed` only). */
  | { type: 'cookie'; cookie: Uint8Array }
  /** CS → S: a control frame (challenge, registered, error, cookie) boxed by CS's key: see boxedControl.ts. */
  | { type: 'boxed'; sealed: Uint8Array }
  /** CS → the address a proxy advertises: answer with `probeReply` carrying the same nonce. */
  | { type: 'probe'; nonce: Uint8Array }
  | { type: 'probeReply'; nonce: Uint8Array };

export type DeliveryKind = 'message' | 'surbReply' | 'dummy';

const TYPE_CODES: Record<ControlMessage['type'], number> = {
  dirRequest: 1,
  dirResponse: 2,
  descriptor: 3,
  descriptorAck: 4,
  hello: 5,
  challenge: 6,
  register: 7,
  registered: 8,
  keepalive: 9,
  delivery: 10,
  ack: 11,
  error: 12,
  cookie: 13,
  boxed: 14,
  probe: 15,
  probeReply: 16,
};
const CODE_TYPES = new Map(Object.entries(TYPE_CODES).map(([k, v]) => [v, k as ControlMessage['type']]));
export const MAX_ACK_IDS = 256;
/** Address cookies (registered, keepalive, cookie) and probe nonces, in bytes. */
export const COOKIE_BYTES = 16;
export const PROBE_NONCE_BYTES = 32;

export function encodeControl(msg: ControlMessage): Uint8Array {
  const w = new Writer().u8(FRAME_CONTROL).u8(WIRE_VERSION).u8(TYPE_CODES[msg.type]);
  switch (msg.type) {
    case 'dirRequest':
      w.u16(msg.page).u64(msg.issuedAtMs);
      break;
    case 'dirResponse':
      w.u32(msg.document.length).fixed(msg.document).fixed(msg.signature);
      break;
    case 'descriptor':
      w.bytes(msg.descriptor).fixed(msg.signature);
      break;
    case 'descriptorAck':
      w.u8(msg.ok ? 1 : 0);
      break;
    case 'hello':
      w.fixed(msg.identityKey);
      break;
    case 'challenge':
      w.fixed(msg.nonce);
      break;
    case 'register':
      w.fixed(msg.identityKey).fixed(msg.nonce).fixed(msg.signature);
      break;
    case 'registered':
      w.fixed(msg.mailbox).fixed(msg.cookie);
      break;
    case 'keepalive':
      w.fixed(msg.identityKey).u64(msg.timeMs).fixed(msg.cookie).fixed(msg.signature);
      break;
    case 'delivery':
      w.bytes(msg.sealed);
      break;
    case 'ack':
      w.fixed(msg.identityKey).u64(msg.timeMs).u16(msg.ids.length);
      for (const id of msg.ids) w.u64(id);
      w.fixed(msg.signature);
      break;
    case 'error':
      w.string(msg.code).string(msg.text);
      break;
    case 'cookie':
      w.fixed(msg.cookie);
      break;
    case 'boxed':
      w.bytes(msg.sealed);
      break;
    case 'probe':
    case 'probeReply':
      w.fixed(msg.nonce);
      break;
  }
  return w.finish();
}

/** Decodes a control frame; anything else (or any inconsistency) is MalformedMessage. */
export function decodeControl(frame: Uint8Array): ControlMessage {
  const r = new Reader(frame);
  if (r.u8() !== FRAME_CONTROL) throw new MalformedMessage('bad_frame', 'not a control frame');
  const version = r.u8();
  if (version !== WIRE_VERSION) throw new MalformedMessage('bad_version', `unsupported wire version ${version}`);
  const code = r.u8();
  const type = CODE_TYPES.get(code);
  if (!type) throw new MalformedMessage('bad_type', `unknown control message type ${code}`);
  let msg: ControlMessage;
  switch (type) {
    case 'dirRequest':
      msg = { type, page: r.u16(), issuedAtMs: r.u64() };
      break;
    case 'dirResponse': {
      const len = r.u32();
      msg = { type, document: r.fixed(len), signature: r.fixed(64) };
      break;
    }
    case 'descriptor':
      msg = { type, descriptor: r.bytes(), signature: r.fixed(64) };
      break;
    case 'descriptorAck': {
      const ok = r.u8();
      if (ok > 1) throw new MalformedMessage('bad_field', 'descriptorAck.ok must be 0 or 1');
      msg = { type, ok: ok === 1 };
      break;
    }
    case 'hello':
      msg = { type, identityKey: r.fixed(32) };
      break;
    case 'challenge':
      msg = { type, nonce: r.fixed(32) };
      break;
    case 'register':
      msg = { type, identityKey: r.fixed(32), nonce: r.fixed(32), signature: r.fixed(64) };
      break;
    case 'registered':
      msg = { type, mailbox: r.fixed(16), cookie: r.fixed(COOKIE_BYTES) };
      break;
    case 'keepalive':
      msg = {
        type,
        identityKey: r.fixed(32),
        timeMs: r.u64(),
        cookie: r.fixed(COOKIE_BYTES),
        signature: r.fixed(64),
      };
      break;
    case 'delivery':
      msg = { type, sealed: r.bytes() };
      break;
    case 'ack': {
      const identityKey = r.fixed(32);
      const timeMs = r.u64();
      const n = r.u16();
      if (n > MAX_ACK_IDS) throw new MalformedMessage('bad_field', `ack carries more than ${MAX_ACK_IDS} ids`);
      const ids: number[] = [];
      for (let i = 0; i < n; i++) ids.push(r.u64());
      msg = { type, identityKey, timeMs, ids, signature: r.fixed(64) };
      break;
    }
    case 'error':
      msg = { type, code: r.string(), text: r.string() };
      break;
    case 'cookie':
      msg = { type, cookie: r.fixed(COOKIE_BYTES) };
      break;
    case 'boxed':
      msg = { type, sealed: r.bytes() };
      break;
    case 'probe':
    case 'probeReply':
      msg = { type, nonce: r.fixed(PROBE_NONCE_BYTES) };
      break;
  }
  r.end();
  return msg;
}

/** Domain-separated bytes that a control signature covers. */
export function signedBytes(label: string, ...parts: Array<Uint8Array | number>): Uint8Array {
  const w = new Writer().string(`mixd/v1/${label}`);
  for (const p of parts) {
    if (typeof p === 'number') w.u64(p);
    else w.bytes(p);
  }
  return w.finish();
}

/**
 * Padded control frames, used on the source ↔ CS link so that every datagram
 * there has one size whatever it is (hello, register, keepalive, ack,
 * challenge, registered, error, delivery):
 *
 *   0x03 | u16 innerLength | inner control frame (0x02 …) | zero padding to the link size
 *
 * Only directory requests and responses are left unpadded: they are periodic
 * and their content is public.
 */
export const FRAME_PADDED = 0x03;

/** The source ↔ CS frame size for a packet geometry: a delivery frame (the largest) plus this header. */
export function sourceLinkFrameBytes(payloadBytes: number): number {
  const deliveryInner = 8 + 1 + 16 + payloadBytes;
  const boxed = 24 + 16 + deliveryInner;
  return 3 + 3 + 2 + boxed;
}

/** Most entry ids one padded ack can carry on the source ↔ CS link. */
export function maxAckIdsPerFrame(linkFrameBytes: number): number {
  const fixed = 3 + 3 + 32 + 8 + 2 + 64;
  return Math.max(1, Math.min(MAX_ACK_IDS, Math.floor((linkFrameBytes - fixed) / 8)));
}

export function padControl(frame: Uint8Array, size: number): Uint8Array {
  if (frame.length + 3 > size) throw new RangeError(`control frame of ${frame.length} bytes does not fit ${size}`);
  const out = new Uint8Array(size);
  out[0] = FRAME_PADDED;
  new DataView(out.buffer).setUint16(1, frame.length, false);
  out.set(frame, 3);
  return out;
}

/** The inner control frame of a padded one; MalformedMessage unless the padding is all zero. */
export function unpadControl(bytes: Uint8Array): Uint8Array {
  const r = new Reader(bytes);
  if (r.u8() !== FRAME_PADDED) throw new MalformedMessage('bad_frame', 'not a padded control frame');
  const inner = r.fixed(r.u16());
  for (let i = r.offset(); i < bytes.length; i++) {
    if (bytes[i] !== 0) throw new MalformedMessage('bad_padding', 'non-zero padding');
  }
  return inner;
}

/** Decodes a control frame, padded or not. */
export function decodeAnyControl(bytes: Uint8Array): ControlMessage {
  return decodeControl(bytes[0] === FRAME_PADDED ? unpadControl(bytes) : bytes);
}

/**
 * A directory request as it goes on the wire: padded to DIRECTORY_FRAME_BYTES,
 * the most any directory page answer takes, so nobody can make CS send more
 * bytes to a (spoofed) address than it received from it.
 */
export function directoryRequestFrame(page: number, issuedAtMs: number): Uint8Array {
  return padControl(encodeControl({ type: 'dirRequest', page, issuedAtMs }), DIRECTORY_FRAME_BYTES);
}

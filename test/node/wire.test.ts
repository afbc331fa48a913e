/**
 * Control-frame codec (src/node/wire.ts). Round trip for every message type, then hostile bytes:
 * decodeControl either returns a message that re-encodes to exactly the input, or throws
 * MalformedMessage with a reason. Never a TypeError, RangeError or anything else.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import t from 'tap';
import { MalformedMessage, Writer } from '../../src/node/codec.js';
import {
  type ControlMessage,
  decodeControl,
  encodeControl,
  FRAME_CONTROL,
  FRAME_SPHINX,
  MAX_ACK_IDS,
  signedBytes,
  WIRE_VERSION,
} from '../../src/node/wire.js';
import { bytesEqual, FUZZ_SEED, fuzzDecoder, hexOf, malformedReason } from './fuzzHelpers.js';

/** Plain objects (fc.record's default null prototype would never be deep-equal to a decoded message). */
const rec = <T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> =>
  fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
const bytesN = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const u64 = fc.maxSafeNat();
/** Strings as senders write them, a leading U+FEFF included (it must survive decoding). */
const str = fc.string({ unit: 'binary', maxLength: 40 });

const ARBS: { [K in ControlMessage['type']]: fc.Arbitrary<Extract<ControlMessage, { type: K }>> } = {
  dirRequest: rec({ type: fc.constant('dirRequest' as const), page: fc.nat({ max: 0xffff }), issuedAtMs: u64 }),
  dirResponse: rec({
    type: fc.constant('dirResponse' as const),
    document: fc.uint8Array({ maxLength: 2000 }),
    signature: bytesN(64),
  }),
  descriptor: rec({
    type: fc.constant('descriptor' as const),
    descriptor: fc.uint8Array({ maxLength: 600 }),
    signature: bytesN(64),
  }),
  descriptorAck: rec({ type: fc.constant('descriptorAck' as const), ok: fc.boolean() }),
  hello: rec({ type: fc.constant('hello' as const), identityKey: bytesN(32) }),
  challenge: rec({ type: fc.constant('challenge' as const), nonce: bytesN(32) }),
  register: rec({
    type: fc.constant('register' as const),
    identityKey: bytesN(32),
    nonce: bytesN(32),
    signature: bytesN(64),
  }),
  registered: rec({ type: fc.constant('registered' as const), mailbox: bytesN(16), cookie: bytesN(16) }),
  keepalive: rec({
    type: fc.constant('keepalive' as const),
    identityKey: bytesN(32),
    timeMs: u64,
    cookie: bytesN(16),
    signature: bytesN(64),
  }),
  delivery: rec({ type: fc.constant('delivery' as const), sealed: fc.uint8Array({ maxLength: 2200 }) }),
  ack: rec({
    type: fc.constant('ack' as const),
    identityKey: bytesN(32),
    timeMs: u64,
    ids: fc.array(u64, { maxLength: MAX_ACK_IDS }),
    signature: bytesN(64),
  }),
  error: rec({ type: fc.constant('error' as const), code: str, text: str }),
  cookie: rec({ type: fc.constant('cookie' as const), cookie: bytesN(16) }),
  boxed: rec({ type: fc.constant('boxed' as const), sealed: fc.uint8Array({ maxLength: 300 }) }),
  probe: rec({ type: fc.constant('probe' as const), nonce: bytesN(32) }),
  probeReply: rec({ type: fc.constant('probeReply' as const), nonce: bytesN(32) }),
};
const TYPES = Object.keys(ARBS) as Array<ControlMessage['type']>;
const anyMessage: fc.Arbitrary<ControlMessage> = fc.oneof(...TYPES.map((k) => ARBS[k] as fc.Arbitrary<ControlMessage>));

t.test('every message type round-trips and its encoding is canonical', async (t) => {
  for (const type of TYPES) {
    fc.assert(
      fc.property(ARBS[type] as fc.Arbitrary<ControlMessage>, (msg) => {
        const frame = encodeControl(msg);
        if (frame[0] !== FRAME_CONTROL || frame[1] !== WIRE_VERSION) throw new Error('bad header');
        const back = decodeControl(frame);
        if (!isDeepStrictEqual(back, msg)) throw new Error(`${type} did not round-trip`);
        if (!bytesEqual(encodeControl(back), frame)) throw new Error(`${type} re-encodes differently`);
      }),
      { seed: FUZZ_SEED, numRuns: 200 },
    );
    t.pass(`${type} round-trips`);
  }
});

t.test('the sixteen type codes are distinct and all decodable', async (t) => {
  const codes = new Set<number>();
  for (const type of TYPES) {
    const [sample] = fc.sample(ARBS[type] as fc.Arbitrary<ControlMessage>, { seed: FUZZ_SEED, numRuns: 1 });
    codes.add(encodeControl(sample as ControlMessage)[2] as number);
  }
  t.equal(codes.size, TYPES.length);
  t.same(
    [...codes].sort((a, b) => a - b),
    Array.from({ length: 16 }, (_, i) => i + 1),
  );
});

// A pool of valid frames of every type, some with the largest fields the codec allows in practice.
const pool: Uint8Array[] = fc
  .sample(anyMessage, { seed: FUZZ_SEED, numRuns: 600 })
  .concat(TYPES.flatMap((k) => fc.sample(ARBS[k] as fc.Arbitrary<ControlMessage>, { seed: FUZZ_SEED + 1, numRuns: 8 })))
  .map(encodeControl);

t.test('every strict prefix of a valid frame is truncated; every extension is trailing', async (t) => {
  let prefixes = 0;
  const wrong: string[] = [];
  for (const frame of pool.slice(0, 150)) {
    for (let n = 0; n < frame.length; n++) {
      prefixes++;
      const reason = malformedReason(() => decodeControl(frame.subarray(0, n)));
      if (reason !== 'truncated' && wrong.length < 5) wrong.push(`${hexOf(frame.subarray(0, n))}: ${reason}`);
    }
    for (const extra of [new Uint8Array(1), new Uint8Array([0xff, 0x00, 0x10])]) {
      const longer = new Uint8Array(frame.length + extra.length);
      longer.set(frame);
      longer.set(extra, frame.length);
      const reason = malformedReason(() => decodeControl(longer));
      if (reason !== 'trailing' && wrong.length < 5) wrong.push(`${hexOf(longer)}: ${reason}`);
    }
  }
  t.same(wrong, [], `${prefixes} prefixes and ${150 * 2} extensions rejected with the right reason`);
});

t.test('hostile bytes: only MalformedMessage, and whatever decodes re-encodes to the same bytes', async (t) => {
  const stats = fuzzDecoder(t, {
    label: 'wire',
    pool,
    total: 70_000,
    decode: decodeControl,
    check: (msg, input) => (bytesEqual(encodeControl(msg), input) ? null : 're-encodes to different bytes'),
  });
  t.ok(stats.accepted > 100, `some mutations are still valid frames (${stats.accepted})`);
  t.ok(stats.rejected > 50_000, `most are rejected (${stats.rejected})`);
  for (const reason of ['truncated', 'trailing', 'bad_frame', 'bad_version', 'bad_type', 'bad_field', 'range']) {
    t.ok((stats.reasons[reason] ?? 0) > 0, `reason ${reason} seen (${stats.reasons[reason] ?? 0})`);
  }
  t.comment(`accepted ${stats.accepted}, rejected ${stats.rejected}: ${JSON.stringify(stats.reasons)}`);
});

t.test('header checks give the right reason', async (t) => {
  const hello = encodeControl({ type: 'hello', identityKey: new Uint8Array(32).fill(9) });
  const withByte = (i: number, v: number) => {
    const out = hello.slice();
    out[i] = v;
    return out;
  };
  t.equal(
    malformedReason(() => decodeControl(new Uint8Array(0))),
    'truncated',
    'empty datagram',
  );
  for (let v = 0; v < 256; v++) {
    if (v === FRAME_CONTROL) continue;
    const reason = malformedReason(() => decodeControl(withByte(0, v)));
    if (reason !== 'bad_frame') t.fail(`frame byte ${v}: ${reason}`);
  }
  t.equal(
    malformedReason(() => decodeControl(withByte(0, FRAME_SPHINX))),
    'bad_frame',
    'a Sphinx frame is no control',
  );
  for (let v = 0; v < 256; v++) {
    if (v === WIRE_VERSION) continue;
    const reason = malformedReason(() => decodeControl(withByte(1, v)));
    if (reason !== 'bad_version') t.fail(`version ${v}: ${reason}`);
  }
  t.pass('all 255 wrong frame bytes and 255 wrong versions rejected');
  for (const code of [0, 17, 18, 100, 255]) {
    t.equal(
      malformedReason(() => decodeControl(withByte(2, code))),
      'bad_type',
      `type code ${code}`,
    );
  }
  // The type is checked before the fields: an unknown type with no body is bad_type, not truncated.
  t.equal(
    malformedReason(() => decodeControl(new Uint8Array([FRAME_CONTROL, WIRE_VERSION, 0]))),
    'bad_type',
  );
  t.equal(
    malformedReason(() => decodeControl(new Uint8Array([FRAME_CONTROL, 2, 1]))),
    'bad_version',
  );
});

t.test('field checks give the right reason', async (t) => {
  const ackOk = encodeControl({ type: 'descriptorAck', ok: true });
  t.same(decodeControl(ackOk), { type: 'descriptorAck', ok: true });
  for (const v of [2, 3, 0x80, 0xff]) {
    const bad = ackOk.slice();
    bad[3] = v;
    t.equal(
      malformedReason(() => decodeControl(bad)),
      'bad_field',
      `descriptorAck.ok = ${v}`,
    );
  }

  // An integer above 2^53 - 1 cannot be a timestamp.
  const keepalive = encodeControl({
    type: 'keepalive',
    identityKey: new Uint8Array(32),
    timeMs: 0,
    cookie: new Uint8Array(16),
    signature: new Uint8Array(64),
  });
  const big = keepalive.slice();
  new DataView(big.buffer).setBigUint64(3 + 32, BigInt(Number.MAX_SAFE_INTEGER) + 1n, false);
  t.equal(
    malformedReason(() => decodeControl(big)),
    'range',
    'timeMs = 2^53',
  );
  new DataView(big.buffer).setBigUint64(3 + 32, BigInt(Number.MAX_SAFE_INTEGER), false);
  t.equal((decodeControl(big) as { timeMs: number }).timeMs, Number.MAX_SAFE_INTEGER, 'timeMs = 2^53 - 1 is fine');

  // Strings must be valid UTF-8.
  const w = new Writer().u8(FRAME_CONTROL).u8(WIRE_VERSION).u8(12);
  w.bytes(new Uint8Array([0xc3, 0x28])).bytes(new Uint8Array(0));
  t.equal(
    malformedReason(() => decodeControl(w.finish())),
    'utf8',
    'invalid UTF-8 in error.code',
  );
  const surrogate = new Writer().u8(FRAME_CONTROL).u8(WIRE_VERSION).u8(12);
  surrogate.bytes(new Uint8Array(0)).bytes(new Uint8Array([0xed, 0xa0, 0x80]));
  t.equal(
    malformedReason(() => decodeControl(surrogate.finish())),
    'utf8',
    'an encoded surrogate in error.text',
  );

  // dirResponse's u32 length may not reach past the end, however large.
  const dir = new Writer().u8(FRAME_CONTROL).u8(WIRE_VERSION).u8(2).u32(0xffffffff).fixed(new Uint8Array(64));
  t.equal(
    malformedReason(() => decodeControl(dir.finish())),
    'truncated',
    'dirResponse length 2^32 - 1',
  );
});

t.test(`ack carries at most MAX_ACK_IDS (${MAX_ACK_IDS}) ids`, async (t) => {
  const base = {
    type: 'ack' as const,
    identityKey: new Uint8Array(32).fill(1),
    timeMs: 5,
    signature: new Uint8Array(64),
  };
  const full = { ...base, ids: Array.from({ length: MAX_ACK_IDS }, (_, i) => i * 1000) };
  t.same(decodeControl(encodeControl(full)), full, `${MAX_ACK_IDS} ids accepted`);
  // The encoder does not police the count; the decoder must.
  const over = encodeControl({ ...base, ids: Array.from({ length: MAX_ACK_IDS + 1 }, (_, i) => i) });
  t.equal(
    malformedReason(() => decodeControl(over)),
    'bad_field',
    `${MAX_ACK_IDS + 1} ids rejected`,
  );
  // A huge count is refused before any attempt to read (or allocate for) that many ids.
  const huge = new Writer().u8(FRAME_CONTROL).u8(WIRE_VERSION).u8(11).fixed(base.identityKey).u64(5).u16(0xffff);
  t.equal(
    malformedReason(() => decodeControl(huge.finish())),
    'bad_field',
    '65535 ids rejected',
  );
  t.equal(
    malformedReason(() => decodeControl(new Uint8Array(0))),
    'truncated',
  );
  t.ok(new MalformedMessage('bad_field', 'y') instanceof Error);
});

t.test('signedBytes is domain-separated and unambiguous', async (t) => {
  const a = signedBytes('directory', new Uint8Array([1, 2]), 3);
  t.notOk(bytesEqual(a, signedBytes('descriptor', new Uint8Array([1, 2]), 3)), 'label matters');
  t.notOk(bytesEqual(a, signedBytes('directory', new Uint8Array([1]), new Uint8Array([2]), 3)), 'length-prefixed');
  t.notOk(bytesEqual(a, signedBytes('directory', new Uint8Array([1, 2]), 4)), 'numbers matter');
});

// Regression: TextDecoder strips a leading BOM unless told not to, which made decoding non-canonical
// (two distinct frames gave one message).
t.test('a string field starting with U+FEFF round-trips', async (t) => {
  const msg: ControlMessage = { type: 'error', code: '\uFEFFbusy', text: 'x' };
  const frame = encodeControl(msg);
  const back = decodeControl(frame);
  t.same(back, msg, 'decoded message keeps its BOM');
  t.ok(bytesEqual(encodeControl(back), frame), 're-encodes to the same bytes');
  const other = encodeControl({ type: 'error', code: 'busy', text: 'x' });
  t.notSame(decodeControl(other), back, 'two distinct frames give two distinct messages');
});

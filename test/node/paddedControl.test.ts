/**
 * Padded control frames on the source ↔ CS link (src/node/wire.ts): every frame has the link size,
 * the inner frame comes back exactly, padding must be zero, and hostile bytes give MalformedMessage only.
 */
import t from 'tap';
import { MalformedMessage } from '../../src/node/codec.js';
import { DIRECTORY_FRAME_BYTES } from '../../src/node/limits.js';
import {
  type ControlMessage,
  decodeAnyControl,
  decodeControl,
  directoryRequestFrame,
  encodeControl,
  maxAckIdsPerFrame,
  padControl,
  sourceLinkFrameBytes,
  unpadControl,
} from '../../src/node/wire.js';
import { DEFAULT_GEOMETRY as G } from '../../src/scramble/geometry.js';
import { bytesEqual, fuzzGen, malformedReason } from './fuzzHelpers.js';

const SIZE = sourceLinkFrameBytes(G.payloadBytes);
const rnd = (n: number) => new Uint8Array(Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff));

const SOURCE_LINK: ControlMessage[] = [
  { type: 'hello', identityKey: rnd(32) },
  { type: 'challenge', nonce: rnd(32) },
  { type: 'register', identityKey: rnd(32), nonce: rnd(32), signature: rnd(64) },
  { type: 'registered', mailbox: rnd(16), cookie: rnd(16) },
  { type: 'keepalive', identityKey: rnd(32), timeMs: 1_700_000_000_000, cookie: rnd(16), signature: rnd(64) },
  { type: 'cookie', cookie: rnd(16) },
  // CS's control frames travel boxed: a boxed `registered` (24 nonce + 16 tag + 8 replyTo + 35).
  { type: 'boxed', sealed: rnd(24 + 16 + 8 + 35) },
  { type: 'dirRequest', page: 3, issuedAtMs: 1_700_000_000_000 },
  {
    type: 'ack',
    identityKey: rnd(32),
    timeMs: 1,
    ids: Array.from({ length: maxAckIdsPerFrame(SIZE) }, (_, i) => i + 1),
    signature: rnd(64),
  },
  { type: 'error', code: 'not_registered', text: 'register first' },
  // The largest: a delivery carrying a full payload, boxed (nonce 24 + tag 16 + 25 header bytes).
  { type: 'delivery', sealed: rnd(24 + 16 + 8 + 1 + 16 + G.payloadBytes) },
];

t.test('every source ↔ CS message fits one frame size and comes back exactly', async (t) => {
  t.equal(SIZE, 1752, 'link frame size at the default geometry');
  for (const m of SOURCE_LINK) {
    const inner = encodeControl(m);
    const padded = padControl(inner, SIZE);
    t.equal(padded.length, SIZE, `${m.type} is ${SIZE} bytes on the wire`);
    t.ok(bytesEqual(unpadControl(padded), inner), `${m.type} unpads to its frame`);
    t.same(decodeAnyControl(padded), decodeControl(inner), `${m.type} decodes`);
  }
  t.same(
    decodeAnyControl(encodeControl({ type: 'descriptorAck', ok: true })),
    { type: 'descriptorAck', ok: true },
    'unpadded frames still decode',
  );
  const req = directoryRequestFrame(2, 5);
  t.equal(req.length, DIRECTORY_FRAME_BYTES, 'a directory request is padded to the largest page answer');
  t.same(decodeAnyControl(req), { type: 'dirRequest', page: 2, issuedAtMs: 5 });
  const tooMany = { ...(SOURCE_LINK.find((m) => m.type === 'ack') as Extract<ControlMessage, { type: 'ack' }>) };
  tooMany.ids = [...tooMany.ids, 999_999];
  t.throws(() => padControl(encodeControl(tooMany), SIZE), RangeError, 'one id more does not fit');
});

t.test('padding must be zero and the length must fit', async (t) => {
  const padded = padControl(encodeControl({ type: 'hello', identityKey: rnd(32) }), SIZE);
  const dirty = padded.slice();
  dirty[SIZE - 1] = 1;
  t.equal(
    malformedReason(() => unpadControl(dirty)),
    'bad_padding',
  );
  const long = padded.slice();
  long[1] = 0xff;
  t.equal(
    malformedReason(() => unpadControl(long)),
    'truncated',
  );
});

t.test('hostile padded frames: only MalformedMessage', async (t) => {
  const g = fuzzGen('padded');
  const valid = SOURCE_LINK.map((m) => padControl(encodeControl(m), SIZE));
  const other: string[] = [];
  for (let i = 0; i < 20_000; i++) {
    let input: Uint8Array;
    if (i % 3 === 0) {
      input = g.bytes(g.int(SIZE + 10));
      input[0] = 3;
    } else {
      input = g.pick(valid).slice();
      input[g.int(input.length)] = g.int(256);
      if (i % 3 === 2) input = input.subarray(0, g.int(input.length));
    }
    try {
      decodeAnyControl(input);
    } catch (err) {
      if (!(err instanceof MalformedMessage) && other.length < 5) other.push(String(err));
    }
  }
  t.same(other, [], '20 000 hostile padded frames');
});

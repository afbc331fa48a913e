/**
 * End-to-end envelopes (src/source/envelope.ts) and body framing (src/source/frames.ts): round trips,
 * impossible fragment numbering, and hostile bytes (only MalformedMessage; isLoop never throws).
 */
import fc from 'fast-check';
import t from 'tap';
import { Writer } from '../../src/node/codec.js';
import {
  type Ack,
  decodeAck,
  decodeFragment,
  ENVELOPE_VERSION,
  encodeAck,
  encodeFragment,
  FRAGMENT_HEADER_BYTES,
  type Fragment,
  isLoop,
  loopMarker,
  MAX_FRAGMENTS,
  MSG_ID_BYTES,
} from '../../src/source/envelope.js';
import { frameSealed, unframeSealed } from '../../src/source/frames.js';
import { bytesEqual, FUZZ_SEED, fuzzDecoder, fuzzGen, malformedReason } from '../node/fuzzHelpers.js';

const bytesN = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const fragment: fc.Arbitrary<Fragment> = fc.integer({ min: 1, max: MAX_FRAGMENTS }).chain((count) =>
  fc.record(
    {
      msgId: bytesN(MSG_ID_BYTES),
      index: fc.integer({ min: 0, max: count - 1 }),
      count: fc.constant(count),
      // An empty SURB is the same as none: the decoder says null.
      surb: fc.option(fc.uint8Array({ minLength: 1, maxLength: 700 }), { nil: null }),
      chunk: fc.uint8Array({ maxLength: 1200 }),
    },
    { noNullPrototype: true },
  ),
);
const ack: fc.Arbitrary<Ack> = fc.record(
  { msgId: bytesN(MSG_ID_BYTES), index: fc.integer({ min: 0, max: 255 }) },
  { noNullPrototype: true },
);

function sameFragment(a: Fragment, b: Fragment): boolean {
  return (
    bytesEqual(a.msgId, b.msgId) &&
    a.index === b.index &&
    a.count === b.count &&
    (a.surb === null ? b.surb === null : b.surb !== null && bytesEqual(a.surb, b.surb)) &&
    bytesEqual(a.chunk, b.chunk)
  );
}

t.test('fragments and acks round-trip', async (t) => {
  fc.assert(
    fc.property(fragment, (f) => {
      const bytes = encodeFragment(f);
      const surbLen = f.surb?.length ?? 0;
      if (bytes.length !== FRAGMENT_HEADER_BYTES + surbLen + f.chunk.length) throw new Error('size');
      const back = decodeFragment(bytes);
      if (!sameFragment(back, f)) throw new Error('fragment did not round-trip');
      if (!bytesEqual(encodeFragment(back), bytes)) throw new Error('re-encodes differently');
    }),
    { seed: FUZZ_SEED, numRuns: 400 },
  );
  t.pass('400 fragments round-trip');
  fc.assert(
    fc.property(ack, fc.nat({ max: 300 }), (a, pad) => {
      const bytes = encodeAck(a);
      if (bytes.length !== 2 + MSG_ID_BYTES + 1) throw new Error('size');
      // A SURB reply body is zero-padded after the ack.
      const padded = new Uint8Array(bytes.length + pad);
      padded.set(bytes);
      for (const b of [bytes, padded]) {
        const back = decodeAck(b);
        if (back.index !== a.index || !bytesEqual(back.msgId, a.msgId)) throw new Error('ack did not round-trip');
      }
    }),
    { seed: FUZZ_SEED, numRuns: 400 },
  );
  t.pass('400 acks round-trip, with and without padding');
  t.same(
    decodeFragment(
      encodeFragment({
        msgId: new Uint8Array(16),
        index: 0,
        count: 1,
        surb: new Uint8Array(0),
        chunk: new Uint8Array(0),
      }),
    ).surb,
    null,
    'empty SURB decodes as none',
  );
});

t.test('impossible fragment numbering is refused', async (t) => {
  const base = { msgId: new Uint8Array(16).fill(1), surb: null, chunk: new Uint8Array([1, 2, 3]) };
  const cases: Array<[number, number]> = [
    [0, 0],
    [1, 0],
    [0, MAX_FRAGMENTS + 1],
    [0, 255],
    [1, 1],
    [5, 5],
    [6, 5],
    [255, 255],
    [MAX_FRAGMENTS, MAX_FRAGMENTS],
  ];
  for (const [index, count] of cases) {
    t.equal(
      malformedReason(() => decodeFragment(encodeFragment({ ...base, index, count }))),
      'bad_field',
      `fragment ${index} of ${count}`,
    );
  }
  t.equal(decodeFragment(encodeFragment({ ...base, index: MAX_FRAGMENTS - 1, count: MAX_FRAGMENTS })).index, 63);
  t.equal(decodeFragment(encodeFragment({ ...base, index: 0, count: 1 })).count, 1);
  // Every (index, count) byte pair: accepted exactly when 0 <= index < count <= MAX_FRAGMENTS.
  let wrong = 0;
  const frame = encodeFragment({ ...base, index: 0, count: 1 });
  for (let index = 0; index < 256; index++) {
    for (let count = 0; count < 256; count++) {
      frame[2 + MSG_ID_BYTES] = index;
      frame[3 + MSG_ID_BYTES] = count;
      const ok = count >= 1 && count <= MAX_FRAGMENTS && index < count;
      const reason = malformedReason(() => decodeFragment(frame));
      if ((ok && reason !== 'no error') || (!ok && reason !== 'bad_field')) wrong++;
    }
  }
  t.equal(wrong, 0, 'all 65 536 (index, count) pairs judged right');
});

t.test('version and type are checked', async (t) => {
  const f = encodeFragment({ msgId: new Uint8Array(16), index: 0, count: 1, surb: null, chunk: new Uint8Array(4) });
  const a = encodeAck({ msgId: new Uint8Array(16), index: 3 });
  for (const v of [0, 2, 255]) {
    const badF = f.slice();
    badF[0] = v;
    const badA = a.slice();
    badA[0] = v;
    t.equal(
      malformedReason(() => decodeFragment(badF)),
      'bad_version',
      `fragment version ${v}`,
    );
    t.equal(
      malformedReason(() => decodeAck(badA)),
      'bad_version',
      `ack version ${v}`,
    );
  }
  t.equal(
    malformedReason(() => decodeFragment(a)),
    'bad_type',
    'an ack is not a fragment',
  );
  t.equal(
    malformedReason(() => decodeAck(f)),
    'bad_type',
    'a fragment is not an ack',
  );
  const loop = loopMarker(new Uint8Array(16).fill(4));
  t.equal(
    malformedReason(() => decodeFragment(loop)),
    'bad_type',
    'a loop marker is not a fragment',
  );
  t.equal(
    malformedReason(() => decodeAck(loop)),
    'bad_type',
    'a loop marker is not an ack',
  );
  t.equal(
    malformedReason(() => decodeFragment(new Uint8Array(0))),
    'truncated',
  );
  t.equal(
    malformedReason(() => decodeAck(a.subarray(0, a.length - 1))),
    'truncated',
  );
  t.equal(
    malformedReason(() => decodeFragment(new Uint8Array([...f, 0]))),
    'trailing',
    'no padding after a fragment',
  );
});

t.test('loop markers', async (t) => {
  fc.assert(
    fc.property(bytesN(MSG_ID_BYTES), (id) => {
      const m = loopMarker(id);
      if (!isLoop(m) || m.length !== 2 + MSG_ID_BYTES || !bytesEqual(m.subarray(2), id)) throw new Error('marker');
      if (isLoop(m.subarray(0, m.length - 1)) || isLoop(new Uint8Array([...m, 0]))) throw new Error('length');
    }),
    { seed: FUZZ_SEED, numRuns: 200 },
  );
  t.notOk(isLoop(encodeAck({ msgId: new Uint8Array(16), index: 0 })), 'an ack is no loop');
  t.notOk(isLoop(new Uint8Array(0)), 'empty');
  const m = loopMarker(new Uint8Array(16));
  const v = m.slice();
  v[0] = ENVELOPE_VERSION + 1;
  t.notOk(isLoop(v), 'another version');
  const g = fuzzGen('isLoop');
  let loops = 0;
  for (let i = 0; i < 20_000; i++) {
    const b = g.bytes(g.int(40));
    if (isLoop(b)) loops++;
  }
  t.ok(loops < 5, `isLoop on random bytes never throws and rarely says yes (${loops})`);
});

const fragmentPool = fc
  .sample(fragment, { seed: FUZZ_SEED, numRuns: 300 })
  .map((f) => ({ ...f, surb: f.surb?.subarray(0, 60) ?? null, chunk: f.chunk.subarray(0, 80) }))
  .map(encodeFragment);
const ackPool = fc.sample(ack, { seed: FUZZ_SEED, numRuns: 100 }).map(encodeAck);

t.test('hostile envelopes: only MalformedMessage', async (t) => {
  const frags = fuzzDecoder(t, {
    label: 'fragment',
    pool: fragmentPool,
    total: 30_000,
    decode: decodeFragment,
    check: (f, input) => (bytesEqual(encodeFragment(f), input) ? null : 're-encodes to different bytes'),
  });
  t.ok(frags.accepted > 100 && frags.rejected > 20_000, `fragments: ${JSON.stringify(frags.reasons)}`);
  t.ok((frags.reasons.bad_field ?? 0) > 0, 'impossible numbering seen');
  const acks = fuzzDecoder(t, {
    label: 'ack',
    pool: ackPool,
    total: 20_000,
    maxRandom: 40,
    decode: decodeAck,
    // Trailing bytes are allowed (padding): what decodes must be a prefix of the input.
    check: (a, input) => (bytesEqual(encodeAck(a), input.subarray(0, 2 + MSG_ID_BYTES + 1)) ? null : 'not a prefix'),
  });
  t.ok(acks.accepted > 100 && acks.rejected > 5000, `acks: ${JSON.stringify(acks.reasons)}`);
});

t.test('frameSealed / unframeSealed', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 2000 }), fc.nat({ max: 200 }), (sealed, pad) => {
      const framed = frameSealed(sealed);
      if (framed.length !== 2 + sealed.length) throw new Error('size');
      const body = new Uint8Array(framed.length + pad);
      body.set(framed);
      if (!bytesEqual(unframeSealed(body), sealed)) throw new Error('did not round-trip through zero padding');
    }),
    { seed: FUZZ_SEED, numRuns: 300 },
  );
  t.pass('300 boxes round-trip through framing and zero padding');
  t.equal(
    malformedReason(() => unframeSealed(frameSealed(new Uint8Array(0)))),
    'empty',
    'an empty box',
  );
  t.equal(
    malformedReason(() => unframeSealed(new Uint8Array(1700))),
    'empty',
    'an all-zero body',
  );
  t.equal(
    malformedReason(() => unframeSealed(new Uint8Array([0]))),
    'truncated',
  );
  t.equal(
    malformedReason(() => unframeSealed(new Writer().u16(10).fixed(new Uint8Array(9)).finish())),
    'truncated',
  );

  const pool = Array.from({ length: 50 }, (_, i) => {
    const body = new Uint8Array(300);
    body.set(frameSealed(new Uint8Array(1 + i * 5).fill(i + 1)));
    return body;
  });
  const stats = fuzzDecoder(t, {
    label: 'unframeSealed',
    pool,
    total: 20_000,
    maxRandom: 400,
    decode: unframeSealed,
    check: (out, input) => {
      const len = ((input[0] as number) << 8) | (input[1] as number);
      return len >= 1 && bytesEqual(out, input.subarray(2, 2 + len)) ? null : 'returned the wrong bytes';
    },
  });
  t.ok(stats.accepted > 1000 && stats.rejected > 1000, `unframeSealed: ${JSON.stringify(stats.reasons)}`);
});

/**
 * CS mailbox entries (src/central/storedEntry.ts): kind | surbId | payload padded to the packet's
 * payload size. Round trip, one size for every kind, and bytes read back from storage never throw.
 */
import fc from 'fast-check';
import t from 'tap';
import { decodeStoredEntry, encodeStoredEntry } from '../../src/central/storedEntry.js';
import type { DeliveryKind } from '../../src/node/wire.js';
import { DEFAULT_GEOMETRY, packetGeometry } from '../../src/scramble/geometry.js';
import { bytesEqual, FUZZ_SEED, fuzzGen } from '../node/fuzzHelpers.js';

const KINDS: DeliveryKind[] = ['message', 'surbReply', 'dummy'];
const GEOMETRIES = [DEFAULT_GEOMETRY, packetGeometry(1024, 3), packetGeometry(4096, 8)];

t.test('encode then decode gives the entry back, padded with zeros to payloadBytes', async (t) => {
  fc.assert(
    fc.property(
      fc.constantFrom(...GEOMETRIES),
      fc.constantFrom(...KINDS),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.uint8Array({ maxLength: 4096 }),
      (g, kind, surbId, raw) => {
        const payload = raw.subarray(0, g.payloadBytes);
        const entry = encodeStoredEntry(kind, surbId, payload, g);
        if (entry.length !== 1 + 16 + g.payloadBytes) throw new Error('size');
        const back = decodeStoredEntry(entry);
        if (!back) throw new Error('did not decode');
        if (back.kind !== kind || !bytesEqual(back.surbId, surbId)) throw new Error('header');
        if (back.payload.length !== g.payloadBytes) throw new Error('payload size');
        if (!bytesEqual(back.payload.subarray(0, payload.length), payload)) throw new Error('payload');
        if (back.payload.subarray(payload.length).some((b) => b !== 0)) throw new Error('padding is not zero');
      },
    ),
    { seed: FUZZ_SEED, numRuns: 500 },
  );
  t.pass('500 entries over three geometries');
});

t.test('every kind encodes to the same length', async (t) => {
  for (const g of GEOMETRIES) {
    const lengths = new Set<number>();
    for (const kind of KINDS) {
      for (const n of [0, 1, g.bodyBytes, g.payloadBytes, g.payloadBytes + 100]) {
        lengths.add(encodeStoredEntry(kind, new Uint8Array(16), new Uint8Array(n).fill(1), g).length);
      }
    }
    t.same([...lengths], [1 + 16 + g.payloadBytes], `packet size ${g.packetSize}: one entry size`);
  }
  // An over-long payload is cut to payloadBytes rather than growing the entry.
  const g = DEFAULT_GEOMETRY;
  const long = new Uint8Array(g.payloadBytes + 5).map((_, i) => i & 0xff);
  const back = decodeStoredEntry(encodeStoredEntry('message', new Uint8Array(16), long, g));
  t.ok(back && bytesEqual(back.payload, long.subarray(0, g.payloadBytes)), 'over-long payload truncated');
});

t.test('bytes read back from storage: null or a decoded entry, never a throw', async (t) => {
  const gen = fuzzGen('storedEntry');
  const valid = KINDS.map((k) => encodeStoredEntry(k, gen.bytes(16), gen.bytes(50), packetGeometry(1024, 3)));
  let decoded = 0;
  let nulls = 0;
  const wrong: string[] = [];
  const TOTAL = 30_000;
  for (let i = 0; i < TOTAL; i++) {
    let input: Uint8Array;
    switch (i % 3) {
      case 0:
        input = gen.bytes(gen.int(64));
        break;
      case 1:
        // A plausible kind byte, then a random length around the 17-byte header.
        input = gen.bytes(gen.int(40));
        if (input.length) input[0] = gen.int(5);
        break;
      default: {
        const v = gen.pick(valid);
        input = v.slice(0, gen.int(v.length + 1));
        if (input.length && gen.int(2)) input[gen.int(input.length)] = gen.int(256);
      }
    }
    let out: ReturnType<typeof decodeStoredEntry>;
    try {
      out = decodeStoredEntry(input);
    } catch (err) {
      if (wrong.length < 5) wrong.push(`${Buffer.from(input).toString('hex')} threw ${String(err)}`);
      continue;
    }
    const expectOk = input.length >= 17 && (input[0] as number) <= 2;
    if (out === null) {
      nulls++;
      if (expectOk && wrong.length < 5) wrong.push(`${Buffer.from(input).toString('hex')} gave null`);
      continue;
    }
    decoded++;
    const fine =
      expectOk &&
      out.kind === KINDS[input[0] as number] &&
      bytesEqual(out.surbId, input.subarray(1, 17)) &&
      bytesEqual(out.payload, input.subarray(17));
    if (!fine && wrong.length < 5) wrong.push(`${Buffer.from(input).toString('hex')} decoded wrongly`);
  }
  t.same(wrong, [], `${TOTAL} inputs: null exactly when the kind is unknown or the header is short`);
  t.ok(decoded > 1000 && nulls > 1000, `decoded ${decoded}, null ${nulls}`);
  t.equal(decodeStoredEntry(new Uint8Array(0)), null, 'empty');
  t.equal(decodeStoredEntry(new Uint8Array(16)), null, 'kind 0 with a 15-byte surbId');
  t.ok(decodeStoredEntry(new Uint8Array(17)), 'kind 0 with an empty payload');
  t.equal(decodeStoredEntry(new Uint8Array([3, ...new Uint8Array(40)])), null, 'kind 3');
});

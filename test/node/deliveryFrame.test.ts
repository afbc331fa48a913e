/**
 * Boxed CS→source deliveries (src/node/deliveryFrame.ts): round trip, wrong key, forgery and tampering give
 * MalformedMessage, hostile bytes give MalformedMessage only, and the three kinds are the same size
 * on the wire (the point of the design: the last link does not reveal what it carries).
 */
import fc from 'fast-check';
import t from 'tap';
import { decodeStoredEntry, encodeStoredEntry } from '../../src/central/storedEntry.js';
import { MalformedMessage, Writer } from '../../src/node/codec.js';
import { type Delivery, openDelivery, sealDelivery } from '../../src/node/deliveryFrame.js';
import { type DeliveryKind, encodeControl } from '../../src/node/wire.js';
import { getCrypto } from '../../src/scramble/crypto/index.js';
import { DEFAULT_GEOMETRY as G } from '../../src/scramble/geometry.js';
import { seededRng, systemRng } from '../../src/scramble/rng.js';
import { LOW_ORDER_POINTS } from '../scramble/helpers.js';
import { bytesEqual, FUZZ_SEED, fuzzGen, malformedReason } from './fuzzHelpers.js';

const crypto = getCrypto('sodium');
const rng = systemRng(crypto);
const KINDS: DeliveryKind[] = ['message', 'surbReply', 'dummy'];

/** A source's X25519 pair, derived from its Ed25519 identity as SourceNode does. */
function sourceKeys(seed = crypto.randomBytes(32)): { publicKey: Uint8Array; secretKey: Uint8Array } {
  return {
    publicKey: crypto.ed25519PublicToX25519(crypto.ed25519PublicKey(seed)),
    secretKey: crypto.ed25519SeedToX25519(seed),
  };
}
const me = sourceKeys();
const someoneElse = sourceKeys();
/** The central server's X25519 pair, from its identity like CentralNode's. */
const cs = sourceKeys();
/** What CS uses to box a delivery to `me`. */
const toMe = { peerPublicKey: me.publicKey, secretKey: cs.secretKey };
/** nonce(24) + Poly1305 tag(16). */
const FRAME_OVERHEAD = 24 + 16;
/** A genuine CS box around arbitrary inner bytes. */
function boxInner(inner: Uint8Array): Uint8Array {
  const nonce = crypto.randomBytes(24);
  const box = crypto.boxEasy(inner, nonce, me.publicKey, cs.secretKey);
  const out = new Uint8Array(24 + box.length);
  out.set(nonce, 0);
  out.set(box, 24);
  return out;
}

const delivery: fc.Arbitrary<Delivery> = fc.record(
  {
    entryId: fc.maxSafeNat(),
    kind: fc.constantFrom(...KINDS),
    surbId: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    payload: fc.uint8Array({ maxLength: 600 }),
  },
  { noNullPrototype: true },
);

t.test('seal then open gives the delivery back', async (t) => {
  const det = seededRng(crypto, new TextEncoder().encode(`delivery ${FUZZ_SEED}`));
  fc.assert(
    fc.property(delivery, (d) => {
      const sealed = sealDelivery(crypto, toMe, d, det);
      if (sealed.length !== FRAME_OVERHEAD + 8 + 1 + 16 + d.payload.length) throw new Error('unexpected size');
      const back = openDelivery(crypto, { peerPublicKey: cs.publicKey, secretKey: me.secretKey }, sealed);
      if (back.entryId !== d.entryId || back.kind !== d.kind) throw new Error('header fields differ');
      if (!bytesEqual(back.surbId, d.surbId) || !bytesEqual(back.payload, d.payload)) throw new Error('bytes differ');
    }),
    { seed: FUZZ_SEED, numRuns: 300 },
  );
  t.pass('300 deliveries');
  const d: Delivery = { entryId: 7, kind: 'message', surbId: new Uint8Array(16), payload: new Uint8Array([1, 2, 3]) };
  const a = sealDelivery(crypto, toMe, d, rng);
  const b = sealDelivery(crypto, toMe, d, rng);
  t.notOk(bytesEqual(a, b), 'two boxes of one delivery share no bytes an observer could match (fresh nonce)');
  t.notOk(bytesEqual(a.subarray(0, 32), b.subarray(0, 32)));
});

t.test('not for us, or modified: MalformedMessage bad_seal', async (t) => {
  const d: Delivery = {
    entryId: 42,
    kind: 'surbReply',
    surbId: crypto.randomBytes(16),
    payload: crypto.randomBytes(40),
  };
  const sealed = sealDelivery(crypto, toMe, d, rng);
  t.equal(
    malformedReason(() =>
      openDelivery(crypto, { peerPublicKey: someoneElse.publicKey, secretKey: someoneElse.secretKey }, sealed),
    ),
    'bad_seal',
  );
  t.equal(
    malformedReason(() =>
      openDelivery(crypto, { peerPublicKey: cs.publicKey, secretKey: someoneElse.secretKey }, sealed),
    ),
    'bad_seal',
  );
  t.equal(
    malformedReason(() =>
      openDelivery(crypto, { peerPublicKey: someoneElse.publicKey, secretKey: me.secretKey }, sealed),
    ),
    'bad_seal',
  );
  // Forgery: anyone can box to the source's public key, but not as CS.
  const forged = sealDelivery(crypto, { peerPublicKey: me.publicKey, secretKey: someoneElse.secretKey }, d, rng);
  t.equal(
    malformedReason(() => openDelivery(crypto, { peerPublicKey: cs.publicKey, secretKey: me.secretKey }, forged)),
    'bad_seal',
    'a delivery boxed by anyone but CS is refused',
  );
  const wrong: string[] = [];
  for (let i = 0; i < sealed.length; i++) {
    for (const mask of [0x01, 0x80]) {
      const bad = sealed.slice();
      bad[i] = (bad[i] as number) ^ mask;
      const reason = malformedReason(() =>
        openDelivery(crypto, { peerPublicKey: cs.publicKey, secretKey: me.secretKey }, bad),
      );
      if (reason !== 'bad_seal') wrong.push(`byte ${i} ^ ${mask}: ${reason}`);
    }
  }
  t.same(wrong, [], `every byte of the ${sealed.length}-byte frame, flipped, is refused`);
  for (const n of [0, 1, FRAME_OVERHEAD - 1, FRAME_OVERHEAD, sealed.length - 1]) {
    t.equal(
      malformedReason(() =>
        openDelivery(crypto, { peerPublicKey: cs.publicKey, secretKey: me.secretKey }, sealed.subarray(0, n)),
      ),
      'bad_seal',
    );
  }
  const longer = new Uint8Array(sealed.length + 1);
  longer.set(sealed);
  t.equal(
    malformedReason(() => openDelivery(crypto, { peerPublicKey: cs.publicKey, secretKey: me.secretKey }, longer)),
    'bad_seal',
    'extended',
  );
  for (const [i, p] of LOW_ORDER_POINTS.entries()) {
    const bad = sealed.slice();
    bad.set(p, 0);
    t.equal(
      malformedReason(() => openDelivery(crypto, { peerPublicKey: cs.publicKey, secretKey: me.secretKey }, bad)),
      'bad_seal',
      `low-order epk ${i}`,
    );
  }
});

t.test('a genuine seal around a bad inner frame is MalformedMessage', async (t) => {
  const open = (inner: Uint8Array) =>
    malformedReason(() =>
      openDelivery(crypto, { peerPublicKey: cs.publicKey, secretKey: me.secretKey }, boxInner(inner)),
    );
  t.equal(open(new Uint8Array(0)), 'truncated', 'empty');
  t.equal(open(new Uint8Array(8)), 'truncated', 'no kind');
  t.equal(open(new Uint8Array(9 + 15)), 'truncated', 'short surbId');
  for (const kind of [3, 4, 0x80, 0xff]) {
    t.equal(open(new Writer().u64(1).u8(kind).fixed(new Uint8Array(16)).finish()), 'bad_field', `kind ${kind}`);
  }
  t.equal(
    open(
      new Writer()
        .u64(2 ** 53)
        .u8(0)
        .fixed(new Uint8Array(16))
        .finish(),
    ),
    'range',
    'entryId = 2^53',
  );
  const empty = openDelivery(
    crypto,
    { peerPublicKey: cs.publicKey, secretKey: me.secretKey },
    boxInner(new Writer().u64(0).u8(2).fixed(new Uint8Array(16)).finish()),
  );
  t.same(
    { ...empty, surbId: [...empty.surbId], payload: [...empty.payload] },
    {
      entryId: 0,
      kind: 'dummy',
      surbId: Array(16).fill(0),
      payload: [],
    },
  );
});

t.test('hostile bytes: only MalformedMessage', async (t) => {
  const g = fuzzGen('delivery');
  const valid = Array.from({ length: 20 }, (_, i) =>
    sealDelivery(
      crypto,
      toMe,
      { entryId: i, kind: KINDS[i % 3] as DeliveryKind, surbId: g.bytes(16), payload: g.bytes(g.int(300)) },
      rng,
    ),
  );
  const other: string[] = [];
  let opened = 0;
  let refused = 0;
  const TOTAL = 20_000;
  for (let i = 0; i < TOTAL; i++) {
    let input: Uint8Array;
    switch (i % 4) {
      case 0:
        input = g.bytes(g.int(400));
        break;
      case 1: {
        // A random frame whose ephemeral key is a low-order point or a copy of a real one.
        input = g.bytes(FRAME_OVERHEAD + g.int(300));
        input.set(g.int(2) ? g.pick(LOW_ORDER_POINTS) : (g.pick(valid).subarray(0, 32) as Uint8Array), 0);
        break;
      }
      case 2: {
        input = g.pick(valid).slice();
        input[g.int(input.length)] = g.int(256);
        break;
      }
      default: {
        const v = g.pick(valid);
        input = v.slice(0, g.int(v.length));
      }
    }
    try {
      openDelivery(crypto, { peerPublicKey: cs.publicKey, secretKey: me.secretKey }, input);
      opened++;
    } catch (err) {
      if (err instanceof MalformedMessage) refused++;
      else if (other.length < 5) other.push(`${Buffer.from(input).toString('hex')}: ${String(err)}`);
    }
  }
  t.same(other, [], `${TOTAL} hostile frames, nothing but MalformedMessage`);
  // Only a mutation that happens to write the byte already there can open.
  t.ok(opened < TOTAL / 100, `almost none open (${opened})`);
  t.equal(opened + refused, TOTAL);
});

t.test('a message, a SURB reply and a dummy look alike on the CS→source link', async (t) => {
  // What CS does (src/central/centralNode.ts): a deliver body (bodyBytes) and a SURB reply payload
  // (payloadBytes) go through the stored entry, padded to payloadBytes; a dummy is payloadBytes of noise.
  const stored = (kind: DeliveryKind, surbId: Uint8Array, payload: Uint8Array) => {
    const e = decodeStoredEntry(encodeStoredEntry(kind, surbId, payload, G));
    if (!e) throw new Error('stored entry did not decode');
    return e;
  };
  const message = stored('message', new Uint8Array(16), crypto.randomBytes(G.bodyBytes));
  const shortMessage = stored('message', new Uint8Array(16), crypto.randomBytes(10));
  const reply = stored('surbReply', crypto.randomBytes(16), crypto.randomBytes(G.payloadBytes));
  const deliveries: Delivery[] = [
    { entryId: 1, ...message },
    { entryId: 2 ** 40, ...shortMessage },
    { entryId: 3, ...reply },
    { entryId: 0, kind: 'dummy', surbId: new Uint8Array(16), payload: crypto.randomBytes(G.payloadBytes) },
  ];
  const sealed = deliveries.map((d) => sealDelivery(crypto, toMe, d, rng));
  const frames = sealed.map((s) => encodeControl({ type: 'delivery', sealed: s }));
  t.same(
    new Set(sealed.map((s) => s.length)),
    new Set([FRAME_OVERHEAD + 8 + 1 + 16 + G.payloadBytes]),
    'one sealed size whatever the kind',
  );
  t.equal(new Set(frames.map((f) => f.length)).size, 1, 'one datagram size whatever the kind');
  for (const [i, s] of sealed.entries()) {
    const back = openDelivery(crypto, { peerPublicKey: cs.publicKey, secretKey: me.secretKey }, s);
    t.equal(back.kind, deliveries[i]?.kind, `${back.kind} opens as itself`);
    t.equal(back.payload.length, G.payloadBytes);
  }
});

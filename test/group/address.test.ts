import fc from 'fast-check';
import t from 'tap';
import { encodeAddress, encryptionKeyOf, parseAddress } from '../../src/group/address.js';
import { base32Decode, base32Encode } from '../../src/group/base32.js';
import { InvalidAddress } from '../../src/group/errors.js';
import { crypto, identity, noble, onlyTyped, throwsA } from './helpers.js';

const enc = new TextEncoder();

t.test('base32 matches the RFC 4648 vectors (lowercase, unpadded)', async (t) => {
  const vectors: Array<[string, string]> = [
    ['', ''],
    ['f', 'my'],
    ['fo', 'mzxq'],
    ['foo', 'mzxw6'],
    ['foob', 'mzxw6yq'],
    ['fooba', 'mzxw6ytb'],
    ['foobar', 'mzxw6ytboi'],
  ];
  for (const [plain, b32] of vectors) {
    t.equal(base32Encode(enc.encode(plain)), b32);
    t.same(base32Decode(b32), enc.encode(plain));
  }
});

t.test('base32 round-trips and is canonical', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      const s = base32Encode(b);
      const back = base32Decode(s);
      return back instanceof Uint8Array && Buffer.from(back).equals(Buffer.from(b));
    }),
  );
  // 'mz' would decode to 'f' only with non-zero unused bits: refused so each key has one spelling.
  t.type(base32Decode('mz'), 'string');
});

t.test('address round-trip: 52 + 1 + 16 characters', async (t) => {
  const id = identity();
  const text = encodeAddress(id);
  t.equal(text.length, 69);
  t.match(text, /^[a-z2-7]{52}@[a-z2-7]{16}$/);
  const back = parseAddress(text);
  t.same(back.identityKey, id.identityKey);
  t.same(back.centralId, id.centralId);
  t.same(parseAddress(text.toUpperCase()).identityKey, id.identityKey, 'upper case folds');
  // The address alone gives the encryption key, identical on both backends.
  t.same(encryptionKeyOf(crypto, back.identityKey), encryptionKeyOf(noble, back.identityKey));
  t.same(encryptionKeyOf(crypto, back.identityKey), crypto.x25519Base(crypto.ed25519SeedToX25519(id.identitySeed)));
});

t.test('invalid addresses say what is wrong', async (t) => {
  const good = encodeAddress(identity());
  const [k, c] = good.split('@') as [string, string];
  const cases: Array<[string, RegExp]> = [
    [k + c, /exactly one "@"/],
    [`${k}@${c}@x`, /exactly one "@"|characters; expected/],
    [`${k.slice(1)}@${c}`, /identity key part is 51 characters/],
    [`${k}@${c}a`, /central id part is 17 characters/],
    [`${k.slice(0, -1)}1@${c}`, /not in the base32 alphabet/],
    [`${k.slice(0, -1)}7@${c}`, /non-zero unused bits/],
    ['', /exactly one "@"/],
  ];
  for (const [text, msg] of cases) {
    throwsA(t, () => parseAddress(text), InvalidAddress);
    try {
      parseAddress(text);
    } catch (err) {
      t.match((err as Error).message, msg, text);
    }
  }
});

t.test('encryptionKeyOf refuses keys that are not usable points', async (t) => {
  // y = 1 encodes the identity point (low order).
  const identityPoint = new Uint8Array(32);
  identityPoint[0] = 1;
  throwsA(t, () => encryptionKeyOf(crypto, identityPoint), InvalidAddress);
  throwsA(t, () => encryptionKeyOf(noble, identityPoint), InvalidAddress);
});

t.test('fuzz: parseAddress throws only InvalidAddress', async () => {
  const good = encodeAddress(identity());
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 100 }),
        fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz234567@AZ01'), maxLength: 80 }),
        fc
          .tuple(fc.nat({ max: 68 }), fc.string({ maxLength: 3 }))
          .map(([i, s]) => good.slice(0, i) + s + good.slice(i + 1)),
      ),
      (s) => onlyTyped(() => parseAddress(s)),
    ),
    { numRuns: 2000 },
  );
});

t.test('fuzz: encryptionKeyOf throws only InvalidAddress on random keys', async () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (k) => {
      onlyTyped(() => encryptionKeyOf(crypto, k));
      return onlyTyped(() => encryptionKeyOf(noble, k));
    }),
    { numRuns: 300 },
  );
});

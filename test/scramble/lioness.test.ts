/**
 * Lioness wide-block cipher: round trip, all-or-nothing diffusion, backend agreement.
 */
import fc from 'fast-check';
import t from 'tap';
import { DEFAULT_GEOMETRY, InvalidArgument } from '../../src/scramble/index.js';
import {
  LIONESS_KEY_BYTES,
  lionessDecrypt,
  lionessDecryptInPlace,
  lionessEncrypt,
  lionessEncryptInPlace,
} from '../../src/scramble/lioness.js';
import { BACKENDS, flipBit, hex, labelRng, noble, sodium, thrown } from './helpers.js';

const key = fc.uint8Array({ minLength: LIONESS_KEY_BYTES, maxLength: LIONESS_KEY_BYTES });
const block = fc.uint8Array({ minLength: 33, maxLength: 2100 });
const RUNS = { numRuns: 50, seed: 0x110e55 };

function differingBytes(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

for (const crypto of BACKENDS) {
  t.test(`round trip (${crypto.name})`, async (t) => {
    fc.assert(
      fc.property(key, block, (k, p) => {
        const c = lionessEncrypt(crypto, k, p);
        return c.length === p.length && hex(c) !== hex(p) && hex(lionessDecrypt(crypto, k, c)) === hex(p);
      }),
      RUNS,
    );
    t.pass('decrypt(encrypt(p)) = p for blocks of 33..2100 bytes');
    fc.assert(
      fc.property(key, block, (k, p) => {
        const copy = p.slice();
        lionessEncryptInPlace(crypto, k, copy);
        const same = hex(copy) === hex(lionessEncrypt(crypto, k, p));
        lionessDecryptInPlace(crypto, k, copy);
        return same && hex(copy) === hex(p);
      }),
      { ...RUNS, numRuns: 20 },
    );
    t.pass('the in-place variants equal the copying ones');
    const p = new Uint8Array(100);
    const pCopy = p.slice();
    lionessEncrypt(crypto, new Uint8Array(128), p);
    t.equal(hex(p), hex(pCopy), 'lionessEncrypt leaves its input alone');
  });
}

t.test('both backends agree', async (t) => {
  fc.assert(
    fc.property(key, block, (k, p) => {
      const c = lionessEncrypt(sodium, k, p);
      return (
        hex(c) === hex(lionessEncrypt(noble, k, p)) &&
        hex(lionessDecrypt(noble, k, p)) === hex(lionessDecrypt(sodium, k, p))
      );
    }),
    RUNS,
  );
  t.pass('encrypt and decrypt give identical bytes');
});

t.test('one flipped ciphertext bit garbles the whole decrypted block', async (t) => {
  const rng = labelRng(sodium, 'lioness.test');
  const len = DEFAULT_GEOMETRY.payloadBytes;
  const k = rng(128);
  const p = rng(len);
  const c = lionessEncrypt(sodium, k, p);
  const bits = new Set<number>();
  for (let b = 0; b < 256; b++) bits.add(b); // every bit of L
  for (let i = 0; i < 400; i++) bits.add(256 + Math.floor((i * (len * 8 - 256)) / 400) + (i % 8)); // spread over R
  bits.add(len * 8 - 1);
  const weak: string[] = [];
  let minChanged = len;
  for (const bit of bits) {
    const d = lionessDecrypt(sodium, k, flipBit(c, bit));
    const changed = differingBytes(d, p);
    const changedL = differingBytes(d.subarray(0, 32), p.subarray(0, 32));
    minChanged = Math.min(minChanged, changed);
    // A random block differs from p in ~255/256 of its bytes: demand at least 97 % overall and 28/32 of L.
    if (changed < len * 0.97 || changedL < 28) weak.push(`bit ${bit}: ${changed}/${len} bytes, ${changedL}/32 of L`);
  }
  t.same(weak, [], `${bits.size} bit positions; fewest bytes changed: ${minChanged}/${len}`);

  // Same in the encrypt direction: a one-bit plaintext change gives an unrelated ciphertext.
  for (const bit of [0, 255, 256, len * 8 - 1]) {
    const changed = differingBytes(lionessEncrypt(sodium, k, flipBit(p, bit)), c);
    t.ok(changed >= len * 0.97, `plaintext bit ${bit}: ${changed}/${len} ciphertext bytes change`);
  }
  // And a different key garbles everything too.
  const other = flipBit(k, 1000);
  t.ok(differingBytes(lionessDecrypt(sodium, other, c), p) >= len * 0.97, 'one key bit flipped');
});

t.test('bad key or block sizes throw InvalidArgument', async (t) => {
  for (const crypto of BACKENDS) {
    for (const [k, b] of [
      [127, 100],
      [129, 100],
      [128, 32],
      [128, 0],
    ]) {
      t.ok(
        thrown(() => lionessEncrypt(crypto, new Uint8Array(k), new Uint8Array(b))) instanceof InvalidArgument,
        `${crypto.name}: encrypt, key ${k}, block ${b}`,
      );
      t.ok(
        thrown(() => lionessDecrypt(crypto, new Uint8Array(k), new Uint8Array(b))) instanceof InvalidArgument,
        `${crypto.name}: decrypt, key ${k}, block ${b}`,
      );
    }
  }
});

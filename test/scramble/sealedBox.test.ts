/**
 * Sealed boxes must be the libsodium crypto_box_seal format: opened by an independent
 * implementation (tweetnacl + BLAKE2b nonce), and able to open boxes made by libsodium itself.
 */
import { createRequire } from 'node:module';
import { blake2b } from '@noble/hashes/blake2.js';
import fc from 'fast-check';
import t from 'tap';
import nacl from 'tweetnacl';
import { InvalidArgument, openSeal, SEAL_OVERHEAD, seal, systemRng } from '../../src/scramble/index.js';
import { BACKENDS, flipBit, hex, labelRng, noble, sodium, thrown } from './helpers.js';

interface SodiumNative {
  crypto_box_seal(c: Buffer, m: Buffer, pk: Buffer): void;
  crypto_box_keypair(pk: Buffer, sk: Buffer): void;
  crypto_box_SEALBYTES: number;
}
const sodiumNative: SodiumNative = createRequire(import.meta.url)('sodium-native');

const RUNS = { numRuns: 50, seed: 0x5ea1 };
const message = fc.uint8Array({ minLength: 0, maxLength: 600 });
const secretKey = fc.uint8Array({ minLength: 32, maxLength: 32 });

/** Opens a sealed box with tweetnacl the way libsodium's crypto_box_seal_open does. */
function tweetnaclOpen(sealed: Uint8Array, pk: Uint8Array, sk: Uint8Array): Uint8Array | null {
  const epk = sealed.subarray(0, 32);
  const nonce = blake2b(new Uint8Array([...epk, ...pk]), { dkLen: 24 });
  return nacl.box.open(sealed.subarray(32), nonce, epk, sk);
}

t.test('SEAL_OVERHEAD is libsodium crypto_box_SEALBYTES', async (t) => {
  t.equal(SEAL_OVERHEAD, sodiumNative.crypto_box_SEALBYTES);
});

for (const crypto of BACKENDS) {
  t.test(`a box sealed by mixd (${crypto.name}) opens with tweetnacl`, async (t) => {
    const rng = labelRng(crypto, `sealed-box/tweetnacl/${crypto.name}`);
    fc.assert(
      fc.property(message, secretKey, (m, sk) => {
        const pk = crypto.x25519Base(sk);
        const sealed = seal(crypto, pk, m, rng);
        const opened = tweetnaclOpen(sealed, pk, sk);
        return sealed.length === m.length + SEAL_OVERHEAD && opened !== null && hex(opened) === hex(m);
      }),
      crypto.name === 'noble' ? { ...RUNS, numRuns: 20 } : RUNS,
    );
    t.pass('tweetnacl opens every box');
  });

  t.test(`a box sealed by libsodium crypto_box_seal opens with mixd openSeal (${crypto.name})`, async (t) => {
    fc.assert(
      fc.property(message, (m) => {
        const pk = Buffer.alloc(32);
        const sk = Buffer.alloc(32);
        sodiumNative.crypto_box_keypair(pk, sk);
        const sealed = Buffer.alloc(m.length + sodiumNative.crypto_box_SEALBYTES);
        sodiumNative.crypto_box_seal(sealed, Buffer.from(m), pk);
        const opened = openSeal(crypto, pk, sk, new Uint8Array(sealed));
        return opened !== null && hex(opened) === hex(m);
      }),
      crypto.name === 'noble' ? { ...RUNS, numRuns: 20 } : RUNS,
    );
    t.pass('openSeal opens every libsodium box');
  });
}

t.test('a box sealed by one backend opens with the other', async (t) => {
  const sk = sodium.randomBytes(32);
  const pk = sodium.x25519Base(sk);
  const m = new TextEncoder().encode('cross-backend');
  for (const from of BACKENDS) {
    const sealed = seal(from, pk, m, systemRng(from));
    for (const to of BACKENDS) {
      const opened = openSeal(to, pk, sk, sealed);
      t.equal(opened && hex(opened), hex(m), `${from.name} -> ${to.name}`);
    }
  }
});

t.test('wrong key, modified byte or truncation gives null', async (t) => {
  const rng = labelRng(sodium, 'sealed-box/negative');
  const sk = rng(32);
  const pk = sodium.x25519Base(sk);
  const otherSk = rng(32);
  const otherPk = sodium.x25519Base(otherSk);
  const m = rng(100);
  const sealed = seal(sodium, pk, m, rng);
  for (const c of BACKENDS) {
    t.equal(openSeal(c, otherPk, otherSk, sealed), null, `${c.name}: another recipient's key`);
    t.equal(openSeal(c, pk, otherSk, sealed), null, `${c.name}: right public key, wrong secret key`);
    t.equal(openSeal(c, otherPk, sk, sealed), null, `${c.name}: wrong public key (it is in the nonce)`);
    t.equal(openSeal(c, pk, sk, sealed.subarray(0, SEAL_OVERHEAD - 1)), null, `${c.name}: shorter than the overhead`);
    t.equal(openSeal(c, pk, sk, sealed.subarray(0, sealed.length - 1)), null, `${c.name}: truncated`);
    t.equal(openSeal(c, pk, sk, new Uint8Array([...sealed, 0])), null, `${c.name}: extended`);
    t.equal(openSeal(c, pk, sk, new Uint8Array(sealed.length)), null, `${c.name}: all zero (low-order epk)`);
  }
  // Every byte position: epk (changes the shared key and the nonce), tag and ciphertext.
  const opened: string[] = [];
  for (let byte = 0; byte < sealed.length; byte++) {
    const bad = flipBit(sealed, byte * 8 + (byte % 8));
    if (openSeal(sodium, pk, sk, bad) !== null) opened.push(`sodium byte ${byte}`);
    if (byte % 7 === 0 && openSeal(noble, pk, sk, bad) !== null) opened.push(`noble byte ${byte}`);
  }
  t.same(opened, [], 'no single-bit modification of any byte opens');
});

t.test('every box has a fresh ephemeral key; bad recipient keys are refused', async (t) => {
  const pk = sodium.x25519Base(sodium.randomBytes(32));
  const m = new Uint8Array(10);
  const a = seal(sodium, pk, m, systemRng(sodium));
  const b = seal(sodium, pk, m, systemRng(sodium));
  t.not(hex(a.subarray(0, 32)), hex(b.subarray(0, 32)), 'ephemeral public keys differ');
  t.not(hex(a.subarray(32)), hex(b.subarray(32)), 'ciphertexts differ');
  t.ok(thrown(() => seal(sodium, pk.subarray(1), m, systemRng(sodium))) instanceof InvalidArgument);
});

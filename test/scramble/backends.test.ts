/**
 * The two crypto backends must agree byte for byte on every primitive. Where a third
 * implementation exists (tweetnacl) or a published answer (RFC 8439, RFC 7693), it anchors
 * both, so that "both wrong the same way" is caught too.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import t from 'tap';
import nacl from 'tweetnacl';
import { CryptoFailure } from '../../src/scramble/index.js';
import { BACKENDS, flipBit, hex, LOW_ORDER_POINTS, noble, sodium, thrown, unhex } from './helpers.js';

const RUNS = { numRuns: 50, seed: 0x5eed };
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const anyBytes = (max: number) => fc.uint8Array({ minLength: 0, maxLength: max });

/** hex of the result, or the name of the error class, so that both outcomes can be compared. */
function result(fn: () => Uint8Array | boolean | null): string {
  try {
    const r = fn();
    return r instanceof Uint8Array ? hex(r) : String(r);
  } catch (err) {
    return err instanceof Error ? err.name : 'non-error';
  }
}

t.test('getCrypto really returns two different implementations', async (t) => {
  t.equal(sodium.name, 'sodium');
  t.equal(noble.name, 'noble');
  t.not(sodium, noble);
});

t.test('x25519 and x25519Base', async (t) => {
  fc.assert(
    fc.property(bytes(32), bytes(32), (scalar, point) => {
      const s = result(() => sodium.x25519(scalar, point));
      return s === result(() => noble.x25519(scalar, point)) && s === result(() => nacl.scalarMult(scalar, point));
    }),
    RUNS,
  );
  t.pass('x25519(random scalar, random u) agrees across sodium, noble and tweetnacl');

  fc.assert(
    fc.property(bytes(32), (scalar) => {
      const s = hex(sodium.x25519Base(scalar));
      const basePoint = new Uint8Array(32);
      basePoint[0] = 9;
      return (
        s === hex(noble.x25519Base(scalar)) &&
        s === hex(nacl.scalarMult.base(scalar)) &&
        s === hex(sodium.x25519(scalar, basePoint))
      );
    }),
    RUNS,
  );
  t.pass('x25519Base agrees across backends and equals x25519(scalar, 9)');

  fc.assert(
    fc.property(bytes(32), bytes(32), (a, b) =>
      BACKENDS.every((c) => hex(c.x25519(a, c.x25519Base(b))) === hex(c.x25519(b, c.x25519Base(a)))),
    ),
    RUNS,
  );
  t.pass('Diffie-Hellman commutes in both backends');

  // The top bit of u is ignored and u is reduced mod p (RFC 7748 §5): both must do the same.
  fc.assert(
    fc.property(bytes(32), bytes(32), (scalar, point) => {
      const high = point.slice();
      high[31] = (high[31] as number) | 0x80;
      return result(() => sodium.x25519(scalar, high)) === result(() => noble.x25519(scalar, high));
    }),
    RUNS,
  );
  const scalar = sodium.randomBytes(32);
  for (let k = 2; k < 19; k++) {
    const u = new Uint8Array(32).fill(0xff);
    u[0] = 0xed + k; // p + k, a non-canonical encoding of k
    u[31] = 0x7f;
    t.equal(
      result(() => noble.x25519(scalar, u)),
      result(() => sodium.x25519(scalar, u)),
      `u = p + ${k}`,
    );
  }
});

t.test('x25519 with a low-order point throws CryptoFailure in both backends', async (t) => {
  for (const [i, point] of LOW_ORDER_POINTS.entries()) {
    for (const highBit of [0, 0x80]) {
      const u = point.slice();
      u[31] = (u[31] as number) | highBit;
      for (const c of BACKENDS) {
        const err = thrown(() => c.x25519(c.randomBytes(32), u));
        t.ok(err instanceof CryptoFailure, `${c.name}: low-order point #${i}${highBit ? ' (bit 255 set)' : ''}`);
      }
    }
  }
  fc.assert(
    fc.property(bytes(32), fc.constantFrom(...LOW_ORDER_POINTS), (scalar, u) =>
      BACKENDS.every((c) => thrown(() => c.x25519(scalar, u)) instanceof CryptoFailure),
    ),
    RUNS,
  );
  t.pass('any scalar with any low-order point throws CryptoFailure');
});

t.test('ed25519 keys, signatures and verification', async (t) => {
  fc.assert(
    fc.property(bytes(32), anyBytes(300), (seed, message) => {
      const pk = sodium.ed25519PublicKey(seed);
      const sig = sodium.ed25519Sign(seed, message);
      const tweet = nacl.sign.keyPair.fromSeed(seed);
      return (
        hex(pk) === hex(noble.ed25519PublicKey(seed)) &&
        hex(pk) === hex(tweet.publicKey) &&
        hex(sig) === hex(noble.ed25519Sign(seed, message)) &&
        hex(sig) === hex(nacl.sign.detached(message, tweet.secretKey)) &&
        BACKENDS.every((c) => c.ed25519Verify(pk, message, sig))
      );
    }),
    RUNS,
  );
  t.pass('public keys and (deterministic) signatures agree; both verify them');

  fc.assert(
    fc.property(bytes(32), anyBytes(100), fc.nat(64 * 8 - 1), (seed, message, bit) => {
      const pk = sodium.ed25519PublicKey(seed);
      const badSig = flipBit(sodium.ed25519Sign(seed, message), bit);
      return BACKENDS.every((c) => c.ed25519Verify(pk, message, badSig) === false);
    }),
    RUNS,
  );
  t.pass('a signature with any bit flipped is rejected by both');

  fc.assert(
    fc.property(bytes(32), bytes(32), anyBytes(100), (seed, otherSeed, message) => {
      fc.pre(hex(seed) !== hex(otherSeed));
      const sig = sodium.ed25519Sign(seed, message);
      const otherPk = sodium.ed25519PublicKey(otherSeed);
      const changed = new Uint8Array([...message, 0]);
      const pk = sodium.ed25519PublicKey(seed);
      return BACKENDS.every((c) => !c.ed25519Verify(otherPk, message, sig) && !c.ed25519Verify(pk, changed, sig));
    }),
    RUNS,
  );
  t.pass('a signature under another key, or over another message, is rejected by both');

  const seed = sodium.randomBytes(32);
  const pk = sodium.ed25519PublicKey(seed);
  const sig = sodium.ed25519Sign(seed, new Uint8Array(3));
  for (const c of BACKENDS) {
    t.notOk(c.ed25519Verify(pk.subarray(1), new Uint8Array(3), sig), `${c.name}: short public key`);
    t.notOk(c.ed25519Verify(pk, new Uint8Array(3), sig.subarray(0, 63)), `${c.name}: short signature`);
    t.notOk(c.ed25519Verify(new Uint8Array(32).fill(0xff), new Uint8Array(3), sig), `${c.name}: key not on curve`);
  }
});

t.test('ed25519: signatures crafted with small-order components are rejected by both', async (t) => {
  // libsodium checks [S]B = R + [k]A exactly and refuses a small-order R; a verifier using only the
  // cofactored equation would accept these. Both backends must give the same answer.
  const P = ed25519.Point;
  const L = P.Fn.ORDER;
  const leNum = (b: Uint8Array) => BigInt(`0x${hex(b.slice().reverse()) || '0'}`);
  const leBytes = (x: bigint) => unhex(x.toString(16).padStart(64, '0')).reverse();
  const seed = new Uint8Array(32).fill(7);
  const { scalar, pointBytes: A } = ed25519.utils.getExtendedPublicKey(seed);
  const msg = new TextEncoder().encode('crafted');
  const torsion8 = P.fromHex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a');
  t.ok(torsion8.multiplyUnsafe(8n).is0() && !torsion8.multiplyUnsafe(4n).is0(), 'the torsion point has order 8');
  const craft = (R: InstanceType<typeof P>, r: bigint) => {
    const rBytes = R.toBytes();
    const k = leNum(sha512(new Uint8Array([...rBytes, ...A, ...msg]))) % L;
    return new Uint8Array([...rBytes, ...leBytes((r + k * scalar) % L)]);
  };
  const r = 0x1234567n;
  const honest = craft(P.BASE.multiply(r), r);
  const cases = {
    'R with a torsion component': craft(P.BASE.multiply(r).add(torsion8), r),
    'small-order R': craft(torsion8, 0n),
    'identity R': craft(P.ZERO, 0n),
  };
  for (const c of BACKENDS) {
    t.ok(c.ed25519Verify(A, msg, honest), `${c.name}: the honest signature built the same way verifies`);
    for (const [name, sig] of Object.entries(cases)) t.notOk(c.ed25519Verify(A, msg, sig), `${c.name}: ${name}`);
  }
  const smallOrderKey = torsion8.toBytes();
  const forged = new Uint8Array([...P.ZERO.toBytes(), ...new Uint8Array(32)]);
  for (const c of BACKENDS) t.notOk(c.ed25519Verify(smallOrderKey, msg, forged), `${c.name}: small-order public key`);
});

t.test('chacha20Xor', async (t) => {
  // RFC 8439 Appendix A.1, test vector #1: all-zero key and nonce, block counter 0.
  const rfc =
    '76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7' +
    'da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586';
  for (const c of BACKENDS) {
    t.equal(hex(c.chacha20Xor(new Uint8Array(32), new Uint8Array(12), new Uint8Array(64))), rfc, `${c.name}: RFC 8439`);
  }
  fc.assert(
    fc.property(bytes(32), bytes(12), anyBytes(1200), (key, nonce, data) => {
      const s = sodium.chacha20Xor(key, nonce, data);
      return (
        s.length === data.length &&
        hex(s) === hex(noble.chacha20Xor(key, nonce, data)) &&
        hex(sodium.chacha20Xor(key, nonce, s)) === hex(data)
      );
    }),
    RUNS,
  );
  t.pass('random key/nonce/data agree (lengths 0..1200, crossing 64-byte blocks) and XOR twice is identity');

  fc.assert(
    fc.property(bytes(32), bytes(12), anyBytes(300), (key, nonce, data) => {
      const want = hex(sodium.chacha20Xor(key, nonce, data));
      return BACKENDS.every((c) => {
        const out = new Uint8Array(data.length);
        const inPlace = data.slice();
        const r1 = c.chacha20Xor(key, nonce, data, out);
        const r2 = c.chacha20Xor(key, nonce, inPlace, inPlace);
        return r1 === out && hex(out) === want && r2 === inPlace && hex(inPlace) === want;
      });
    }),
    RUNS,
  );
  t.pass('the output argument (separate or in place) is written and returned by both');
});

t.test('blake2b, keyed and unkeyed, at several lengths', async (t) => {
  // RFC 7693 Appendix A: BLAKE2b-512("abc").
  const abc =
    'ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1' +
    '7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923';
  for (const c of BACKENDS) t.equal(hex(c.blake2b(new TextEncoder().encode('abc'), 64)), abc, `${c.name}: RFC 7693`);

  for (const outLen of [16, 20, 24, 32, 48, 64]) {
    fc.assert(
      fc.property(anyBytes(300), fc.option(fc.uint8Array({ minLength: 16, maxLength: 64 })), (data, key) => {
        const s = sodium.blake2b(data, outLen, key ?? undefined);
        return s.length === outLen && hex(s) === hex(noble.blake2b(data, outLen, key ?? undefined));
      }),
      { ...RUNS, numRuns: 25 },
    );
    t.pass(`outLen ${outLen}: agree with and without keys of 16..64 bytes`);
  }
  const data = new Uint8Array(10);
  for (const c of BACKENDS) {
    t.not(hex(c.blake2b(data, 32)), hex(c.blake2b(data, 32, new Uint8Array(32))), `${c.name}: a key changes the hash`);
    t.not(hex(c.blake2b(data, 32)), hex(c.blake2b(data, 64).subarray(0, 32)), `${c.name}: outLen is a parameter`);
  }
});

t.test('boxEasy / boxOpenEasy', async (t) => {
  const keyPair = (sk: Uint8Array) => ({ sk, pk: sodium.x25519Base(sk) });
  fc.assert(
    fc.property(anyBytes(500), bytes(24), bytes(32), bytes(32), (message, nonce, a, b) => {
      const alice = keyPair(a);
      const bob = keyPair(b);
      const box = sodium.boxEasy(message, nonce, bob.pk, alice.sk);
      const tweet = nacl.box(message, nonce, bob.pk, alice.sk);
      return (
        box.length === message.length + 16 &&
        hex(box) === hex(noble.boxEasy(message, nonce, bob.pk, alice.sk)) &&
        hex(box) === hex(tweet) &&
        BACKENDS.every((c) => hex(c.boxOpenEasy(box, nonce, alice.pk, bob.sk) ?? new Uint8Array([1])) === hex(message))
      );
    }),
    RUNS,
  );
  t.pass('boxes agree across sodium, noble and tweetnacl, and open in both backends');

  fc.assert(
    fc.property(anyBytes(200), bytes(24), bytes(32), bytes(32), fc.nat(), (message, nonce, a, b, where) => {
      const alice = keyPair(a);
      const bob = keyPair(b);
      const box = sodium.boxEasy(message, nonce, bob.pk, alice.sk);
      const tampered = flipBit(box, where % (box.length * 8));
      const wrongNonce = flipBit(nonce, where % 192);
      return BACKENDS.every(
        (c) =>
          c.boxOpenEasy(tampered, nonce, alice.pk, bob.sk) === null &&
          c.boxOpenEasy(box, wrongNonce, alice.pk, bob.sk) === null &&
          c.boxOpenEasy(box, nonce, bob.pk, bob.sk) === null &&
          c.boxOpenEasy(box.subarray(0, 15), nonce, alice.pk, bob.sk) === null,
      );
    }),
    RUNS,
  );
  t.pass('tampered box, wrong nonce, wrong key and short box all give null in both');
});

t.test('secretboxEasy / secretboxOpenEasy', async (t) => {
  fc.assert(
    fc.property(anyBytes(500), bytes(24), bytes(32), fc.nat(), (message, nonce, key, where) => {
      const box = sodium.secretboxEasy(message, nonce, key);
      const tampered = flipBit(box, where % (box.length * 8));
      return (
        hex(box) === hex(noble.secretboxEasy(message, nonce, key)) &&
        hex(box) === hex(nacl.secretbox(message, nonce, key)) &&
        BACKENDS.every(
          (c) =>
            hex(c.secretboxOpenEasy(box, nonce, key) ?? new Uint8Array([1])) === hex(message) &&
            c.secretboxOpenEasy(tampered, nonce, key) === null &&
            c.secretboxOpenEasy(box.subarray(0, 15), nonce, key) === null,
        )
      );
    }),
    RUNS,
  );
  t.pass('secretboxes agree across sodium, noble and tweetnacl; tampered or short gives null');
});

t.test('Ed25519 -> X25519 conversion', async (t) => {
  fc.assert(
    fc.property(bytes(32), (seed) => {
      const edPk = sodium.ed25519PublicKey(seed);
      const xPk = sodium.ed25519PublicToX25519(edPk);
      const xSk = sodium.ed25519SeedToX25519(seed);
      return (
        hex(xPk) === hex(noble.ed25519PublicToX25519(edPk)) &&
        hex(xSk) === hex(noble.ed25519SeedToX25519(seed)) &&
        hex(sodium.x25519Base(xSk)) === hex(xPk)
      );
    }),
    RUNS,
  );
  t.pass('converted keys agree, and the converted secret matches the converted public key');

  const P = ed25519.Point;
  const torsion8 = P.fromHex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a');
  const valid = P.fromBytes(sodium.ed25519PublicKey(new Uint8Array(32).fill(3)));
  const invalid: Record<string, Uint8Array> = {
    identity: P.ZERO.toBytes(),
    'order-8 point': torsion8.toBytes(),
    'point with a torsion component': valid.add(torsion8).toBytes(),
    'not on the curve': unhex(`02${'00'.repeat(31)}`),
    'y >= p': unhex(`ed${'ff'.repeat(30)}7f`),
  };
  for (const [name, key] of Object.entries(invalid)) {
    for (const c of BACKENDS) {
      t.ok(thrown(() => c.ed25519PublicToX25519(key)) instanceof CryptoFailure, `${c.name}: ${name} is refused`);
    }
  }
});

t.test('argon2id agrees at small parameters', async (t) => {
  const password = new TextEncoder().encode('correct horse');
  for (const [ops, mem, outLen] of [
    [1, 8192, 32],
    [2, 16384, 16],
    [3, 8192, 64],
  ] as const) {
    const salt = sodium.randomBytes(16);
    const s = sodium.argon2id(password, salt, ops, mem, outLen);
    t.equal(s.length, outLen);
    t.equal(hex(noble.argon2id(password, salt, ops, mem, outLen)), hex(s), `ops ${ops}, mem ${mem}, out ${outLen}`);
    t.not(hex(sodium.argon2id(password, sodium.randomBytes(16), ops, mem, outLen)), hex(s), 'the salt matters');
  }
});

t.test('equal() and randomBytes()', async (t) => {
  fc.assert(
    fc.property(anyBytes(64), anyBytes(64), fc.nat(), (a, b, where) => {
      const same = a.length === b.length && hex(a) === hex(b);
      const copy = a.slice();
      const differsByOne = a.length ? flipBit(a, where % (a.length * 8)) : new Uint8Array(1);
      return BACKENDS.every(
        (c) =>
          c.equal(a, b) === same &&
          c.equal(a, copy) &&
          !c.equal(a, differsByOne) &&
          !c.equal(a, new Uint8Array([...a, 0])),
      );
    }),
    RUNS,
  );
  t.pass('equal() is byte equality in both backends, including length');
  const big = new Uint8Array(100);
  const view = big.subarray(50, 60);
  for (const c of BACKENDS) {
    t.ok(c.equal(view, new Uint8Array(10)), `${c.name}: compares a subarray view, not its whole buffer`);
    const r1 = c.randomBytes(33);
    const r2 = c.randomBytes(33);
    t.equal(r1.length, 33);
    t.not(hex(r1), hex(r2), `${c.name}: two random draws differ`);
  }
});

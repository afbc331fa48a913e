/**
 * The sender's accumulated blinding (routeHopKeys): scalar arithmetic mod ℓ, clamped
 * representatives, and equality with the plain construction that applies every blinding scalar
 * with its own X25519 (what the mix side does, and what buildHeader did before).
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import t from 'tap';
import {
  bytesToScalar,
  clampedRepresentative,
  clampedScalarModOrder,
  GROUP_ORDER,
  mulModOrder,
  scalarToBytes,
} from '../../src/scramble/crypto/scalar25519.js';
import { type Representative, routeHopKeys } from '../../src/scramble/header.js';
import {
  buildHeader,
  type CryptoBackend,
  CryptoFailure,
  DEFAULT_GEOMETRY as G5,
  type RouteHop,
} from '../../src/scramble/index.js';
import { deriveHopKeys, type HopKeys } from '../../src/scramble/kdf.js';
import { BACKENDS, hex, LOW_ORDER_POINTS, labelRng, makeNodes, routeThrough, sodium, thrown } from './helpers.js';

const RUNS = { numRuns: 40, seed: 0xacc };
const L = GROUP_ORDER;
const TWO_251 = 2n ** 251n;
const DELTA = L - 2n ** 252n;
const BASE_U = (() => {
  const u = new Uint8Array(32);
  u[0] = 9;
  return u;
})();

const mod = (a: bigint) => ((a % L) + L) % L;
/** The m of a clamped scalar 2^254 + 8m that is ≡ k (mod ℓ), computed without the module's constants. */
const mOf = (k: bigint) => {
  // 8^-1 mod ℓ by brute search over the identity 8·inv ≡ 1: inv = (j·ℓ + 1) / 8 for the j in 0..7 that divides.
  let inv8 = 0n;
  for (let j = 0n; j < 8n; j++) if ((j * L + 1n) % 8n === 0n) inv8 = (j * L + 1n) / 8n;
  return mod((k - 2n ** 254n) * inv8);
};

/** The construction without accumulation: hop i's secret is x applied to pub_i, then b_0 … b_{i−1}, one X25519 each. */
function plainHopKeys(crypto: CryptoBackend, x: Uint8Array, publicKeys: Uint8Array[]): HopKeys[] {
  const keys: HopKeys[] = [];
  publicKeys.forEach((pub, i) => {
    let s = crypto.x25519(x, pub);
    for (let j = 0; j < i; j++) s = crypto.x25519((keys[j] as HopKeys).blinding, s);
    keys.push(deriveHopKeys(crypto, s));
  });
  return keys;
}

const keysHex = (keys: HopKeys[]) => keys.map((k) => hex(k.material));

t.test('ℓ and the clamped scalar value', async (t) => {
  t.equal(L, 7237005577332262213973186563042994240857116359379907606001950938285454250989n, 'ℓ of RFC 7748');
  // X25519(k, 9) equals X25519 by the clamped value reduced mod ℓ, re-encoded as a representative.
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (k) => {
      const rep = clampedRepresentative(clampedScalarModOrder(k));
      return rep !== undefined && hex(sodium.x25519(rep, BASE_U)) === hex(sodium.x25519Base(k));
    }),
    RUNS,
  );
  t.pass('X25519Base(k) = X25519(representative(clamp(k) mod ℓ), 9) for random k');
  const allOnes = new Uint8Array(32).fill(0xff);
  t.equal(clampedScalarModOrder(allOnes), mod(2n ** 255n - 8n), 'clamping clears bits 0–2 and 255, keeps the rest');
  t.equal(clampedScalarModOrder(new Uint8Array(32)), mod(2n ** 254n), 'and sets bit 254');
});

t.test('clampedRepresentative: clamping leaves it unchanged and it is ±k mod ℓ', async (t) => {
  fc.assert(
    // Uniform k, as products of hashed scalars are: fc.bigInt favours small values, and the small
    // multiples of 8 are exactly the residues without a representative (see the gap below).
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
      const k = mod(bytesToScalar(bytes));
      const rep = clampedRepresentative(k);
      if (rep === undefined) return false; // density ~2^-126: never for random k
      const c = bytesToScalar(rep);
      const clampInvariant = (rep[0] as number) % 8 === 0 && ((rep[31] as number) & 0xc0) === 0x40;
      return clampInvariant && (mod(c) === k || mod(c) === mod(-k));
    }),
    { numRuns: 500, seed: 0xacc },
  );
  t.pass('500 random k');
  // The gap is k = 8j mod ℓ with |j| ≤ δ. It holds 0 (no clamped scalar is a multiple of ℓ: 4ℓ..7ℓ are
  // not multiples of 8) and the small multiples of 8; a product of hashed factors lands there with
  // probability ~2^-126.6. Just outside it, a representative exists again.
  t.equal(clampedRepresentative(0n), undefined, 'k = 0 has none');
  t.equal(clampedRepresentative(64n), undefined, 'k = 64 has none');
  t.equal(clampedRepresentative(mod(-8n * DELTA)), undefined, 'k = −8δ has none');
  t.ok(clampedRepresentative(mod(8n * DELTA + 8n)), 'k = 8(δ + 1) has one');
  t.ok(clampedRepresentative(1n) && clampedRepresentative(7n), 'k = 1 and 7 have one (not multiples of 8)');

  const kWithM = (m: bigint) => mod(2n ** 254n + 8n * m);
  t.equal(mOf(kWithM(12345n)), 12345n, 'the test helper inverts kWithM');
  const direct = clampedRepresentative(kWithM(TWO_251 - 1n));
  t.equal(direct && bytesToScalar(direct), 2n ** 254n + 8n * (TWO_251 - 1n), 'm = 2^251 − 1: k itself');
  const beyondGap = kWithM(TWO_251 + 2n * DELTA + 1n);
  const viaNegation = clampedRepresentative(beyondGap);
  t.ok(viaNegation, 'm = 2^251 + 2δ + 1: no representative of k, one of −k');
  t.equal(viaNegation && mod(bytesToScalar(viaNegation)), mod(-beyondGap), 'and it is ≡ −k');
  t.equal(clampedRepresentative(kWithM(TWO_251)), undefined, 'm = 2^251: neither k nor −k (lower end of the gap)');
  t.equal(clampedRepresentative(kWithM(TWO_251 + DELTA)), undefined, 'm = 2^251 + δ: neither');
  t.equal(clampedRepresentative(kWithM(TWO_251 + 2n * DELTA)), undefined, 'm = 2^251 + 2δ: neither (upper end)');

  // The representative of −k acts as k on the u-line: same X25519 output.
  const k = kWithM(TWO_251 + 2n * DELTA + 5n);
  const rep = clampedRepresentative(k) as Uint8Array;
  const p = sodium.x25519Base(labelRng(sodium, 'accumulate/p')(32));
  const viaTwoSteps = clampedRepresentative(mod(k * 3n)) as Uint8Array;
  const three = clampedRepresentative(3n) as Uint8Array;
  t.equal(
    hex(sodium.x25519(viaTwoSteps, p)),
    hex(sodium.x25519(three, sodium.x25519(rep, p))),
    'X25519(rep(3k), P) = X25519(rep(3), X25519(rep(k), P)) even when rep(k) is the −k one',
  );
  t.equal(hex(scalarToBytes(bytesToScalar(p))), hex(p), 'byte encoding round trip');
});

t.test('accumulated scalars: X25519(rep(a·b mod ℓ), P) = X25519(b, X25519(a, P)), both backends', async (t) => {
  for (const crypto of BACKENDS) {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (a, b, p) => {
          const point = crypto.x25519Base(p);
          const rep = clampedRepresentative(mulModOrder(clampedScalarModOrder(a), clampedScalarModOrder(b)));
          return rep !== undefined && hex(crypto.x25519(rep, point)) === hex(crypto.x25519(b, crypto.x25519(a, point)));
        },
      ),
      { numRuns: crypto.name === 'noble' ? 8 : 40, seed: 0xacc },
    );
    t.pass(`${crypto.name}: random a, b, P`);
  }
});

t.test('routeHopKeys equals the plain construction, for routes of 1..8 hops and both backends', async (t) => {
  const rng = labelRng(sodium, 'accumulate/routes');
  const nodes = makeNodes(sodium, rng, 8);
  for (const crypto of BACKENDS) {
    for (let n = 1; n <= 8; n++) {
      const x = rng(32);
      const pubs = nodes.slice(0, n).map((node) => node.publicKey);
      t.same(
        keysHex(routeHopKeys(crypto, x, pubs)),
        keysHex(plainHopKeys(crypto, x, pubs)),
        `${crypto.name}, ${n} hops`,
      );
      t.notOk(
        x.every((b) => b === 0),
        'routeHopKeys leaves the caller’s x alone (buildHeader wipes it)',
      );
    }
  }
});

t.test('the fallback for a product with no representative gives the same keys', async (t) => {
  const rng = labelRng(sodium, 'accumulate/fallback');
  const pubs = makeNodes(sodium, rng, 6).map((node) => node.publicKey);
  const x = rng(32);
  const want = keysHex(plainHopKeys(sodium, x, pubs));
  const never: Representative = () => undefined;
  t.same(keysHex(routeHopKeys(sodium, x, pubs, never)), want, 'no representative at any hop');
  for (const refused of [[1], [2, 3], [4], [1, 2, 3, 4, 5], [5]]) {
    let call = 0;
    const some: Representative = (k) => (refused.includes(++call) ? undefined : clampedRepresentative(k));
    t.same(keysHex(routeHopKeys(sodium, x, pubs, some)), want, `no representative at hops ${refused.join(',')}`);
  }
});

t.test('keys with a torsion component give what the plain construction gives', async (t) => {
  // Q + T for Q in the prime-order subgroup and T of order 8: X25519 clamps (a multiple of 8) remove T,
  // and so does every representative, so the accumulated construction must agree here too.
  const torsion = ed25519.Point.fromHex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a');
  t.ok(torsion.multiply(8n).equals(ed25519.Point.ZERO) && !torsion.multiply(4n).equals(ed25519.Point.ZERO));
  const rng = labelRng(sodium, 'accumulate/torsion');
  const pubs = Array.from({ length: 4 }, () => {
    const q = ed25519.Point.BASE.multiply(mod(bytesToScalar(rng(32))) || 1n);
    return ed25519.utils.toMontgomery(q.add(torsion).toBytes());
  });
  const x = rng(32);
  t.same(keysHex(routeHopKeys(sodium, x, pubs)), keysHex(plainHopKeys(sodium, x, pubs)));
});

t.test('the sender does n X25519 and one X25519Base for n hops', async (t) => {
  const rng = labelRng(sodium, 'accumulate/count');
  const nodes = makeNodes(sodium, rng, 5);
  const calls = { x25519: 0, x25519Base: 0 };
  const counting: CryptoBackend = {
    ...sodium,
    x25519(s, p) {
      calls.x25519++;
      return sodium.x25519(s, p);
    },
    x25519Base(s) {
      calls.x25519Base++;
      return sodium.x25519Base(s);
    },
  };
  for (let n = 1; n <= 5; n++) {
    calls.x25519 = 0;
    calls.x25519Base = 0;
    buildHeader(counting, G5, routeThrough(nodes.slice(0, n), { kind: 'drop' }), rng);
    t.same(calls, { x25519: n, x25519Base: 1 }, `${n} hops (was 1 + n(n+1)/2 = ${1 + (n * (n + 1)) / 2})`);
  }
});

t.test('a low-order mix key still fails with CryptoFailure, at any position', async (t) => {
  const rng = labelRng(sodium, 'accumulate/low-order');
  const nodes = makeNodes(sodium, rng, 5);
  for (const crypto of BACKENDS) {
    for (const position of [0, 2, 4]) {
      const route: RouteHop[] = routeThrough(nodes, { kind: 'drop' });
      (route[position] as RouteHop).publicKey = LOW_ORDER_POINTS[1] as Uint8Array;
      t.type(
        thrown(() => buildHeader(crypto, G5, route, rng)),
        CryptoFailure,
        `${crypto.name}: position ${position}`,
      );
    }
  }
});

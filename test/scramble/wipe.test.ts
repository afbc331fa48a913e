/**
 * Secrets are wiped where they are derived, on every exit path (issue 10, F14): the per-packet x,
 * shared secrets, blinding scalars and their representatives, every hop key, the header keystreams,
 * Lioness round keys and the sealed box's ephemeral key. A wrapped backend keeps a reference to every
 * secret array that crosses it (X25519 scalars and results, ChaCha20 and keyed-BLAKE2b keys, fresh
 * keystreams, hash outputs of 32 bytes and more) and, after the call, each must be all zero.
 */
import t, { type Test } from 'tap';
import { COMMAND_BYTES, SLOT_BYTES } from '../../src/scramble/geometry.js';
import { routeHopKeys } from '../../src/scramble/header.js';
import {
  buildHeader,
  type CryptoBackend,
  CryptoFailure,
  createPacket,
  DEFAULT_GEOMETRY as G,
  MalformedPacket,
  type Rng,
  type RouteHop,
  seal,
  unwrapPacket,
} from '../../src/scramble/index.js';
import { deriveHopKeys, wipeHopKeys } from '../../src/scramble/kdf.js';
import { lionessEncrypt } from '../../src/scramble/lioness.js';
import {
  BACKENDS,
  isAllZero,
  LOW_ORDER_POINTS,
  labelRng,
  type MixNode,
  makeNodes,
  routeThrough,
  sodium,
  thrown,
  walk,
} from './helpers.js';

/** Public constants that are passed as keys (the KDF's extract label) are not secrets. */
const isLabel = (key: Uint8Array) => new TextDecoder().decode(key).startsWith('mixd/');

interface Seen {
  /** Scalars given to x25519 (x, representatives, blinding scalars, private keys). */
  scalars: Uint8Array[];
  /** Results of x25519 (shared secrets and intermediate products; α' at a relay hop). */
  products: Uint8Array[];
  /** Keys given to chacha20Xor and keyed blake2b. */
  keys: Uint8Array[];
  /** Fresh keystreams (chacha20Xor without an output buffer) and hash outputs of 32 bytes or more. */
  derived: Uint8Array[];
}

function watching(base: CryptoBackend): { crypto: CryptoBackend; seen: Seen } {
  const seen: Seen = { scalars: [], products: [], keys: [], derived: [] };
  const crypto: CryptoBackend = {
    ...base,
    x25519(scalar, point) {
      seen.scalars.push(scalar);
      const out = base.x25519(scalar, point);
      seen.products.push(out);
      return out;
    },
    chacha20Xor(key, nonce, data, output) {
      seen.keys.push(key);
      const out = base.chacha20Xor(key, nonce, data, output);
      if (!output) seen.derived.push(out);
      return out;
    },
    blake2b(data, outLen, key) {
      if (key && !isLabel(key)) seen.keys.push(key);
      const out = base.blake2b(data, outLen, key);
      if (key && outLen >= 32) seen.derived.push(out);
      return out;
    },
  };
  return { crypto, seen };
}

/** An Rng that remembers what it handed out. */
function recording(rng: Rng): { rng: Rng; draws: Uint8Array[] } {
  const draws: Uint8Array[] = [];
  return {
    draws,
    rng: (n) => {
      const out = rng(n);
      draws.push(out);
      return out;
    },
  };
}

/** Names of the captured arrays that are not all zero. */
function notWiped(seen: Seen, except: ReadonlySet<Uint8Array> = new Set()): string[] {
  const bad: string[] = [];
  for (const [kind, arrays] of Object.entries(seen) as [keyof Seen, Uint8Array[]][]) {
    arrays.forEach((a, i) => {
      if (!except.has(a) && !isAllZero(a)) bad.push(`${kind}[${i}] (${a.length} bytes)`);
    });
  }
  return bad;
}

const base = labelRng(sodium, 'wipe.test');
const nodes = makeNodes(sodium, base, 5);
const mailbox = base(16);

for (const backend of BACKENDS) {
  t.test(`createPacket wipes x, shared secrets, hop keys and keystreams (${backend.name})`, async (t) => {
    for (const n of backend.name === 'noble' ? [5] : [1, 2, 5]) {
      const { crypto, seen } = watching(backend);
      const { rng, draws } = recording(base);
      const route = routeThrough(nodes.slice(0, n), { kind: 'deliver', mailbox });
      const body = base(100);
      const packet = createPacket(crypto, G, route, body, rng);
      t.ok(seen.scalars.length >= n && seen.keys.length > n && seen.derived.length >= n, `${n} hops: secrets seen`);
      t.same(notWiped(seen), [], `${n} hops: every captured secret is zero`);
      t.ok(isAllZero(draws[0] as Uint8Array), `${n} hops: x (the first draw) is zero`);
      // Wiping happened after use, not before: the packet still goes through.
      const last = walk(sodium, G, nodes.slice(0, n), packet).results.at(-1);
      t.equal(last?.kind === 'deliver' && Buffer.from(last.body.subarray(0, 100)).equals(body), true, 'still delivers');
    }
  });
}

t.test('buildHeader returns payload keys the caller owns, and wipes the rest', async (t) => {
  const { crypto, seen } = watching(sodium);
  const { header, payloadKeys } = buildHeader(crypto, G, routeThrough(nodes, { kind: 'drop' }), base);
  t.equal(header.length, G.headerBytes);
  t.ok(payloadKeys.length === 5 && payloadKeys.every((k) => !isAllZero(k)), 'payload keys intact');
  t.same(notWiped(seen), []);
});

t.test('buildHeader wipes everything when a later hop key is low-order (CryptoFailure)', async (t) => {
  for (const position of [1, 3, 4]) {
    const { crypto, seen } = watching(sodium);
    const { rng, draws } = recording(base);
    const route: RouteHop[] = routeThrough(nodes, { kind: 'drop' });
    (route[position] as RouteHop).publicKey = LOW_ORDER_POINTS[3] as Uint8Array;
    t.type(
      thrown(() => createPacket(crypto, G, route, new Uint8Array(10), rng)),
      CryptoFailure,
      `position ${position}`,
    );
    t.ok(seen.scalars.length >= 1 && seen.derived.length >= position, `position ${position}: earlier hops' keys seen`);
    t.same(notWiped(seen), [], `position ${position}: nothing left`);
    t.ok(isAllZero(draws[0] as Uint8Array), `position ${position}: x is zero`);
  }
});

t.test('routeHopKeys wipes intermediates in its fallback path too, also when it throws', async (t) => {
  // No representative anywhere: hop i applies i blinding scalars one X25519 at a time.
  const never = () => undefined;
  for (const lowAt of [undefined, 2, 4]) {
    const { crypto, seen } = watching(sodium);
    const x = base(32);
    const pubs = nodes.map((n, i) => (i === lowAt ? (LOW_ORDER_POINTS[1] as Uint8Array) : n.publicKey));
    let keys: ReturnType<typeof routeHopKeys> = [];
    const err = thrown(() => {
      keys = routeHopKeys(crypto, x, pubs, never);
    });
    t.type(err, lowAt === undefined ? 'undefined' : CryptoFailure, `low-order key at ${lowAt ?? 'no position'}`);
    t.ok(seen.products.length >= (lowAt ?? 5), 'intermediate products seen');
    // x is the caller's (buildHeader wipes it); returned keys are the caller's too.
    for (const k of keys) wipeHopKeys(k);
    t.same(notWiped(seen, new Set([x])), [], `low-order key at ${lowAt ?? 'no position'}: nothing left`);
  }
});

/** unwrapPacket at `node` through a watching backend; the private key and α' (public) are not secrets. */
function unwrapWatched(
  t: Test,
  node: MixNode,
  packet: Uint8Array,
  what: string,
  replay?: (tag: Uint8Array) => boolean,
) {
  const { crypto, seen } = watching(sodium);
  let outcome: string;
  let nextAlpha: Uint8Array | undefined;
  try {
    const r = unwrapPacket(crypto, G, node.privateKey, packet, replay);
    outcome = r.kind;
    if (r.kind === 'forward') nextAlpha = seen.products[1];
  } catch (err) {
    outcome = err instanceof MalformedPacket ? err.reason : String(err);
  }
  const except = new Set<Uint8Array>([node.privateKey]);
  if (nextAlpha) except.add(nextAlpha);
  t.ok(seen.products.length >= 1 && seen.keys.length >= 1, `${what}: secrets seen`);
  t.same(notWiped(seen, except), [], `${what} (${outcome}): shared secret, hop keys and blinding scalar are zero`);
  return outcome;
}

t.test('unwrapPacket wipes the shared secret and hop keys on every outcome', async (t) => {
  const route = routeThrough(nodes.slice(0, 2), { kind: 'deliver', mailbox });
  const packet = createPacket(sodium, G, route, base(40), base);
  const [n0, n1] = nodes as [MixNode, MixNode];
  t.equal(unwrapWatched(t, n0, packet, 'relay hop'), 'forward');
  const fwd = unwrapPacket(sodium, G, n0.privateKey, packet);
  if (fwd.kind !== 'forward') throw new Error('expected forward');
  t.equal(unwrapWatched(t, n1, fwd.packet, 'final hop'), 'deliver');

  t.equal(unwrapWatched(t, n1, packet, 'wrong key'), 'bad_mac');
  t.equal(
    unwrapWatched(t, n0, packet, 'replay', () => true),
    'replay',
  );
  const tampered = fwd.packet.slice();
  tampered[G.headerBytes + 5] ^= 1;
  t.equal(unwrapWatched(t, n1, tampered, 'modified payload'), 'bad_payload_tag');

  // A MAC-valid header whose command is unknown (type 0): built by hand with this hop's keys.
  const alpha = packet.subarray(1, 33);
  const shared = sodium.x25519(n0.privateKey, alpha);
  const keys = deriveHopKeys(sodium, shared);
  const B = G.betaBytes;
  const routing = new Uint8Array(B + SLOT_BYTES);
  routing.fill(0xab, COMMAND_BYTES);
  const beta = sodium.chacha20Xor(keys.headerKey, new Uint8Array(12), routing.subarray(0, B));
  const bad = packet.slice();
  bad.set(beta, 33);
  bad.set(sodium.blake2b(beta, 16, keys.macKey), 33 + B);
  bad.set(lionessEncrypt(sodium, keys.payloadKey, new Uint8Array(G.payloadBytes)), G.headerBytes);
  wipeHopKeys(keys);
  t.equal(unwrapWatched(t, n0, bad, 'unknown command'), 'bad_command');
});

t.test('the replay callback gets a tag it may keep: wiping the hop keys does not zero it', async (t) => {
  const packet = createPacket(sodium, G, routeThrough(nodes.slice(0, 2), { kind: 'drop' }), base(8), base);
  let kept: Uint8Array | undefined;
  const r = unwrapPacket(sodium, G, (nodes[0] as MixNode).privateKey, packet, (tag) => {
    kept = tag;
    return false;
  });
  t.ok(kept && !isAllZero(kept), 'the kept tag is intact after unwrapPacket returned');
  t.same(kept, r.replayTag, 'and equals the result’s replayTag');
});

for (const backend of BACKENDS) {
  t.test(`seal wipes its ephemeral secret, also when it refuses the key (${backend.name})`, async (t) => {
    const recipient = backend.x25519Base(base(32));
    const { rng, draws } = recording(base);
    const sealed = seal(backend, recipient, new Uint8Array([1, 2, 3]), rng);
    t.equal(sealed.length, 3 + 48);
    t.ok(isAllZero(draws[0] as Uint8Array), 'esk is zero after a seal');
    const refused = recording(base);
    t.type(
      thrown(() => seal(backend, LOW_ORDER_POINTS[0] as Uint8Array, new Uint8Array(3), refused.rng)),
      CryptoFailure,
    );
    t.ok(isAllZero(refused.draws[0] as Uint8Array), 'esk is zero after a refused seal');
  });
}

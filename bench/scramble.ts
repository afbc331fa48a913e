/**
 * Figures of the packet layer (src/scramble). Ratios are against one X25519
 * scalar multiplication measured in the same run with the same backend, so
 * they can be compared across machines; the µs figures cannot.
 */
import { decodeCommand } from '../src/scramble/commands.js';
import {
  COMMAND_BYTES,
  type CryptoBackend,
  createPacket,
  DEFAULT_GEOMETRY,
  getCrypto,
  MAC_BYTES,
  type RouteHop,
  SLOT_BYTES,
  seal,
  systemRng,
  unwrapPacket,
} from '../src/scramble/index.js';
import { deriveHopKeys } from '../src/scramble/kdf.js';
import { lionessDecryptInPlace } from '../src/scramble/lioness.js';
import {
  type Figure,
  figure,
  type Measurement,
  type MeasureOptions,
  measureInterleaved,
  quantile,
  round,
} from './harness.js';

const HOPS = 5;
/** Distinct inputs cycled through, so no figure is a replay of one cached input. */
const POOL = 32;

interface Keypair {
  priv: Uint8Array;
  pub: Uint8Array;
}

function keypair(crypto: CryptoBackend): Keypair {
  const priv = crypto.randomBytes(32);
  return { priv, pub: crypto.x25519Base(priv) };
}

/** A default-size 5-hop route S -> P1 -> ... -> CS, as the daemon builds it. */
function route(crypto: CryptoBackend, keys: Keypair[]): RouteHop[] {
  return keys.map((k, i) => ({
    publicKey: k.pub,
    command:
      i < keys.length - 1
        ? { kind: 'relay', next: crypto.randomBytes(16), delayMs: 1000 + i }
        : { kind: 'deliver', mailbox: crypto.randomBytes(16) },
  }));
}

/** Cycles through `items`, one per call. */
function cycle<T>(items: T[]): () => T {
  let i = 0;
  return () => items[i++ % items.length] as T;
}

interface Fixture {
  hops: Keypair[];
  route: RouteHop[];
  body: Uint8Array;
  /** Fresh packets for hop 0 (a relay hop: both X25519 are done). */
  packets: Uint8Array[];
  scalars: Uint8Array[];
  points: Uint8Array[];
}

function fixture(crypto: CryptoBackend): Fixture {
  const hops = Array.from({ length: HOPS }, () => keypair(crypto));
  const r = route(crypto, hops);
  const body = crypto.randomBytes(DEFAULT_GEOMETRY.bodyBytes);
  const rng = systemRng(crypto);
  const packets = Array.from({ length: POOL }, () => createPacket(crypto, DEFAULT_GEOMETRY, r, body, rng));
  const scalars = Array.from({ length: POOL }, () => crypto.randomBytes(32));
  const points = Array.from({ length: POOL }, () => keypair(crypto).pub);
  const probe = unwrapPacket(crypto, DEFAULT_GEOMETRY, (hops[0] as Keypair).priv, packets[0] as Uint8Array);
  if (probe.kind !== 'forward') throw new Error(`bench fixture: hop 0 gave ${probe.kind}, expected forward`);
  return { hops, route: r, body, packets, scalars, points };
}

function x25519Case(crypto: CryptoBackend, f: Fixture): () => unknown {
  const next = cycle(f.scalars.map((s, i) => [s, f.points[i] as Uint8Array] as const));
  return () => {
    const [s, p] = next();
    return crypto.x25519(s, p);
  };
}

function unwrapCase(crypto: CryptoBackend, f: Fixture): () => unknown {
  const next = cycle(f.packets);
  const priv = (f.hops[0] as Keypair).priv;
  return () => unwrapPacket(crypto, DEFAULT_GEOMETRY, priv, next());
}

/**
 * One P2 copy at the scramble level: C0 (560 bytes: a 256-byte datagram sealed by the group layer at
 * default padding, bench/groups.ts `group_c0_bytes`) re-sealed to the group key, then a 2-hop packet
 * P2 -> P3 (relay) -> CS (deliverToken) whose body is token(64) || u16 length || seal (the copy
 * layout of src/group/fanout.ts). Fresh randomness, varying group keys.
 */
const C0_BYTES = 560;
const COPY_TOKEN_BYTES = 64;

function fanoutCopyCase(crypto: CryptoBackend, f: Fixture): () => unknown {
  const rng = systemRng(crypto);
  const c0 = crypto.randomBytes(C0_BYTES);
  const token = crypto.randomBytes(COPY_TOKEN_BYTES);
  const groupKey = cycle(f.points);
  const copyRoute: RouteHop[] = [
    { publicKey: (f.hops[1] as Keypair).pub, command: { kind: 'relay', next: crypto.randomBytes(16), delayMs: 0 } },
    { publicKey: (f.hops[4] as Keypair).pub, command: { kind: 'deliverToken' } },
  ];
  return () => {
    const sealed = seal(crypto, groupKey(), c0, rng);
    const body = new Uint8Array(COPY_TOKEN_BYTES + 2 + sealed.length);
    body.set(token, 0);
    new DataView(body.buffer).setUint16(COPY_TOKEN_BYTES, sealed.length);
    body.set(sealed, COPY_TOKEN_BYTES + 2);
    return createPacket(crypto, DEFAULT_GEOMETRY, copyRoute, body, rng);
  };
}

/**
 * The ratio of `num` to `den` per round (batch b of each was measured in the same round of
 * measureInterleaved, seconds apart), summarised by its median and interquartile range over the
 * rounds. Pairing the batches keeps a slow phase of the shared machine from landing on one side of
 * the ratio only, which dividing the two medians does not. Figures: NAME, NAME_p25, NAME_p75.
 */
function pairedRatio(name: string, num: Measurement, den: Measurement): Figure[] {
  const ratios = num.samples.map((v, i) => v / (den.samples[i] as number)).sort((a, b) => a - b);
  return [
    figure(name, round(quantile(ratios, 0.5), 3), 'x25519'),
    figure(`${name}_p25`, round(quantile(ratios, 0.25), 3), 'x25519'),
    figure(`${name}_p75`, round(quantile(ratios, 0.75), 3), 'x25519'),
  ];
}

const SODIUM_OPTS: MeasureOptions = { batches: 21, batchMs: 25, warmupMs: 150 };
const NOBLE_OPTS: MeasureOptions = { batches: 11, batchMs: 60, warmupMs: 300 };

/** The required figures (see bench/README.md). */
export async function scrambleFigures(): Promise<Figure[]> {
  const sodium = getCrypto('sodium');
  const noble = getCrypto('noble');
  const f = fixture(sodium);

  // The backends must agree byte for byte, or the noble figures time something else.
  const a = unwrapPacket(sodium, DEFAULT_GEOMETRY, (f.hops[0] as Keypair).priv, f.packets[0] as Uint8Array);
  const b = unwrapPacket(noble, DEFAULT_GEOMETRY, (f.hops[0] as Keypair).priv, f.packets[0] as Uint8Array);
  if (a.kind !== 'forward' || b.kind !== 'forward' || !sodium.equal(a.packet, b.packet)) {
    throw new Error('bench: sodium and noble unwrap disagree');
  }

  const rng = systemRng(sodium);
  const sealMsg = sodium.randomBytes(256);
  const sealTo = cycle(f.points);
  const s = measureInterleaved(
    {
      x25519: x25519Case(sodium, f),
      unwrap: unwrapCase(sodium, f),
      create: () => createPacket(sodium, DEFAULT_GEOMETRY, f.route, f.body, rng),
      seal: () => seal(sodium, sealTo(), sealMsg, rng),
      fanoutCopy: fanoutCopyCase(sodium, f),
    },
    SODIUM_OPTS,
  );
  const n = measureInterleaved({ x25519: x25519Case(noble, f), unwrap: unwrapCase(noble, f) }, NOBLE_OPTS);

  return [
    figure('x25519_us', round(s.x25519.us), 'us'),
    figure('unwrap_us', round(s.unwrap.us), 'us'),
    ...pairedRatio('unwrap_ratio', s.unwrap, s.x25519),
    figure('create_us', round(s.create.us), 'us'),
    ...pairedRatio('create_ratio', s.create, s.x25519),
    figure('seal_us', round(s.seal.us), 'us'),
    figure('fanout_copy_us', round(s.fanoutCopy.us), 'us'),
    ...pairedRatio('fanout_copy_ratio', s.fanoutCopy, s.x25519),
    figure('scramble_rounds', s.x25519.samples.length, 'rounds'),
    figure('x25519_us_noble', round(n.x25519.us), 'us'),
    figure('unwrap_us_noble', round(n.unwrap.us), 'us'),
    ...pairedRatio('unwrap_ratio_noble', n.unwrap, n.x25519),
    figure('scramble_rounds_noble', n.x25519.samples.length, 'rounds'),
  ];
}

/**
 * Opt-in (`--only unwrap-breakdown`): the steps of one relay-hop unwrapPacket
 * (sodium) timed one by one, in the order unwrapPacket runs them, to see
 * what bounds unwrap_ratio. `sum` adds the steps (X25519 twice); `residual`
 * is what the whole call costs beyond its parts (argument checks, object
 * literals, exceptions set-up, cache effects).
 */
export async function unwrapBreakdownFigures(): Promise<Figure[]> {
  const crypto = getCrypto('sodium');
  const f = fixture(crypto);
  const g = DEFAULT_GEOMETRY;
  const B = g.betaBytes;
  const priv = (f.hops[0] as Keypair).priv;
  const zeroNonce = new Uint8Array(12);

  // Precompute per-packet intermediates so each step is timed on its own inputs.
  const steps = f.packets.map((p) => {
    const alpha = p.subarray(1, 33);
    const beta = p.subarray(33, 33 + B);
    const gamma = p.subarray(33 + B, g.headerBytes);
    const shared = crypto.x25519(priv, alpha);
    const keys = deriveHopKeys(crypto, shared);
    const routing = new Uint8Array(B + SLOT_BYTES);
    routing.set(beta);
    crypto.chacha20Xor(keys.headerKey, zeroNonce, routing, routing);
    // A private copy per packet: the Lioness step decrypts it in place over and over.
    return { p, alpha, beta, gamma, shared, keys, routing, payload: p.slice(g.headerBytes) };
  });
  const next = cycle(steps);
  const oneByte = new Uint8Array(1);
  const key32 = crypto.randomBytes(32);

  const m = measureInterleaved(
    {
      unwrap: unwrapCase(crypto, f),
      x25519: () => {
        const st = next();
        return crypto.x25519(priv, st.alpha);
      },
      kdf: () => deriveHopKeys(crypto, next().shared),
      mac: () => {
        const st = next();
        return crypto.equal(crypto.blake2b(st.beta, MAC_BYTES, st.keys.macKey), st.gamma);
      },
      headerChacha: () => {
        const st = next();
        const routing = new Uint8Array(B + SLOT_BYTES);
        routing.set(st.beta, 0);
        return crypto.chacha20Xor(st.keys.headerKey, zeroNonce, routing, routing);
      },
      command: () => decodeCommand(next().routing.subarray(0, COMMAND_BYTES)),
      lioness: () => {
        const st = next();
        lionessDecryptInPlace(crypto, st.keys.payloadKey, st.payload);
        return st.payload;
      },
      assemble: () => {
        const st = next();
        // Allocation and copies: the outgoing packet, the payload copied into it, the header.
        const out = new Uint8Array(g.packetSize);
        out.set(st.p.subarray(g.headerBytes), g.headerBytes);
        out[0] = 1;
        out.set(st.alpha, 1);
        out.set(st.routing.subarray(SLOT_BYTES, SLOT_BYTES + B), 33);
        out.set(st.routing.subarray(COMMAND_BYTES, SLOT_BYTES), 33 + B);
        return [out, st.keys.replayTag.slice()];
      },
      nativeCall: () => crypto.blake2b(oneByte, 32, key32),
    },
    { batches: 21, batchMs: 15, warmupMs: 100 },
  );
  const parts = 2 * m.x25519.us + m.kdf.us + m.mac.us + m.headerChacha.us + m.command.us + m.lioness.us;
  const sum = parts + m.assemble.us;
  const out = [
    figure('unwrap_part_unwrap_us', round(m.unwrap.us), 'us'),
    figure('unwrap_part_x25519_x2_us', round(2 * m.x25519.us), 'us'),
    figure('unwrap_part_kdf_us', round(m.kdf.us), 'us'),
    figure('unwrap_part_mac_us', round(m.mac.us), 'us'),
    figure('unwrap_part_header_chacha_us', round(m.headerChacha.us), 'us'),
    figure('unwrap_part_command_us', round(m.command.us), 'us'),
    figure('unwrap_part_lioness_us', round(m.lioness.us), 'us'),
    figure('unwrap_part_assemble_us', round(m.assemble.us), 'us'),
    figure('unwrap_part_sum_us', round(sum), 'us'),
    figure('unwrap_part_residual_us', round(m.unwrap.us - sum), 'us'),
    figure('unwrap_part_native_call_us', round(m.nativeCall.us), 'us'),
    figure('unwrap_part_non_x25519_ratio', round((m.unwrap.us - 2 * m.x25519.us) / m.x25519.us, 3), 'x25519'),
  ];
  return out;
}

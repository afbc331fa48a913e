/**
 * Writes the frozen test vectors next to this file. Run once, with the sodium backend:
 *
 *   npx tsx test/vectors/generate.ts
 *
 * and commit the JSON. Re-running must reproduce the same files byte for byte (everything is
 * derived from fixed seeds via seededRng); if it does not, the wire format changed and the
 * vectors must not be silently regenerated.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  clampedRepresentative,
  clampedScalarModOrder,
  mulModOrder,
  scalarToBytes,
} from '../../src/scramble/crypto/scalar25519.js';
import {
  createPacket,
  createSurb,
  encodeSurb,
  getCrypto,
  type HopCommand,
  openSeal,
  openSurbReply,
  packetGeometry,
  type RouteHop,
  seal,
  seededRng,
  type UnwrapResult,
  unwrapPacket,
  useSurb,
} from '../../src/scramble/index.js';
import { deriveHopKeys } from '../../src/scramble/kdf.js';
import { lionessDecrypt, lionessEncrypt } from '../../src/scramble/lioness.js';
import {
  commandToJson,
  type KdfVectors,
  type LionessVectors,
  type NodeJson,
  type PacketCaseJson,
  resultToJson,
  type SealedBoxVectors,
  type SenderJson,
  type SphinxVectors,
  type SurbCaseJson,
} from './format.js';

const crypto = getCrypto('sodium');
if (crypto.name !== 'sodium') throw new Error('vectors must be generated with the sodium backend');

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const rngFor = (label: string) => seededRng(crypto, text(label));

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`generator self-check failed: ${what}`);
}

interface Node {
  id: Uint8Array;
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

function nodesFor(name: string, n: number): Node[] {
  const rng = rngFor(`mixd/vectors/${name}/nodes`);
  return Array.from({ length: n }, () => {
    const privateKey = rng(32);
    return { id: rng(16), privateKey, publicKey: crypto.x25519Base(privateKey) };
  });
}

const nodeJson = (n: Node): NodeJson => ({ id: hex(n.id), privateKey: hex(n.privateKey), publicKey: hex(n.publicKey) });

function route(nodes: Node[], delays: number[], final: HopCommand): RouteHop[] {
  return nodes.map((node, i) => ({
    publicKey: node.publicKey,
    command: i < nodes.length - 1 ? { kind: 'relay', next: (nodes[i + 1] as Node).id, delayMs: delays[i] ?? 0 } : final,
  }));
}

/** Unwrap results at each node, and the packet each node received. */
function walk(
  geometry: ReturnType<typeof packetGeometry>,
  nodes: Node[],
  packet: Uint8Array,
): { results: UnwrapResult[]; inputs: Uint8Array[] } {
  const results: UnwrapResult[] = [];
  const inputs: Uint8Array[] = [];
  let cur = packet;
  for (const node of nodes) {
    inputs.push(cur);
    const r = unwrapPacket(crypto, geometry, node.privateKey, cur);
    results.push(r);
    if (r.kind === 'forward') cur = r.packet;
  }
  return { results, inputs };
}

/** Header intermediates (format.ts SenderJson), computed from the mix side's view of the walk. */
function senderJson(seed: Uint8Array, nodes: Node[], inputs: Uint8Array[]): SenderJson {
  const x = seededRng(crypto, seed)(32);
  let accumulated = clampedScalarModOrder(x);
  const hops = nodes.map((node, i) => {
    const alpha = (inputs[i] as Uint8Array).subarray(1, 33);
    const shared = crypto.x25519(node.privateKey, alpha);
    const scalar = i === 0 ? x : clampedRepresentative(accumulated);
    check(scalar !== undefined, 'a representative exists');
    check(hex(crypto.x25519(scalar as Uint8Array, node.publicKey)) === hex(shared), `hop ${i}: sender and mix agree`);
    const hop = {
      accumulated: hex(scalarToBytes(accumulated)),
      scalar: hex(scalar as Uint8Array),
      shared: hex(shared),
    };
    accumulated = mulModOrder(accumulated, clampedScalarModOrder(deriveHopKeys(crypto, shared).blinding));
    return hop;
  });
  return { x: hex(x), hops };
}

function packetCase(
  name: string,
  size: [number, number],
  n: number,
  delays: number[],
  final: (rng: ReturnType<typeof rngFor>) => HopCommand,
  bodyLength: number | 'max',
): PacketCaseJson {
  const geometry = packetGeometry(...size);
  const nodes = nodesFor(name, n);
  const fieldRng = rngFor(`mixd/vectors/${name}/fields`);
  const cmd = final(fieldRng);
  const body = fieldRng(bodyLength === 'max' ? geometry.bodyBytes : bodyLength);
  const r = route(nodes, delays, cmd);
  const seed = text(`mixd/vectors/${name}/packet`);
  const packet = createPacket(crypto, geometry, r, body, seededRng(crypto, seed));
  const { results, inputs } = walk(geometry, nodes, packet);
  const last = results[results.length - 1] as UnwrapResult;
  check(last.kind === cmd.kind, `${name} ends in ${cmd.kind}`);
  if ('body' in last) {
    check(hex(last.body.subarray(0, body.length)) === hex(body), `${name} body`);
    check(
      last.body.subarray(body.length).every((b) => b === 0),
      `${name} padding`,
    );
  }
  return {
    type: 'packet',
    name,
    packetSize: geometry.packetSize,
    maxHops: geometry.maxHops,
    seed: hex(seed),
    nodes: nodes.map(nodeJson),
    route: r.map((h) => commandToJson(h.command)),
    body: hex(body),
    sender: senderJson(seed, nodes, inputs),
    packet: hex(packet),
    hops: results.map((res) => resultToJson(res, body.length)),
  };
}

function surbCase(name: string, n: number, delays: number[], replyLength: number): SurbCaseJson {
  const geometry = packetGeometry();
  const nodes = nodesFor(name, n);
  const fieldRng = rngFor(`mixd/vectors/${name}/fields`);
  const mailbox = fieldRng(16);
  const surbId = fieldRng(16);
  const replyBody = fieldRng(replyLength);
  const r = route(nodes, delays, { kind: 'surbReply', mailbox, surbId });
  const seed = text(`mixd/vectors/${name}/surb`);
  const firstHop = (nodes[0] as Node).id;
  const { surb, secret } = createSurb(crypto, geometry, firstHop, r, seededRng(crypto, seed));
  const packet = useSurb(crypto, geometry, surb, replyBody);
  const { results, inputs } = walk(geometry, nodes, packet);
  const last = results[results.length - 1] as UnwrapResult;
  check(last.kind === 'surbReply', `${name} ends in surbReply`);
  if (last.kind === 'surbReply') {
    const opened = openSurbReply(crypto, geometry, secret, last.payload);
    check(hex(opened.subarray(0, replyLength)) === hex(replyBody), `${name} reply opens`);
  }
  return {
    type: 'surb',
    name,
    packetSize: geometry.packetSize,
    maxHops: geometry.maxHops,
    seed: hex(seed),
    nodes: nodes.map(nodeJson),
    route: r.map((h) => commandToJson(h.command)),
    firstHop: hex(firstHop),
    surb: hex(encodeSurb(surb)),
    secret: {
      surbId: hex(secret.surbId),
      replyKey: hex(secret.replyKey),
      payloadKeys: secret.payloadKeys.map(hex),
    },
    replyBody: hex(replyBody),
    sender: senderJson(seed, nodes, inputs),
    packet: hex(packet),
    hops: results.map((res) => resultToJson(res, replyLength)),
  };
}

const sphinx: SphinxVectors = {
  description:
    'Sphinx packets (v2 key schedule: BLAKE2b extract, ChaCha20 expand; sender accumulates blinding scalars ' +
    'mod l) from fixed seeds: createPacket/createSurb with seededRng(seed) must give `packet` (for SURBs: ' +
    'encodeSurb = `surb`, useSurb(surb, replyBody) = `packet`); unwrapping at nodes[i] gives hops[i]; ' +
    '`sender` holds the header intermediates of docs/protocol.md section 3 step 1.',
  backend: crypto.name,
  cases: [
    packetCase(
      'relay5-deliver',
      [2048, 5],
      5,
      [0, 250, 1000, 0xffffffff],
      (rng) => ({ kind: 'deliver', mailbox: rng(16) }),
      64,
    ),
    packetCase('relay3-fanout-fullbody', [2048, 5], 3, [7, 3600000], () => ({ kind: 'fanout' }), 'max'),
    surbCase('surb3', 3, [12, 34], 100),
    packetCase('drop2-1024x6', [1024, 6], 2, [5], () => ({ kind: 'drop' }), 0),
    packetCase('deliverToken1', [2048, 5], 1, [], () => ({ kind: 'deliverToken' }), 48),
  ],
};

const sealRng = rngFor('mixd/vectors/sealed-box/fields');
const sealedBox: SealedBoxVectors = {
  description:
    'libsodium crypto_box_seal format. seal(publicKey, message, seededRng(seed)) = sealed; ' +
    'openSeal(publicKey, secretKey, sealed) = message.',
  backend: crypto.name,
  cases: [0, 1, 32, 300].map((len, i) => {
    const secretKey = sealRng(32);
    const publicKey = crypto.x25519Base(secretKey);
    const message = sealRng(len);
    const seed = text(`mixd/vectors/sealed-box/${i}`);
    const sealed = seal(crypto, publicKey, message, seededRng(crypto, seed));
    check(hex(openSeal(crypto, publicKey, secretKey, sealed) ?? new Uint8Array([1])) === hex(message), 'seal opens');
    return {
      seed: hex(seed),
      secretKey: hex(secretKey),
      publicKey: hex(publicKey),
      message: hex(message),
      sealed: hex(sealed),
    };
  }),
};

const lionessRng = rngFor('mixd/vectors/lioness');
const lioness: LionessVectors = {
  description: 'Lioness over L(32) || R: lionessEncrypt(key, plaintext) = ciphertext.',
  backend: crypto.name,
  cases: [33, 64, 257, packetGeometry().payloadBytes].map((len) => {
    const key = lionessRng(128);
    const plaintext = lionessRng(len);
    const ciphertext = lionessEncrypt(crypto, key, plaintext);
    check(hex(lionessDecrypt(crypto, key, ciphertext)) === hex(plaintext), 'lioness round trip');
    return { key: hex(key), plaintext: hex(plaintext), ciphertext: hex(ciphertext) };
  }),
};

const kdfRng = rngFor('mixd/vectors/kdf');
const sharedSecrets = [kdfRng(32), kdfRng(32), new Uint8Array(32).fill(0xff)];
const a = kdfRng(32);
const b = kdfRng(32);
sharedSecrets.push(crypto.x25519(a, crypto.x25519Base(b)));
const kdf: KdfVectors = {
  description:
    'deriveHopKeys(shared) per hop (v2: PRK = BLAKE2b-256(key = label, s), M = ChaCha20(PRK, nonce "mixd/hopkeys") ' +
    'keystream of 256 bytes); seededRng(seed) drawing `draws` bytes in turn returns `output` (crosses a 4096-byte block).',
  backend: crypto.name,
  hopKeys: sharedSecrets.map((shared) => {
    const k = deriveHopKeys(crypto, shared);
    return {
      shared: hex(shared),
      headerKey: hex(k.headerKey),
      macKey: hex(k.macKey),
      payloadKey: hex(k.payloadKey),
      blinding: hex(k.blinding),
      replayTag: hex(k.replayTag),
    };
  }),
  rng: [
    { seed: 'mixd/vectors/rng/a', draws: [1, 31, 64] },
    { seed: 'mixd/vectors/rng/b', draws: [4090, 12, 30] },
  ].map(({ seed, draws }) => {
    const rng = seededRng(crypto, text(seed));
    const chunks = draws.map((n) => rng(n));
    const all = Buffer.concat(chunks);
    return { seed: hex(text(seed)), draws, output: hex(all) };
  }),
};

const written: string[] = [];
const write = (file: string, value: unknown): void => {
  const path = fileURLToPath(new URL(file, import.meta.url));
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
  written.push(path);
  console.log(`wrote ${path}`);
};
write('./sphinx.json', sphinx);
write('./sealed_box.json', sealedBox);
write('./lioness.json', lioness);
write('./kdf.json', kdf);
// The repository's formatter owns the layout of JSON files too; apply it so that `biome check` passes
// and a re-run reproduces the committed files exactly.
const biome = spawnSync('npx', ['biome', 'format', '--write', ...written], { stdio: 'inherit' });
if (biome.status !== 0) throw new Error('biome format failed');

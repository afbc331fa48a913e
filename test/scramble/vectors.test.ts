/**
 * The frozen vectors of test/vectors (written once by test/vectors/generate.ts with the sodium
 * backend) must be reproduced byte for byte by BOTH backends.
 */
import { readFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import {
  clampedRepresentative,
  clampedScalarModOrder,
  mulModOrder,
  scalarToBytes,
} from '../../src/scramble/crypto/scalar25519.js';
import {
  type CryptoBackend,
  createPacket,
  createSurb,
  decodeSurb,
  encodeSurb,
  MalformedPacket,
  openSeal,
  openSurbReply,
  type PacketGeometry,
  packetGeometry,
  seal,
  seededRng,
  type UnwrapResult,
  unwrapPacket,
  useSurb,
} from '../../src/scramble/index.js';
import { deriveHopKeys } from '../../src/scramble/kdf.js';
import { lionessDecrypt, lionessEncrypt } from '../../src/scramble/lioness.js';
import {
  commandFromJson,
  type KdfVectors,
  type LionessVectors,
  type NodeJson,
  type PacketCaseJson,
  type ResultJson,
  type SealedBoxVectors,
  type SphinxVectors,
  type SurbCaseJson,
} from '../vectors/format.js';
import { BACKENDS, flipBit, hex, isAllZero, labelRng, randomInt, unhex } from './helpers.js';

function load<T>(file: string): T {
  return JSON.parse(readFileSync(new URL(`../vectors/${file}`, import.meta.url), 'utf8')) as T;
}

const sphinx = load<SphinxVectors>('sphinx.json');
const sealedBox = load<SealedBoxVectors>('sealed_box.json');
const lioness = load<LionessVectors>('lioness.json');
const kdf = load<KdfVectors>('kdf.json');

t.test('the vector files have the promised content', async (t) => {
  const names = sphinx.cases.map((c) => c.name);
  t.same(names, ['relay5-deliver', 'relay3-fanout-fullbody', 'surb3', 'drop2-1024x6', 'deliverToken1']);
  const byName = new Map(sphinx.cases.map((c) => [c.name, c]));
  t.equal(byName.get('relay5-deliver')?.nodes.length, 5);
  t.equal(byName.get('relay5-deliver')?.hops.at(-1)?.kind, 'deliver');
  t.equal(byName.get('relay3-fanout-fullbody')?.hops.at(-1)?.kind, 'fanout');
  t.equal(byName.get('surb3')?.type, 'surb');
  t.equal(byName.get('drop2-1024x6')?.hops.at(-1)?.kind, 'drop');
  for (const c of sphinx.cases) t.equal(c.hops.length, c.nodes.length, `${c.name}: one result per hop`);
  t.ok(sealedBox.cases.length >= 3 && lioness.cases.length >= 3 && kdf.hopKeys.length >= 3 && kdf.rng.length >= 1);
});

/** Compares one hop's result with its JSON; returns a list of mismatches (empty = match). */
function diffResult(r: UnwrapResult, want: ResultJson): string[] {
  const bad: string[] = [];
  const eq = (what: string, got: unknown, exp: unknown) => {
    if (got !== exp) bad.push(`${what}: got ${String(got).slice(0, 80)}, want ${String(exp).slice(0, 80)}`);
  };
  eq('kind', r.kind, want.kind);
  eq('replayTag', hex(r.replayTag), want.replayTag);
  if (r.kind !== want.kind) return bad;
  switch (r.kind) {
    case 'forward':
      eq('next', hex(r.next), want.next);
      eq('delayMs', r.delayMs, want.delayMs);
      eq('packet', hex(r.packet), want.packet);
      break;
    case 'surbReply':
      eq('mailbox', hex(r.mailbox), want.mailbox);
      eq('surbId', hex(r.surbId), want.surbId);
      eq('payload', hex(r.payload), want.payload);
      break;
    case 'drop':
      break;
    default: {
      if (r.kind === 'deliver') eq('mailbox', hex(r.mailbox), want.mailbox);
      const prefix = unhex(want.body as string);
      eq('body length', r.body.length, want.bodyLength);
      eq('body', hex(r.body.subarray(0, prefix.length)), want.body);
      eq('body padding is zero', isAllZero(r.body.subarray(prefix.length)), true);
    }
  }
  return bad;
}

/** Unwraps c.packet through c.nodes; `report(mismatches, message)` is called once per hop. */
function checkHops(
  report: (mismatches: string[], message: string) => void,
  crypto: CryptoBackend,
  geometry: PacketGeometry,
  c: PacketCaseJson | SurbCaseJson,
): UnwrapResult | undefined {
  let input = unhex(c.packet);
  let last: UnwrapResult | undefined;
  c.hops.forEach((want, i) => {
    const node = c.nodes[i];
    if (!node) throw new Error(`${c.name}: no node ${i}`);
    last = unwrapPacket(crypto, geometry, unhex(node.privateKey), input);
    report(diffResult(last, want), `${c.name} hop ${i}: unwrap gives the stored ${want.kind} result`);
    if (last.kind === 'forward') input = last.packet;
  });
  return last;
}

/**
 * The header intermediates: the sender's accumulated scalars give, with one X25519 each, the shared
 * secret every mix derives from the α it receives.
 */
function checkSender(t: Test, crypto: CryptoBackend, c: PacketCaseJson | SurbCaseJson): void {
  t.equal(hex(seededRng(crypto, unhex(c.seed))(32)), c.sender.x, `${c.name}: x is the first draw`);
  t.equal(c.sender.hops.length, c.nodes.length, `${c.name}: one sender entry per hop`);
  let accumulated = clampedScalarModOrder(unhex(c.sender.x));
  let input = unhex(c.packet);
  c.sender.hops.forEach((hop, i) => {
    const node = c.nodes[i] as NodeJson;
    const mix = crypto.x25519(unhex(node.privateKey), input.subarray(1, 33));
    t.equal(hex(mix), hop.shared, `${c.name} hop ${i}: X25519(priv, α) is the stored shared secret`);
    t.equal(hex(scalarToBytes(accumulated)), hop.accumulated, `${c.name} hop ${i}: accumulated scalar`);
    const scalar = i === 0 ? unhex(c.sender.x) : clampedRepresentative(accumulated);
    t.equal(scalar && hex(scalar), hop.scalar, `${c.name} hop ${i}: the sender's X25519 scalar`);
    t.equal(
      hex(crypto.x25519(unhex(hop.scalar), unhex(node.publicKey))),
      hop.shared,
      `${c.name} hop ${i}: sender side`,
    );
    accumulated = mulModOrder(accumulated, clampedScalarModOrder(deriveHopKeys(crypto, mix).blinding));
    const r = unwrapPacket(crypto, packetGeometry(c.packetSize, c.maxHops), unhex(node.privateKey), input);
    if (r.kind === 'forward') input = r.packet;
  });
}

for (const crypto of BACKENDS) {
  t.test(`sphinx header intermediates, ${crypto.name} backend`, async (t) => {
    for (const c of sphinx.cases) checkSender(t, crypto, c);
  });

  t.test(`sphinx vectors, ${crypto.name} backend`, async (t) => {
    const report = (mismatches: string[], message: string) => t.same(mismatches, [], message);
    for (const c of sphinx.cases) {
      const geometry = packetGeometry(c.packetSize, c.maxHops);
      for (const node of c.nodes) {
        t.equal(hex(crypto.x25519Base(unhex(node.privateKey))), node.publicKey, `${c.name}: node public key`);
      }
      const route = c.nodes.map((node, i) => ({
        publicKey: unhex(node.publicKey),
        command: commandFromJson(c.route[i] as PacketCaseJson['route'][number]),
      }));
      const rng = seededRng(crypto, unhex(c.seed));
      if (c.type === 'packet') {
        const packet = createPacket(crypto, geometry, route, unhex(c.body), rng);
        t.equal(hex(packet), c.packet, `${c.name}: createPacket reproduces the stored bytes`);
        checkHops(report, crypto, geometry, c);
      } else {
        const { surb, secret } = createSurb(crypto, geometry, unhex(c.firstHop), route, rng);
        t.equal(hex(encodeSurb(surb)), c.surb, `${c.name}: createSurb reproduces the stored SURB`);
        t.same(
          {
            surbId: hex(secret.surbId),
            replyKey: hex(secret.replyKey),
            payloadKeys: secret.payloadKeys.map(hex),
          },
          c.secret,
          `${c.name}: createSurb reproduces the stored secret`,
        );
        const reply = useSurb(crypto, geometry, decodeSurb(geometry, unhex(c.surb)), unhex(c.replyBody));
        t.equal(hex(reply), c.packet, `${c.name}: useSurb reproduces the stored reply packet`);
        const last = checkHops(report, crypto, geometry, c);
        if (last?.kind !== 'surbReply') {
          t.fail(`${c.name}: last hop should be surbReply`);
          continue;
        }
        const storedSecret = {
          surbId: unhex(c.secret.surbId),
          replyKey: unhex(c.secret.replyKey),
          payloadKeys: c.secret.payloadKeys.map(unhex),
        };
        const opened = openSurbReply(crypto, geometry, storedSecret, last.payload);
        const body = unhex(c.replyBody);
        t.equal(hex(opened.subarray(0, body.length)), c.replyBody, `${c.name}: openSurbReply gives the reply body`);
        t.ok(isAllZero(opened.subarray(body.length)), `${c.name}: reply padding is zero`);
      }
    }
  });

  t.test(`sealed box vectors, ${crypto.name} backend`, async (t) => {
    for (const [i, c] of sealedBox.cases.entries()) {
      t.equal(hex(crypto.x25519Base(unhex(c.secretKey))), c.publicKey, `case ${i}: public key`);
      const sealed = seal(crypto, unhex(c.publicKey), unhex(c.message), seededRng(crypto, unhex(c.seed)));
      t.equal(hex(sealed), c.sealed, `case ${i}: seal reproduces the stored box`);
      const opened = openSeal(crypto, unhex(c.publicKey), unhex(c.secretKey), unhex(c.sealed));
      t.equal(opened === null ? null : hex(opened), c.message, `case ${i}: openSeal gives the message`);
    }
  });

  t.test(`lioness vectors, ${crypto.name} backend`, async (t) => {
    for (const [i, c] of lioness.cases.entries()) {
      const key = unhex(c.key);
      t.equal(hex(lionessEncrypt(crypto, key, unhex(c.plaintext))), c.ciphertext, `case ${i}: encrypt`);
      t.equal(hex(lionessDecrypt(crypto, key, unhex(c.ciphertext))), c.plaintext, `case ${i}: decrypt`);
    }
  });

  t.test(`kdf and seededRng vectors, ${crypto.name} backend`, async (t) => {
    for (const [i, { shared, ...want }] of kdf.hopKeys.entries()) {
      const k = deriveHopKeys(crypto, unhex(shared));
      t.same(
        {
          headerKey: hex(k.headerKey),
          macKey: hex(k.macKey),
          payloadKey: hex(k.payloadKey),
          blinding: hex(k.blinding),
          replayTag: hex(k.replayTag),
        },
        want,
        `hop keys ${i}`,
      );
    }
    for (const c of kdf.rng) {
      const rng = seededRng(crypto, unhex(c.seed));
      const out = Buffer.concat(c.draws.map((n) => rng(n)));
      t.equal(out.toString('hex'), c.output, `seededRng draws ${c.draws.join(',')}`);
    }
  });
}

/** What unwrapping `packet` at `key` throws: the MalformedPacket reason, or 'returned'. */
function reasonOf(crypto: CryptoBackend, geometry: PacketGeometry, key: Uint8Array, packet: Uint8Array): string {
  try {
    unwrapPacket(crypto, geometry, key, packet);
    return 'returned';
  } catch (err) {
    return err instanceof MalformedPacket ? err.reason : String(err);
  }
}

for (const crypto of BACKENDS) {
  t.test(`the stored packets: a flipped header bit is refused at the first hop (${crypto.name})`, async (t) => {
    const pick = labelRng(crypto, 'vectors/bit-flips');
    for (const c of sphinx.cases) {
      const geometry = packetGeometry(c.packetSize, c.maxHops);
      const packet = unhex(c.packet);
      const key = unhex((c.nodes[0] as NodeJson).privateKey);
      const headerBits = geometry.headerBytes * 8;
      // Every bit with sodium; noble is ~30 times slower per X25519, so a random sample of 48.
      const bits =
        crypto.name === 'sodium'
          ? Array.from({ length: headerBits }, (_, i) => i)
          : Array.from({ length: 48 }, () => randomInt(pick, headerBits));
      const wrong: string[] = [];
      for (const bit of bits) {
        const reason = reasonOf(crypto, geometry, key, flipBit(packet, bit));
        const allowed = bit < 8 ? ['bad_version'] : bit < 33 * 8 ? ['bad_mac', 'bad_point'] : ['bad_mac'];
        if (!allowed.includes(reason)) wrong.push(`bit ${bit}: ${reason}`);
      }
      t.same(wrong, [], `${c.name}: ${bits.length} header bits`);
    }
  });

  t.test(`the stored packets: a flipped payload bit fails the zero tag at the end (${crypto.name})`, async (t) => {
    const pick = labelRng(crypto, 'vectors/payload-flips');
    for (const c of sphinx.cases) {
      const geometry = packetGeometry(c.packetSize, c.maxHops);
      const wrong: string[] = [];
      for (let k = 0; k < (crypto.name === 'sodium' ? 24 : 3); k++) {
        const bit = geometry.headerBytes * 8 + randomInt(pick, geometry.payloadBytes * 8);
        let cur = flipBit(unhex(c.packet), bit);
        let outcome = 'returned';
        for (const node of c.nodes) {
          try {
            const r = unwrapPacket(crypto, geometry, unhex(node.privateKey), cur);
            if (r.kind === 'forward') cur = r.packet;
            else if (r.kind === 'surbReply') {
              // The reply's creator checks the tag (protocol §7).
              const secret = c.type === 'surb' ? c.secret : undefined;
              if (!secret) throw new Error('surbReply in a packet case');
              openSurbReply(crypto, geometry, mapSecret(secret), r.payload);
            }
          } catch (err) {
            outcome = err instanceof MalformedPacket ? err.reason : String(err);
            break;
          }
        }
        if (outcome !== 'bad_payload_tag') wrong.push(`bit ${bit}: ${outcome}`);
      }
      t.same(wrong, [], `${c.name}: modified payloads are caught by the zero tag`);
    }
  });
}

function mapSecret(s: SurbCaseJson['secret']) {
  return { surbId: unhex(s.surbId), replyKey: unhex(s.replyKey), payloadKeys: s.payloadKeys.map(unhex) };
}

import fc from 'fast-check';
import t from 'tap';
import { MalformedFanout } from '../../src/group/errors.js';
import {
  buildFanoutBodies,
  decodeFanout,
  fanoutCopies,
  openDeliveredCopy,
  openDeliveredCopyWithKeys,
  openDeliveredPayload,
  recipientsByCentral,
  tokensPerPacket,
} from '../../src/group/fanout.js';
import { maxDatagramBytes, openGroupMessage, sealGroupMessage } from '../../src/group/groupMessage.js';
import { mailboxIdOf } from '../../src/node/ids.js';
import { DEFAULT_GEOMETRY, packetGeometry } from '../../src/scramble/geometry.js';
import { SEAL_OVERHEAD } from '../../src/scramble/sealedBox.js';
import { makeGroup } from './fixtures.js';
import { crypto, mutated, NOW, onlyTyped, rng, throwsA } from './helpers.js';

const geometry = DEFAULT_GEOMETRY;
const csSecret = rng(32);
const csPublic = crypto.x25519Base(csSecret);
const { ids, states } = makeGroup(3);
const sender = ids[0]!;
const stranger = makeGroup(1).states[0]!;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function padTo(body: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  out.set(body);
  return out;
}

/** Byte 8-grams (skipping all-zero ones): two unrelated ciphertexts share none. */
function grams(b: Uint8Array): Set<string> {
  const s = new Set<string>();
  for (let i = 0; i + 8 <= b.length; i++) {
    const g = b.subarray(i, i + 8);
    if (g.some((x) => x !== 0)) s.add(hex(g));
  }
  return s;
}

t.test('tokens per packet at the default geometry', async (t) => {
  const padded = sealGroupMessage(crypto, states[0]!, sender, 'data', new Uint8Array(256), rng);
  const unpadded = sealGroupMessage(crypto, states[0]!, sender, 'data', new Uint8Array(256), rng, { pad: false });
  const perPadded = tokensPerPacket(geometry, padded.c0.length);
  const perUnpadded = tokensPerPacket(geometry, unpadded.c0.length);
  t.comment(`bodyBytes=${geometry.bodyBytes} maxDatagramBytes=${maxDatagramBytes(geometry)}`);
  t.comment(
    `256-byte datagram: C0 ${padded.c0.length} B padded -> ${perPadded} tokens/packet; ${unpadded.c0.length} B unpadded -> ${perUnpadded}`,
  );
  t.ok(perPadded >= 8);
  t.equal(perPadded, 17);
  t.equal(perUnpadded, 18);
  const maxC0 = sealGroupMessage(crypto, states[0]!, sender, 'data', new Uint8Array(maxDatagramBytes(geometry)), rng);
  t.ok(tokensPerPacket(geometry, maxC0.c0.length) >= 1, 'even the largest datagram carries a token');
  t.equal(tokensPerPacket(geometry, maxC0.c0.length + 1), 0);
  // A small packet size still works, and the relationship holds for other geometries.
  for (const g of [packetGeometry(1024, 3), packetGeometry(4096, 5), packetGeometry(2048, 8)]) {
    const max = maxDatagramBytes(g);
    const m = sealGroupMessage(crypto, states[0]!, sender, 'data', new Uint8Array(max), rng, { geometry: g });
    const bodies = buildFanoutBodies(crypto, g, states[0]!.publicKey, m.c0, [rng(16)], csPublic, rng);
    const copy = fanoutCopies(crypto, decodeFanout(g, bodies[0]!), rng)[0]!;
    t.ok(copy.length <= g.bodyBytes, `copy fits at packetSize ${g.packetSize}`);
  }
});

for (const N of [3, 8, 32, 128]) {
  t.test(`fan-out to N=${N}: ceil(N/per) bodies, every mailbox exactly once, copies unrelated`, async (t) => {
    const group = states[0]!;
    const sent = sealGroupMessage(crypto, group, sender, 'data', new Uint8Array(256).fill(0x42), rng);
    const per = tokensPerPacket(geometry, sent.c0.length);
    const mailboxes = Array.from({ length: N }, () => rng(16));
    const bodies = buildFanoutBodies(crypto, geometry, group.publicKey, sent.c0, mailboxes, csPublic, rng);
    t.equal(bodies.length, Math.ceil(N / per));
    const delivered = new Map<string, number>();
    const copies: Uint8Array[] = [];
    for (const body of bodies) {
      t.ok(body.length <= geometry.bodyBytes);
      const bundle = decodeFanout(geometry, padTo(body, geometry.bodyBytes)); // P2 sees a padded body
      t.same(bundle.groupPublicKey, group.publicKey);
      for (const copy of fanoutCopies(crypto, bundle, rng)) {
        t.ok(copy.length <= geometry.bodyBytes);
        copies.push(copy);
        const { mailboxId, payload } = openDeliveredCopy(crypto, csPublic, csSecret, padTo(copy, geometry.bodyBytes));
        delivered.set(hex(mailboxId), (delivered.get(hex(mailboxId)) ?? 0) + 1);
        t.equal(payload.length, 2 + SEAL_OVERHEAD + sent.c0.length);
      }
    }
    t.equal(delivered.size, N);
    t.ok(
      mailboxes.every((m) => delivered.get(hex(m)) === 1),
      'each mailbox exactly once',
    );

    // Copies are bitwise unrelated (fresh token and fresh re-seal each), also to the original C0.
    const c0Grams = grams(sent.c0);
    const seen = new Set<string>();
    for (const copy of copies.slice(0, 16)) {
      const g = grams(copy);
      let shared = 0;
      for (const x of g) if (seen.has(x) || c0Grams.has(x)) shared++;
      t.equal(shared, 0);
      for (const x of g) seen.add(x);
    }

    // Each target opens its copy: outer seal by trial decryption, then C0 into openGroupMessage.
    const target = states[1]!;
    for (const copy of copies.slice(0, 3)) {
      const { payload } = openDeliveredCopy(crypto, csPublic, csSecret, copy);
      const opened = openDeliveredPayload(crypto, [stranger, target], padTo(payload, 1000), NOW);
      t.equal(opened?.index, 1, 'trial decryption finds the right group');
      const msg = openGroupMessage(crypto, [target], opened!.c0, NOW);
      t.equal(msg?.body.length, 256);
      t.same(msg?.sender.identityKey, sender.identityKey);
    }
  });
}

t.test('recipientsByCentral leaves the sender out and groups by home CS', async (t) => {
  const r = recipientsByCentral(states[0]!, sender.identityKey, (k) => mailboxIdOf(crypto, k));
  t.equal(r.size, 1);
  const list = [...r.values()][0]!;
  t.equal(list.length, 2);
  t.same(list[0], mailboxIdOf(crypto, ids[1]!.identityKey));
});

t.test('bad bundles and copies are refused with MalformedFanout', async (t) => {
  const sent = sealGroupMessage(crypto, states[0]!, sender, 'data', new Uint8Array(10), rng);
  const body = buildFanoutBodies(crypto, geometry, states[0]!.publicKey, sent.c0, [rng(16)], csPublic, rng)[0]!;
  const lowOrder = body.slice();
  lowOrder.fill(0, 1, 33); // pub_G = 0, a low-order point
  throwsA(t, () => fanoutCopies(crypto, decodeFanout(geometry, lowOrder), rng), MalformedFanout);
  const nonZeroPad = padTo(body, geometry.bodyBytes);
  nonZeroPad[geometry.bodyBytes - 1] = 1;
  throwsA(t, () => decodeFanout(geometry, nonZeroPad), MalformedFanout, /padding/);
  throwsA(t, () => decodeFanout(geometry, new Uint8Array(geometry.bodyBytes + 1)), MalformedFanout);
  const copy = fanoutCopies(crypto, decodeFanout(geometry, body), rng)[0]!;
  const otherCs = rng(32);
  throwsA(t, () => openDeliveredCopy(crypto, crypto.x25519Base(otherCs), otherCs, copy), MalformedFanout, /token/);
  const ring = [
    { publicKey: crypto.x25519Base(otherCs), secretKey: otherCs },
    { publicKey: csPublic, secretKey: csSecret },
  ];
  t.equal(openDeliveredCopyWithKeys(crypto, ring, copy).mailboxId.length, 16, 'key ring: second key opens it');
  throwsA(
    t,
    () => buildFanoutBodies(crypto, geometry, states[0]!.publicKey, new Uint8Array(1600), [rng(16)], csPublic, rng),
    Error,
  );
});

t.test('fuzz: decodeFanout, openDeliveredCopy, openDeliveredPayload throw only typed errors', async () => {
  const sent = sealGroupMessage(crypto, states[0]!, sender, 'data', new Uint8Array(40), rng);
  const body = buildFanoutBodies(
    crypto,
    geometry,
    states[0]!.publicKey,
    sent.c0,
    [rng(16), rng(16)],
    csPublic,
    rng,
  )[0]!;
  const copy = fanoutCopies(crypto, decodeFanout(geometry, body), rng)[0]!;
  const { payload } = openDeliveredCopy(crypto, csPublic, csSecret, copy);
  fc.assert(
    fc.property(mutated(body), (b) =>
      onlyTyped(() => {
        const bundle = decodeFanout(geometry, b);
        fanoutCopies(crypto, bundle, rng);
      }),
    ),
    { numRuns: 1500 },
  );
  fc.assert(
    fc.property(mutated(copy), (b) => onlyTyped(() => openDeliveredCopy(crypto, csPublic, csSecret, b))),
    { numRuns: 800 },
  );
  fc.assert(
    fc.property(mutated(payload), (b) =>
      onlyTyped(() => {
        const opened = openDeliveredPayload(crypto, [states[1]!], b, NOW);
        if (opened) openGroupMessage(crypto, [states[1]!], opened.c0, NOW);
      }),
    ),
    { numRuns: 800 },
  );
});

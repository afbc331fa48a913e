/**
 * Single-use reply blocks: round trips, wire encoding, tamper and wrong-secret rejection.
 */
import fc from 'fast-check';
import t from 'tap';
import {
  type CryptoBackend,
  createSurb,
  decodeSurb,
  encodeSurb,
  DEFAULT_GEOMETRY as G,
  InvalidArgument,
  MalformedPacket,
  openSurbReply,
  type PacketGeometry,
  packetGeometry,
  surbBytes,
  type UnwrapResult,
  useSurb,
} from '../../src/scramble/index.js';
import {
  flipBit,
  hex,
  labelRng,
  type MixNode,
  makeNodes,
  noble,
  outcome,
  paddedBody,
  routeThrough,
  sodium,
  thrown,
  walk,
} from './helpers.js';

const rng = labelRng(sodium, 'surb.test');
const nodes = makeNodes(sodium, rng, 5);
const mailbox = rng(16);

function makeSurb(crypto: CryptoBackend, hops: MixNode[], geometry: PacketGeometry = G) {
  const surbId = rng(16);
  const route = routeThrough(hops, { kind: 'surbReply', mailbox, surbId });
  return { surbId, ...createSurb(crypto, geometry, hops[0]!.id, route, rng) };
}

/** Sends `body` through the SURB and returns the payload the last hop hands to the mailbox. */
function reply(crypto: CryptoBackend, hops: MixNode[], surbWire: Uint8Array, body: Uint8Array, geometry = G) {
  const packet = useSurb(crypto, geometry, decodeSurb(geometry, surbWire), body);
  const { inputs, results } = walk(crypto, geometry, hops, packet);
  return { packet, inputs, last: results[results.length - 1] as UnwrapResult };
}

t.test('SURB round trip over 1..5 hops (sodium)', async (t) => {
  for (let n = 1; n <= 5; n++) {
    const hops = nodes.slice(0, n);
    const { surb, secret, surbId } = makeSurb(sodium, hops);
    t.equal(hex(surb.firstHop), hex(hops[0]!.id), `${n} hops: firstHop is the first node`);
    const body = rng(50 * n);
    const { inputs, last } = reply(sodium, hops, encodeSurb(surb), body);
    t.ok(
      inputs.every((p) => p.length === G.packetSize),
      `${n} hops: the reply is a normal-sized packet at every hop`,
    );
    if (last.kind !== 'surbReply') {
      t.fail(`${n} hops: ended in ${last.kind}`);
      continue;
    }
    t.equal(hex(last.mailbox), hex(mailbox), `${n} hops: mailbox`);
    t.equal(hex(last.surbId), hex(surbId), `${n} hops: surbId`);
    t.equal(hex(secret.surbId), hex(surbId), `${n} hops: the secret remembers the surbId`);
    const opened = openSurbReply(sodium, G, secret, last.payload);
    t.equal(hex(opened), hex(paddedBody(body, G.bodyBytes)), `${n} hops: the creator reads the reply`);
  }
});

t.test('SURB round trip with noble (short route), and across backends', async (t) => {
  const hops = nodes.slice(0, 2);
  const body = new TextEncoder().encode('reply via noble');
  const { surb, secret } = makeSurb(noble, hops);
  const { last } = reply(noble, hops, encodeSurb(surb), body);
  t.equal(
    last.kind === 'surbReply' ? hex(openSurbReply(noble, G, secret, last.payload)) : last.kind,
    hex(paddedBody(body, G.bodyBytes)),
    'noble all the way',
  );
  // Created with sodium, carried and opened with noble; and the other way round.
  for (const [make, carry] of [
    [sodium, noble],
    [noble, sodium],
  ] as const) {
    const s = makeSurb(make, hops);
    const r = reply(carry, hops, encodeSurb(s.surb), body);
    t.equal(
      r.last.kind === 'surbReply' ? hex(openSurbReply(carry, G, s.secret, r.last.payload)) : r.last.kind,
      hex(paddedBody(body, G.bodyBytes)),
      `made with ${make.name}, used with ${carry.name}`,
    );
  }
});

t.test('encodeSurb / decodeSurb round trip', async (t) => {
  const geometries = [G, packetGeometry(1024, 6)];
  fc.assert(
    fc.property(
      fc.constantFrom(...geometries),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.uint8Array({ minLength: 128, maxLength: 128 }),
      fc.integer({ min: 0, max: 2 ** 31 }),
      (g, firstHop, replyKey, seed) => {
        const header = labelRng(sodium, `header ${seed}`)(g.headerBytes);
        const wire = encodeSurb({ firstHop, replyKey, header });
        const back = decodeSurb(g, wire);
        return (
          wire.length === surbBytes(g) &&
          hex(back.firstHop) === hex(firstHop) &&
          hex(back.replyKey) === hex(replyKey) &&
          hex(back.header) === hex(header) &&
          hex(encodeSurb(back)) === hex(wire)
        );
      },
    ),
    { numRuns: 100, seed: 0x5b },
  );
  t.pass('encode then decode is the identity, for two geometries');
  const { surb } = makeSurb(sodium, nodes.slice(0, 3));
  const wire = encodeSurb(surb);
  t.equal(wire.length, 16 + 128 + G.headerBytes);
  const decoded = decodeSurb(G, wire);
  wire.fill(0);
  t.not(hex(decoded.header), hex(new Uint8Array(G.headerBytes)), 'decodeSurb copies out of the wire buffer');
  for (const len of [0, wire.length - 1, wire.length + 1]) {
    t.equal(
      outcome(() => decodeSurb(G, new Uint8Array(len))),
      'bad_length',
      `length ${len}`,
    );
  }
});

t.test('a modified reply is rejected with bad_payload_tag', async (t) => {
  const hops = nodes.slice(0, 3);
  const { surb, secret } = makeSurb(sodium, hops);
  const body = rng(200);
  const wire = encodeSurb(surb);
  const wrong: string[] = [];
  // Bits flipped in the packet's payload before the first hop (a malicious link or hop).
  const { packet } = reply(sodium, hops, wire, body);
  for (let i = 0; i < 64; i++) {
    const bit = G.headerBytes * 8 + Math.floor((i * G.payloadBytes * 8) / 64) + (i % 8);
    const { results } = walk(sodium, G, hops, flipBit(packet, bit));
    const last = results[results.length - 1] as UnwrapResult;
    if (last.kind !== 'surbReply') {
      wrong.push(`bit ${bit}: last hop gave ${last.kind}`);
      continue;
    }
    const err = thrown(() => openSurbReply(sodium, G, secret, last.payload));
    if (!(err instanceof MalformedPacket) || err.reason !== 'bad_payload_tag') wrong.push(`bit ${bit}: ${String(err)}`);
  }
  // Bits flipped in the payload the last hop hands over.
  const { last } = reply(sodium, hops, wire, body);
  if (last.kind !== 'surbReply') throw new Error('expected surbReply');
  for (const bit of [0, 7, 127, 128, 255, 256, 1000, G.payloadBytes * 8 - 1]) {
    const r = outcome(() => openSurbReply(sodium, G, secret, flipBit(last.payload, bit)));
    if (r !== 'bad_payload_tag') wrong.push(`final payload bit ${bit}: ${r}`);
  }
  t.same(wrong, [], 'every modification is caught');
  t.equal(
    outcome(() => openSurbReply(sodium, G, secret, last.payload)),
    'returned',
    'the unmodified reply opens',
  );
  t.equal(
    outcome(() => openSurbReply(sodium, G, secret, last.payload.subarray(1))),
    'bad_length',
  );
});

t.test('a reply opened with the wrong secret fails', async (t) => {
  const hops = nodes.slice(0, 3);
  const a = makeSurb(sodium, hops);
  const b = makeSurb(sodium, hops);
  const { last } = reply(sodium, hops, encodeSurb(a.surb), rng(30));
  if (last.kind !== 'surbReply') throw new Error('expected surbReply');
  t.equal(
    outcome(() => openSurbReply(sodium, G, b.secret, last.payload)),
    'bad_payload_tag',
    "another SURB's secret",
  );
  t.equal(
    outcome(() => openSurbReply(sodium, G, { ...a.secret, payloadKeys: a.secret.payloadKeys.slice(1) }, last.payload)),
    'bad_payload_tag',
    'a hop key missing',
  );
  t.equal(
    outcome(() =>
      openSurbReply(sodium, G, { ...a.secret, payloadKeys: [...a.secret.payloadKeys].reverse() }, last.payload),
    ),
    'bad_payload_tag',
    'hop keys in the wrong order',
  );
  t.equal(
    outcome(() => openSurbReply(sodium, G, { ...a.secret, replyKey: b.secret.replyKey }, last.payload)),
    'bad_payload_tag',
    'wrong reply key',
  );
  t.equal(
    outcome(() => openSurbReply(sodium, G, a.secret, last.payload)),
    'returned',
    'the right secret works',
  );
});

t.test('a SURB used twice gives two packets with the same header (so hops flag the replay)', async (t) => {
  const hops = nodes.slice(0, 2);
  const { surb } = makeSurb(sodium, hops);
  const p1 = useSurb(sodium, G, surb, new Uint8Array([1]));
  const p2 = useSurb(sodium, G, surb, new Uint8Array([2]));
  t.equal(hex(p1.subarray(0, G.headerBytes)), hex(p2.subarray(0, G.headerBytes)));
  t.not(hex(p1.subarray(G.headerBytes)), hex(p2.subarray(G.headerBytes)));
});

t.test('createSurb and useSurb refuse impossible arguments', async (t) => {
  const hops = nodes.slice(0, 2);
  const notSurb = routeThrough(hops, { kind: 'deliver', mailbox });
  t.ok(
    thrown(() => createSurb(sodium, G, hops[0]!.id, notSurb, rng)) instanceof InvalidArgument,
    'route not ending in surbReply',
  );
  t.ok(thrown(() => createSurb(sodium, G, hops[0]!.id, [], rng)) instanceof InvalidArgument, 'empty route');
  const route = routeThrough(hops, { kind: 'surbReply', mailbox, surbId: rng(16) });
  t.ok(thrown(() => createSurb(sodium, G, rng(15), route, rng)) instanceof InvalidArgument, 'short firstHop');
  const { surb } = makeSurb(sodium, hops);
  t.ok(
    thrown(() => useSurb(sodium, G, surb, new Uint8Array(G.bodyBytes + 1))) instanceof InvalidArgument,
    'body too large',
  );
  t.equal(
    outcome(() => useSurb(sodium, G, surb, new Uint8Array(G.bodyBytes))),
    'returned',
    'full body fits',
  );
});

/**
 * Sphinx packet properties: constant length, integrity of every header and payload bit,
 * unlinkability of two packets, per-hop commands, route validation, other geometries.
 */
import t from 'tap';
import {
  createPacket,
  DEFAULT_GEOMETRY,
  type HopCommand,
  InvalidArgument,
  MalformedPacket,
  type PacketGeometry,
  packetGeometry,
  type RouteHop,
  systemRng,
  type UnwrapResult,
  unwrapPacket,
} from '../../src/scramble/index.js';
import {
  flipBit,
  hammingDistance,
  hex,
  LOW_ORDER_POINTS,
  labelRng,
  makeNodes,
  noble,
  outcome,
  paddedBody,
  randomInt,
  routeThrough,
  sodium,
  thrown,
  walk,
} from './helpers.js';

const G = DEFAULT_GEOMETRY;
const rng = labelRng(sodium, 'packet.test');
const nodes = makeNodes(sodium, rng, 8);
const mailbox = rng(16);
const deliver: HopCommand = { kind: 'deliver', mailbox };

t.test('default geometry', async (t) => {
  t.equal(G.packetSize, 2048);
  t.equal(G.maxHops, 5);
  t.equal(G.headerBytes + G.payloadBytes, G.packetSize);
  t.equal(G.bodyBytes, G.payloadBytes - 16);
});

t.test('every packet on every link is geometry.packetSize bytes, for routes of 1..5 hops', async (t) => {
  for (let n = 1; n <= G.maxHops; n++) {
    const body = rng(n * 100);
    const route = routeThrough(nodes.slice(0, n), deliver);
    const packet = createPacket(sodium, G, route, body, rng);
    const { inputs, results } = walk(sodium, G, nodes.slice(0, n), packet);
    t.same(
      inputs.map((p) => p.length),
      Array(n).fill(G.packetSize),
      `${n} hops: every hop receives ${G.packetSize} bytes`,
    );
    t.same(
      results.map((r) => r.kind),
      [...Array(n - 1).fill('forward'), 'deliver'],
      `${n} hops: forwards ${n - 1} times, then delivers`,
    );
    const last = results[n - 1] as UnwrapResult;
    if (last.kind !== 'deliver') continue;
    t.equal(hex(last.mailbox), hex(mailbox), `${n} hops: mailbox`);
    t.equal(hex(last.body), hex(paddedBody(body, G.bodyBytes)), `${n} hops: body, zero padded to bodyBytes`);
    results.slice(0, -1).forEach((r, i) => {
      if (r.kind === 'forward')
        t.equal(hex(r.next), hex(nodes[i + 1]!.id), `${n} hops: hop ${i} forwards to node ${i + 1}`);
    });
  }
});

t.test('the full body size fits; one byte more is refused', async (t) => {
  const route = routeThrough(nodes.slice(0, 3), { kind: 'fanout' });
  const full = rng(G.bodyBytes);
  const r = walk(sodium, G, nodes.slice(0, 3), createPacket(sodium, G, route, full, rng)).results[2] as UnwrapResult;
  t.equal(r.kind === 'fanout' ? hex(r.body) : r.kind, hex(full));
  const err = thrown(() => createPacket(sodium, G, route, new Uint8Array(G.bodyBytes + 1), rng));
  t.ok(err instanceof InvalidArgument, 'bodyBytes + 1 throws InvalidArgument');
});

t.test('every final command kind reaches the last hop', async (t) => {
  const finals: HopCommand[] = [
    { kind: 'fanout' },
    { kind: 'deliver', mailbox },
    { kind: 'deliverToken' },
    { kind: 'drop' },
    { kind: 'surbReply', mailbox, surbId: rng(16) },
  ];
  for (const final of finals) {
    const packet = createPacket(sodium, G, routeThrough(nodes.slice(0, 2), final), new Uint8Array([1, 2, 3]), rng);
    const last = walk(sodium, G, nodes.slice(0, 2), packet).results[1] as UnwrapResult;
    t.equal(last.kind, final.kind, final.kind);
    if (last.kind === 'surbReply' && final.kind === 'surbReply') {
      t.equal(hex(last.surbId), hex(final.surbId), 'surbId');
      t.equal(last.payload.length, G.payloadBytes, 'surbReply hands over the whole (still encrypted) payload');
    }
    if (last.kind === 'deliverToken') t.equal(hex(last.body.subarray(0, 4)), '01020300');
  }
});

t.test('flipping any header bit makes the first hop throw MalformedPacket', async (t) => {
  const n = 5;
  const packet = createPacket(sodium, G, routeThrough(nodes.slice(0, n), deliver), rng(500), rng);
  t.equal(
    outcome(() => unwrapPacket(sodium, G, nodes[0]!.privateKey, packet)),
    'returned',
    'the intact packet unwraps',
  );
  const reasons = new Map<string, number>();
  const wrong: string[] = [];
  for (let bit = 0; bit < G.headerBytes * 8; bit++) {
    let err: unknown;
    try {
      unwrapPacket(sodium, G, nodes[0]!.privateKey, flipBit(packet, bit));
    } catch (e) {
      err = e;
    }
    const where = bit < 8 ? 'version' : bit < 33 * 8 ? 'alpha' : bit < (G.headerBytes - 16) * 8 ? 'beta' : 'gamma';
    if (!(err instanceof MalformedPacket)) {
      wrong.push(`bit ${bit} (${where}): ${err === undefined ? 'accepted' : String(err)}`);
      continue;
    }
    const expected = where === 'version' ? ['bad_version'] : where === 'alpha' ? ['bad_mac', 'bad_point'] : ['bad_mac'];
    if (!expected.includes(err.reason)) wrong.push(`bit ${bit} (${where}): reason ${err.reason}`);
    reasons.set(err.reason, (reasons.get(err.reason) ?? 0) + 1);
  }
  t.same(wrong, [], `all ${G.headerBytes * 8} header bits are checked`);
  t.equal(reasons.get('bad_version'), 8, 'the 8 version bits give bad_version');
  t.ok((reasons.get('bad_mac') ?? 0) > G.headerBytes * 8 - 20, 'almost everything else is a MAC failure');
  // Bit 255 of alpha is ignored by X25519 itself: it is refused as a non-canonical point.
  t.equal(
    outcome(() => unwrapPacket(sodium, G, nodes[0]!.privateKey, flipBit(packet, 32 * 8 + 7))),
    'bad_point',
  );
});

t.test('flipping payload bits makes the final hop throw bad_payload_tag (and nothing earlier)', async (t) => {
  const n = 5;
  const packet = createPacket(sodium, G, routeThrough(nodes.slice(0, n), deliver), rng(700), rng);
  const payloadBits = G.payloadBytes * 8;
  const bits = new Set<number>([0, 1, 127, 128, 255, 256, payloadBits - 1]);
  const stride = Math.floor(payloadBits / 512);
  for (let b = 0; b < payloadBits; b += stride) bits.add(b + ((b / stride) % 8));
  while (bits.size < 600) bits.add(randomInt(rng, payloadBits));
  t.ok(bits.size >= 600, `${bits.size} payload bit positions, spread over the whole payload`);
  const wrong: string[] = [];
  for (const bit of bits) {
    let cur = flipBit(packet, G.headerBytes * 8 + bit);
    for (let hop = 0; hop < n; hop++) {
      let r: UnwrapResult | undefined;
      let err: unknown;
      try {
        r = unwrapPacket(sodium, G, nodes[hop]!.privateKey, cur);
      } catch (e) {
        err = e;
      }
      if (hop < n - 1) {
        if (r?.kind !== 'forward') {
          wrong.push(`bit ${bit}: hop ${hop} did not forward (${String(err)})`);
          break;
        }
        cur = r.packet;
      } else if (!(err instanceof MalformedPacket) || err.reason !== 'bad_payload_tag') {
        wrong.push(`bit ${bit}: final hop gave ${err === undefined ? `a ${r?.kind} result` : String(err)}`);
      }
    }
  }
  t.same(wrong, [], 'payload changes pass the relays and are caught by the zero tag at the end');
});

t.test('payload tampering is caught for every kind of final hop that checks the tag', async (t) => {
  for (const final of [{ kind: 'fanout' }, { kind: 'deliverToken' }, { kind: 'drop' }, deliver] as HopCommand[]) {
    const packet = createPacket(sodium, G, routeThrough(nodes.slice(0, 2), final), rng(10), rng);
    for (const bit of [0, 17 * 8 + 3, G.payloadBytes * 8 - 1]) {
      const bad = flipBit(packet, G.headerBytes * 8 + bit);
      const fwd = unwrapPacket(sodium, G, nodes[0]!.privateKey, bad);
      const next = fwd.kind === 'forward' ? fwd.packet : new Uint8Array(0);
      t.equal(
        outcome(() => unwrapPacket(sodium, G, nodes[1]!.privateKey, next)),
        'bad_payload_tag',
        final.kind,
      );
    }
  }
});

t.test('two packets with the same route and body share nothing but the version byte', async (t) => {
  const route = routeThrough(nodes.slice(0, 5), deliver);
  const body = new Uint8Array(300).fill(0x41);
  const a = walk(sodium, G, nodes.slice(0, 5), createPacket(sodium, G, route, body, systemRng(sodium))).inputs;
  const b = walk(sodium, G, nodes.slice(0, 5), createPacket(sodium, G, route, body, systemRng(sodium))).inputs;
  for (let hop = 0; hop < 5; hop++) {
    const pa = a[hop]!;
    const pb = b[hop]!;
    t.equal(pa[0], pb[0], `hop ${hop}: same version byte`);
    const common: number[] = [];
    for (let off = 1; off + 8 <= G.packetSize; off += 8) {
      if (hex(pa.subarray(off, off + 8)) === hex(pb.subarray(off, off + 8))) common.push(off);
    }
    t.same(common, [], `hop ${hop}: no common aligned 8-byte chunk after the version byte`);
    const d = hammingDistance(pa.subarray(1), pb.subarray(1)) / ((G.packetSize - 1) * 8);
    t.ok(d > 0.46 && d < 0.54, `hop ${hop}: Hamming distance ${d.toFixed(3)} is near 1/2`);
  }
  // A packet and its successor (what a hop receives vs. sends) are unrelated too.
  for (let hop = 0; hop < 4; hop++) {
    const d = hammingDistance(a[hop]!.subarray(1), a[hop + 1]!.subarray(1)) / ((G.packetSize - 1) * 8);
    t.ok(d > 0.46 && d < 0.54, `in vs. out at hop ${hop}: Hamming distance ${d.toFixed(3)}`);
  }
});

t.test('the per-hop delay in each relay command arrives at its own hop', async (t) => {
  const delays = [0, 1, 0xffffffff, 86_400_000];
  const packet = createPacket(sodium, G, routeThrough(nodes.slice(0, 5), deliver, delays), new Uint8Array(0), rng);
  const { results } = walk(sodium, G, nodes.slice(0, 5), packet);
  t.same(
    results.map((r) => (r.kind === 'forward' ? r.delayMs : r.kind)),
    [...delays, 'deliver'],
  );
  t.same(
    results.map((r) => (r.kind === 'forward' ? hex(r.next) : r.kind)),
    [...nodes.slice(1, 5).map((n) => hex(n.id)), 'deliver'],
  );
});

t.test('invalid routes and arguments throw InvalidArgument', async (t) => {
  const relay = (i: number, delayMs = 5): HopCommand => ({ kind: 'relay', next: nodes[i]!.id, delayMs });
  const hop = (i: number, command: HopCommand): RouteHop => ({ publicKey: nodes[i]!.publicKey, command });
  const cases: Record<string, RouteHop[]> = {
    'empty route': [],
    'relay at the last hop': [hop(0, relay(1)), hop(1, relay(2))],
    'single relay hop': [hop(0, relay(1))],
    'final command in the middle': [hop(0, relay(1)), hop(1, { kind: 'drop' }), hop(2, deliver)],
    'final command first': [hop(0, deliver), hop(1, deliver)],
    'more than maxHops': routeThrough(nodes.slice(0, 6), deliver),
    'short public key': [{ publicKey: nodes[0]!.publicKey.subarray(1), command: deliver }],
    'short next id': [hop(0, { kind: 'relay', next: new Uint8Array(15), delayMs: 0 }), hop(1, deliver)],
    'negative delay': [hop(0, relay(1, -1)), hop(1, deliver)],
    'fractional delay': [hop(0, relay(1, 1.5)), hop(1, deliver)],
    'delay above 2^32-1': [hop(0, relay(1, 2 ** 32)), hop(1, deliver)],
    'short mailbox': [hop(0, { kind: 'deliver', mailbox: new Uint8Array(17) })],
    'short surbId': [hop(0, { kind: 'surbReply', mailbox, surbId: new Uint8Array(3) })],
  };
  for (const [name, route] of Object.entries(cases)) {
    const err = thrown(() => createPacket(sodium, G, route, new Uint8Array(1), rng));
    t.ok(err instanceof InvalidArgument, `${name}: ${String(err)}`);
  }
  const err = thrown(() =>
    createPacket(sodium, G, routeThrough(nodes.slice(0, 2), deliver), rng(G.bodyBytes + 1), rng),
  );
  t.ok(err instanceof InvalidArgument, 'body too large');
  for (const [size, hops] of [
    [2048, 0],
    [2048, 17],
    [2048, 2.5],
    [300, 5],
    [70000, 5],
    [2048.5, 5],
  ]) {
    t.ok(thrown(() => packetGeometry(size, hops)) instanceof InvalidArgument, `packetGeometry(${size}, ${hops})`);
  }
});

t.test('non-default geometries work end to end', async (t) => {
  const geometries: [PacketGeometry, number][] = [
    [packetGeometry(1024, 6), 6],
    [packetGeometry(4096, 3), 3],
    [packetGeometry(packetGeometry(512, 1).headerBytes + 256, 1), 1],
  ];
  for (const [g, n] of geometries) {
    const name = `${g.packetSize}/${g.maxHops}`;
    for (let hops = 1; hops <= n; hops++) {
      const body = rng(Math.min(g.bodyBytes, 200));
      const packet = createPacket(sodium, g, routeThrough(nodes.slice(0, hops), deliver), body, rng);
      const { inputs, results } = walk(sodium, g, nodes.slice(0, hops), packet);
      t.ok(
        inputs.every((p) => p.length === g.packetSize),
        `${name}, ${hops} hops: constant length ${g.packetSize}`,
      );
      const last = results[hops - 1] as UnwrapResult;
      t.equal(
        last.kind === 'deliver' ? hex(last.body) : last.kind,
        hex(paddedBody(body, g.bodyBytes)),
        `${name}: body`,
      );
    }
    const tooLong = routeThrough(nodes.slice(0, n + 1), deliver);
    if (n + 1 <= nodes.length) {
      t.ok(thrown(() => createPacket(sodium, g, tooLong, new Uint8Array(0), rng)) instanceof InvalidArgument);
    }
  }
  // A packet of one geometry is refused by a node configured for another.
  const small = packetGeometry(1024, 6);
  const packet = createPacket(sodium, small, routeThrough(nodes.slice(0, 1), deliver), new Uint8Array(1), rng);
  t.equal(
    outcome(() => unwrapPacket(sodium, G, nodes[0]!.privateKey, packet)),
    'bad_length',
  );
  const sameSize = packetGeometry(1024, 5);
  t.equal(
    outcome(() => unwrapPacket(sodium, sameSize, nodes[0]!.privateKey, packet)),
    'bad_mac',
  );
});

t.test('wrong node, low-order alpha, wrong version and wrong length are MalformedPacket', async (t) => {
  const packet = createPacket(sodium, G, routeThrough(nodes.slice(0, 3), deliver), rng(10), rng);
  t.equal(
    outcome(() => unwrapPacket(sodium, G, nodes[1]!.privateKey, packet)),
    'bad_mac',
    'packet for another node',
  );
  for (const [i, point] of LOW_ORDER_POINTS.entries()) {
    const bad = packet.slice();
    bad.set(point, 1);
    t.equal(
      outcome(() => unwrapPacket(sodium, G, nodes[0]!.privateKey, bad)),
      'bad_point',
      `low-order alpha #${i}`,
    );
  }
  const v2 = packet.slice();
  v2[0] = 2;
  t.equal(
    outcome(() => unwrapPacket(sodium, G, nodes[0]!.privateKey, v2)),
    'bad_version',
  );
  for (const len of [0, 1, G.headerBytes, G.packetSize - 1, G.packetSize + 1]) {
    const p = new Uint8Array(len);
    p.set(packet.subarray(0, Math.min(len, G.packetSize)));
    t.equal(
      outcome(() => unwrapPacket(sodium, G, nodes[0]!.privateKey, p)),
      'bad_length',
      `length ${len}`,
    );
  }
});

t.test('unwrap does not modify its input, and results do not alias it', async (t) => {
  const packet = createPacket(sodium, G, routeThrough(nodes.slice(0, 2), deliver), rng(10), rng);
  const copy = packet.slice();
  const r = unwrapPacket(sodium, G, nodes[0]!.privateKey, packet);
  t.equal(hex(packet), hex(copy), 'input unchanged');
  if (r.kind === 'forward') {
    r.packet.fill(0);
    t.equal(hex(packet), hex(copy), 'zeroing the output leaves the input alone');
  } else t.fail('expected forward');
  // A packet held as a view into a larger buffer unwraps the same.
  const big = new Uint8Array(G.packetSize + 100);
  big.set(packet, 37);
  const viaView = unwrapPacket(sodium, G, nodes[0]!.privateKey, big.subarray(37, 37 + G.packetSize));
  const direct = unwrapPacket(sodium, G, nodes[0]!.privateKey, packet);
  t.equal(
    viaView.kind === 'forward' ? hex(viaView.packet) : 'x',
    direct.kind === 'forward' ? hex(direct.packet) : 'y',
    'a subarray input gives the same result',
  );
});

t.test('packets cross backends: built with noble, unwrapped with sodium, and back', async (t) => {
  const route = routeThrough(nodes.slice(0, 3), deliver);
  const body = rng(64);
  for (const [make, open] of [
    [noble, sodium],
    [sodium, noble],
  ] as const) {
    const { results } = walk(open, G, nodes.slice(0, 3), createPacket(make, G, route, body, rng));
    const last = results[2] as UnwrapResult;
    t.equal(
      last.kind === 'deliver' ? hex(last.body) : last.kind,
      hex(paddedBody(body, G.bodyBytes)),
      `${make.name} -> ${open.name}`,
    );
  }
});

/**
 * DirectChannel (src/source/directChannel.ts) end to end between two instances, in process, with
 * real crypto all the way: packets from createPacket are peeled hop by hop with the mixes' real
 * X25519 keys (unwrapPacket), CS stores the final body as a mailbox entry, seals it to the
 * recipient (sealDelivery), and the recipient opens it as SourceNode does before handing the
 * envelope to onEnvelope (or the SURB reply to onSurbReply). Time is a fake clock (ctx.now).
 */
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { decodeStoredEntry, encodeStoredEntry } from '../../src/central/storedEntry.js';
import type { Clock } from '../../src/node/clock.js';
import type { NodeContext } from '../../src/node/context.js';
import { openDelivery, sealDelivery } from '../../src/node/deliveryFrame.js';
import {
  type Directory,
  type IndexedDirectory,
  indexDirectory,
  type NodeDescriptor,
} from '../../src/node/directory.js';
import { hex, mailboxIdOf, nodeIdOf } from '../../src/node/ids.js';
import { createMetrics } from '../../src/node/metrics.js';
import type { Peer, Transport } from '../../src/node/transport.js';
import { getCrypto } from '../../src/scramble/crypto/index.js';
import { DEFAULT_GEOMETRY as G } from '../../src/scramble/geometry.js';
import { unwrapPacket } from '../../src/scramble/packet.js';
import { systemRng } from '../../src/scramble/rng.js';
import { openSeal } from '../../src/scramble/sealedBox.js';
import { decodeSurb, useSurb } from '../../src/scramble/surb.js';
import { DirectChannel } from '../../src/source/directChannel.js';
import { decodeFragment, encodeAck, type Fragment, isLoop, MAX_FRAGMENTS } from '../../src/source/envelope.js';
import { unframeSealed } from '../../src/source/frames.js';

const crypto = getCrypto('sodium');
const rng = systemRng(crypto);
/** The central server's X25519 pair: it boxes every delivery. */
const CS_SECRET = crypto.randomBytes(32);
const CS_BOX = { secretKey: CS_SECRET, publicKey: crypto.x25519Base(CS_SECRET) };
const EPOCH_SECONDS = 3600;
const EPOCH = 472_000;
const T0 = EPOCH * EPOCH_SECONDS * 1000 + 60_000;
const MIX_HOPS = 3;
/** DirectChannel's initial RTO with meanDelayMs 10 and 3 mix hops: max(1500, 4·10·(3+4)). */
const RTO = 1500;
const MAX_ATTEMPTS = 6;

interface Mix {
  descriptor: NodeDescriptor;
  secretKey: Uint8Array;
}

function mix(port: number): Mix {
  const secretKey = crypto.randomBytes(32);
  return {
    secretKey,
    descriptor: {
      identityKey: crypto.ed25519PublicKey(crypto.randomBytes(32)),
      address: `127.0.0.1:${port}`,
      mixKeys: [{ epoch: EPOCH, publicKey: crypto.x25519Base(secretKey) }],
      timestampMs: T0,
    },
  };
}

interface Endpoint {
  name: string;
  seed: Uint8Array;
  identityKey: Uint8Array;
  x25519Public: Uint8Array;
  x25519Secret: Uint8Array;
  ctx: NodeContext;
  channel: DirectChannel;
  messages: Uint8Array[];
  outcomes: Array<[string, 'acked' | 'failed']>;
  /** Envelopes handed to onEnvelope, decoded (for tests that reuse a SURB). */
  envelopes: Fragment[];
}

interface InFlight {
  from: string;
  packet: Uint8Array;
  to: Peer;
  atMs: number;
}

/** A small network: CS, four proxies, two sources, and a queue of packets in flight. */
class World {
  now = T0;
  /** The fake clock: time is whatever the test sets; DirectChannel schedules nothing itself (it is ticked). */
  readonly clock: Clock = {
    now: () => this.now,
    preciseNow: () => this.now,
    setTimeout: () => {
      throw new Error('DirectChannel must not schedule timers: its owner ticks it');
    },
    setInterval: () => {
      throw new Error('DirectChannel must not schedule timers: its owner ticks it');
    },
    clearTimeout: () => {},
    clearInterval: () => {},
  };
  readonly central = mix(7000);
  readonly proxies = [7001, 7002, 7003, 7004].map(mix);
  readonly dir: IndexedDirectory;
  readonly byAddress = new Map<string, Mix>();
  readonly byId = new Map<string, Mix>();
  readonly pending: InFlight[] = [];
  readonly log: InFlight[] = [];
  readonly sources = new Map<string, Endpoint>();
  /** Decides what the network does with each packet a source sends. */
  policy: (p: InFlight) => 'pass' | 'drop' | 'dup' = () => 'pass';
  unknownSurbs = 0;
  private entryId = 1;

  constructor() {
    const d: Directory = {
      issuedAtMs: T0,
      epoch: EPOCH,
      params: {
        packetSize: G.packetSize,
        maxHops: G.maxHops,
        meanDelayMs: 10,
        maxDelayMs: 100,
        epochSeconds: EPOCH_SECONDS,
        graceSeconds: 60,
        lambdaPerSecond: 0,
        loopPerSecond: 0,
        mixLoopPerSecond: 0,
        deliveryPerSecond: 0,
      },
      central: this.central.descriptor,
      proxies: this.proxies.map((p) => p.descriptor),
    };
    this.dir = indexDirectory(crypto, d);
    for (const m of [this.central, ...this.proxies]) {
      this.byAddress.set(m.descriptor.address, m);
      this.byId.set(hex(nodeIdOf(crypto, m.descriptor.identityKey)), m);
    }
  }

  source(name: string): Endpoint {
    const seed = crypto.randomBytes(32);
    const identityKey = crypto.ed25519PublicKey(seed);
    const ctx: NodeContext = {
      crypto,
      identity: { seed, publicKey: identityKey },
      dataDir: '',
      log: pino({ level: 'silent' }),
      metrics: createMetrics('source'),
      transport: undefined as unknown as Transport,
      clock: this.clock,
      now: () => this.now,
    };
    const e: Endpoint = {
      name,
      seed,
      identityKey,
      x25519Public: crypto.ed25519PublicToX25519(identityKey),
      x25519Secret: crypto.ed25519SeedToX25519(seed),
      ctx,
      messages: [],
      outcomes: [],
      envelopes: [],
      channel: undefined as unknown as DirectChannel,
    };
    e.channel = new DirectChannel({
      ctx,
      geometry: () => G,
      directory: () => this.dir,
      selfMailbox: mailboxIdOf(crypto, identityKey),
      send: (packet, to) => this.pending.push({ from: name, packet, to, atMs: this.now }),
      mixHops: MIX_HOPS,
      onMessage: (blob) => e.messages.push(blob),
      onOutcome: (msgId, outcome) => e.outcomes.push([msgId, outcome]),
    });
    this.sources.set(hex(mailboxIdOf(crypto, identityKey)), e);
    return e;
  }

  /** Delivers everything in flight (and whatever that causes) until the network is quiet. */
  flush(order: 'fifo' | 'reverse' = 'fifo'): void {
    while (this.pending.length) {
      const batch = this.pending.splice(0);
      if (order === 'reverse') batch.reverse();
      for (const p of batch) {
        this.log.push(p);
        const verdict = this.policy(p);
        if (verdict === 'drop') continue;
        this.carry(p.packet, p.to);
        if (verdict === 'dup') this.carry(p.packet, p.to);
      }
    }
  }

  /** One packet through the mixes to CS, stored, then delivered to its mailbox's source. */
  carry(packet: Uint8Array, to: Peer): void {
    if (packet.length !== G.packetSize) throw new Error(`packet of ${packet.length} bytes on the wire`);
    let node = this.byAddress.get(`${to.host}:${to.port}`);
    let p = packet;
    for (let hop = 0; hop <= G.maxHops; hop++) {
      if (!node) throw new Error('packet addressed to an unknown node');
      const r = unwrapPacket(crypto, G, node.secretKey, p);
      if (r.kind === 'forward') {
        if (node === this.central) throw new Error('CS asked to relay');
        if (r.delayMs < 0 || r.delayMs > this.dir.params.maxDelayMs) throw new Error(`delay ${r.delayMs}`);
        node = this.byId.get(hex(r.next));
        p = r.packet;
        continue;
      }
      if (node !== this.central) throw new Error(`final hop ${r.kind} at a proxy`);
      if (r.kind === 'deliver') return this.store(r.mailbox, 'message', new Uint8Array(16), r.body);
      if (r.kind === 'surbReply') return this.store(r.mailbox, 'surbReply', r.surbId, r.payload);
      throw new Error(`unexpected final command ${r.kind}`);
    }
    throw new Error('route longer than maxHops');
  }

  /** What CS does with a final body, then what SourceNode does with the sealed delivery. */
  private store(mailbox: Uint8Array, kind: 'message' | 'surbReply', surbId: Uint8Array, payload: Uint8Array): void {
    const e = this.sources.get(hex(mailbox));
    if (!e) throw new Error('unknown mailbox');
    const stored = decodeStoredEntry(encodeStoredEntry(kind, surbId, payload, G));
    if (!stored) throw new Error('stored entry did not decode');
    const sealed = sealDelivery(
      crypto,
      { peerPublicKey: e.x25519Public, secretKey: CS_BOX.secretKey },
      { entryId: this.entryId++, ...stored },
      rng,
    );
    const d = openDelivery(crypto, { peerPublicKey: CS_BOX.publicKey, secretKey: e.x25519Secret }, sealed);
    if (d.kind === 'surbReply') {
      if (!e.channel.onSurbReply(d.surbId, d.payload)) this.unknownSurbs++;
      return;
    }
    const envelope = openSeal(crypto, e.x25519Public, e.x25519Secret, unframeSealed(d.payload));
    if (!envelope) throw new Error('envelope not sealed to its mailbox');
    if (isLoop(envelope)) throw new Error('no loops here');
    e.envelopes.push(decodeFragment(envelope));
    e.channel.onEnvelope(envelope);
  }

  sentBy(name: string): InFlight[] {
    return this.log.filter((p) => p.from === name);
  }
}

async function drops(e: Endpoint): Promise<Record<string, number>> {
  return (await e.ctx.metrics.snapshot()).drops;
}

function setup(): { w: World; a: Endpoint; b: Endpoint } {
  const w = new World();
  return { w, a: w.source('A'), b: w.source('B') };
}

const threeFragments = (a: Endpoint) => crypto.randomBytes(2 * a.channel.chunkBytes(true) + 100);

function sameBytes(t: Test, got: Uint8Array | undefined, want: Uint8Array, msg: string): void {
  t.ok(got && Buffer.from(got).equals(Buffer.from(want)), msg);
}

t.test('a reliable 3-fragment message arrives once, whole, and is acknowledged', async (t) => {
  for (const order of ['fifo', 'reverse'] as const) {
    const { w, a, b } = setup();
    const blob = threeFragments(a);
    const sent = a.channel.send(b.identityKey, blob, true);
    t.equal(sent.fragments, 3, `${order}: three fragments`);
    t.equal(sent.delays.length, 3 * MIX_HOPS, `${order}: a delay per mix hop per fragment`);
    t.equal(a.channel.pendingCount(), 3);
    t.equal(w.pending.length, 3, 'nothing delivered synchronously');
    w.flush(order);
    t.equal(b.messages.length, 1, `${order}: delivered once`);
    sameBytes(t, b.messages[0], blob, `${order}: the bytes, in order`);
    t.same(
      b.envelopes.map((f) => f.index),
      order === 'fifo' ? [0, 1, 2] : [2, 1, 0],
      `${order}: fragments arrived in ${order} order`,
    );
    t.same(a.outcomes, [[sent.msgId, 'acked']], `${order}: acked once, after all three fragments`);
    t.equal(a.channel.pendingCount(), 0);
    t.equal(b.channel.stats.acksSent, 3);
    t.equal(a.channel.stats.acksReceived, 3);
    t.ok(
      w.log.every((p) => p.packet.length === G.packetSize),
      'fragments and acks alike are packetSize bytes',
    );
    t.same(await drops(a), {}, 'A dropped nothing');
    t.same(await drops(b), {}, 'B dropped nothing');
  }
});

t.test('an unreliable message carries no SURB and expects no ack', async (t) => {
  const { w, a, b } = setup();
  t.ok(a.channel.chunkBytes(false) > a.channel.chunkBytes(true), 'more room without a SURB');
  const blob = crypto.randomBytes(a.channel.chunkBytes(false) + 1);
  const sent = a.channel.send(b.identityKey, blob, false);
  t.equal(sent.fragments, 2);
  t.equal(a.channel.pendingCount(), 0);
  w.flush();
  sameBytes(t, b.messages[0], blob, 'delivered');
  t.ok(
    b.envelopes.every((f) => f.surb === null),
    'no SURB in the fragments',
  );
  t.equal(b.channel.stats.acksSent, 0);
  t.same(a.outcomes, []);
  const empty = a.channel.send(b.identityKey, new Uint8Array(0), false);
  t.equal(empty.fragments, 1, 'an empty message is one empty fragment');
  w.flush();
  t.equal(b.messages.length, 2);
  t.equal(b.messages[1]?.length, 0);
  t.throws(
    () => a.channel.send(b.identityKey, new Uint8Array(a.channel.maxMessageBytes(true) + 1), true),
    RangeError,
    `more than ${MAX_FRAGMENTS} fragments refused`,
  );
});

t.test('duplicate fragments do not produce a second message', async (t) => {
  const { w, a, b } = setup();
  // No replay cache in this network: every packet from A arrives twice.
  w.policy = (p) => (p.from === 'A' ? 'dup' : 'pass');
  const blob = threeFragments(a);
  const sent = a.channel.send(b.identityKey, blob, true);
  w.flush();
  t.equal(b.envelopes.length, 6, 'six copies reached B');
  t.equal(b.messages.length, 1, 'one message');
  sameBytes(t, b.messages[0], blob, 'the right one');
  t.equal(b.channel.stats.acksSent, 6, 'every copy acknowledged (an earlier ack may have been lost)');
  t.equal(a.channel.stats.acksReceived, 3, 'each SURB answers once');
  t.equal(w.unknownSurbs, 3, 'second uses of a SURB are not ours any more');
  t.same(a.outcomes, [[sent.msgId, 'acked']]);
  // Copies that arrive after the message was completed are still ignored.
  w.policy = () => 'pass';
  for (const f of b.envelopes.slice(0, 3)) {
    b.channel.onEnvelope(
      new Uint8Array([
        1,
        1,
        ...f.msgId,
        f.index,
        f.count,
        0,
        0,
        f.chunk.length >> 8,
        f.chunk.length & 0xff,
        ...f.chunk,
      ]),
    );
  }
  t.equal(b.messages.length, 1, 'late copies ignored');
});

t.test('without acks: retransmission with exponential backoff, then give up once', async (t) => {
  const { w, a, b } = setup();
  w.policy = (p) => (p.from === 'B' ? 'drop' : 'pass');
  const blob = threeFragments(a);
  const sent = a.channel.send(b.identityKey, blob, true);
  w.flush();
  const end = T0 + 200_000;
  while (w.now < end) {
    w.now += 100;
    a.channel.tick();
    w.flush();
  }
  const times = [...new Set(w.sentBy('A').map((p) => p.atMs - T0))];
  const expected = [0];
  for (let i = 1, rto = RTO, at = 0; i < MAX_ATTEMPTS; i++, rto *= 2) {
    at += rto;
    expected.push(at);
  }
  t.same(times, expected, `sent at ${expected.join(', ')} ms: RTO ${RTO} ms, doubling`);
  t.equal(w.sentBy('A').length, 3 * MAX_ATTEMPTS, `each fragment sent ${MAX_ATTEMPTS} times`);
  t.equal(a.channel.stats.retransmissions, 3 * (MAX_ATTEMPTS - 1));
  t.same(a.outcomes, [[sent.msgId, 'failed']], 'one failure for the message, not one per fragment');
  t.equal(a.channel.stats.failed, 1);
  t.equal(a.channel.pendingCount(), 0, 'nothing left outstanding');
  // Each retransmission was a fresh packet, and B still saw one message.
  const packets = new Set(w.sentBy('A').map((p) => hex(p.packet)));
  t.equal(packets.size, 3 * MAX_ATTEMPTS, 'every retransmission is a fresh packet');
  t.equal(b.messages.length, 1);
  t.equal(b.channel.stats.acksSent, 3 * MAX_ATTEMPTS, 'B acked every copy; the network lost them all');
});

t.test('a lost ack is repaired by the retransmission', async (t) => {
  const { w, a, b } = setup();
  let dropped = 0;
  w.policy = (p) => (p.from === 'B' && dropped++ === 0 ? 'drop' : 'pass');
  const sent = a.channel.send(b.identityKey, crypto.randomBytes(100), true);
  w.flush();
  t.same(a.outcomes, [], 'no ack yet');
  t.equal(a.channel.pendingCount(), 1);
  w.now = T0 + RTO - 1;
  a.channel.tick();
  t.equal(w.pending.length, 0, 'not before the RTO');
  w.now = T0 + RTO;
  a.channel.tick();
  t.equal(w.pending.length, 1, 'at the RTO');
  w.flush();
  t.same(a.outcomes, [[sent.msgId, 'acked']]);
  t.equal(a.channel.stats.retransmissions, 1);
  t.equal(b.messages.length, 1);
  w.now += 100_000;
  a.channel.tick();
  t.equal(w.pending.length, 0, 'nothing more once acked');
});

t.test('hostile SURB replies and envelopes are dropped and counted', async (t) => {
  const { w, a, b } = setup();
  w.policy = (p) => (p.from === 'B' ? 'drop' : 'pass');
  a.channel.send(b.identityKey, crypto.randomBytes(2 * a.channel.chunkBytes(true)), true);
  w.flush();
  t.equal(b.envelopes.length, 2);
  const [f0, f1] = b.envelopes as [Fragment, Fragment];
  const first = (f: Fragment) => {
    const surb = decodeSurb(G, f.surb as Uint8Array);
    const hop = w.dir.byId.get(hex(surb.firstHop)) as NodeDescriptor;
    const [host, port] = hop.address.split(':');
    return { surb, to: { host: host as string, port: Number(port) } };
  };

  // The SURB of fragment 0 carrying an ack for fragment 1: refused, and it uses up that SURB.
  const s0 = first(f0);
  w.carry(useSurb(crypto, G, s0.surb, encodeAck({ msgId: f0.msgId, index: 1 })), s0.to);
  t.equal((await drops(a)).bad_surb_reply, 1, 'an ack that does not match its SURB');
  // Garbage inside fragment 1's SURB: opens (the SURB is genuine) but is no ack.
  const s1 = first(f1);
  w.carry(useSurb(crypto, G, s1.surb, crypto.randomBytes(30)), s1.to);
  t.equal((await drops(a)).bad_surb_reply, 2, 'a SURB reply that is not an ack');
  t.equal(a.channel.stats.acksReceived, 0);
  t.same(a.outcomes, []);
  t.equal(w.unknownSurbs, 0);
  t.equal(a.channel.onSurbReply(crypto.randomBytes(16), crypto.randomBytes(G.payloadBytes)), false, 'unknown SURB id');

  // A genuine SURB reply modified in transit (before the last hop): the payload tag catches it.
  const { w: w2, a: a2, b: b2 } = setup();
  w2.policy = (p) => (p.from === 'B' ? 'drop' : 'pass');
  a2.channel.send(b2.identityKey, crypto.randomBytes(10), true);
  w2.flush();
  const s = (() => {
    const f = b2.envelopes[0] as Fragment;
    const surb = decodeSurb(G, f.surb as Uint8Array);
    const hop = w2.dir.byId.get(hex(surb.firstHop)) as NodeDescriptor;
    const [host, port] = hop.address.split(':');
    return { f, surb, to: { host: host as string, port: Number(port) } };
  })();
  const reply = useSurb(crypto, G, s.surb, encodeAck({ msgId: s.f.msgId, index: 0 }));
  reply[G.headerBytes + 100] = (reply[G.headerBytes + 100] as number) ^ 1;
  w2.carry(reply, s.to);
  t.equal((await drops(a2)).bad_surb_reply, 1, 'a modified SURB reply');
  t.same(a2.outcomes, []);

  // Envelopes that do not parse, or contradict an earlier fragment.
  for (const junk of [
    new Uint8Array(0),
    new Uint8Array(50).fill(0xaa),
    new Uint8Array([1, 1, ...new Uint8Array(16), 3, 3]),
  ]) {
    b.channel.onEnvelope(junk);
  }
  t.equal((await drops(b)).bad_envelope, 3, 'three unparsable envelopes');
  const id = crypto.randomBytes(16);
  b.channel.onEnvelope(new Uint8Array([1, 1, ...id, 0, 3, 0, 0, 0, 1, 7]));
  b.channel.onEnvelope(new Uint8Array([1, 1, ...id, 1, 4, 0, 0, 0, 1, 8]));
  t.equal((await drops(b)).bad_envelope, 4, 'a fragment count that changed');
  // A fragment whose SURB is garbage: the message still counts, the ack is dropped.
  const id2 = crypto.randomBytes(16);
  b.channel.onEnvelope(new Uint8Array([1, 1, ...id2, 0, 1, 0, 3, 9, 9, 9, 0, 1, 5]));
  t.equal((await drops(b)).bad_surb, 1, 'a SURB of the wrong size');
  t.same([...(b.messages.at(-1) ?? [])], [5], 'the fragment itself was delivered');
});

// Regression: anyone who knows a member's address can send first-of-two fragments that never complete;
// a full reassembly table must evict the oldest, not lock out every new direct message.
t.test('a flood of incomplete messages does not lock out new ones', async (t) => {
  const { w, a, b } = setup();
  for (let i = 0; i < 256; i++) {
    b.channel.onEnvelope(new Uint8Array([1, 1, ...crypto.randomBytes(16), 0, 2, 0, 0, 0, 1, i & 0xff]));
  }
  const blob = crypto.randomBytes(100);
  a.channel.send(b.identityKey, blob, false);
  w.flush();
  t.equal(b.messages.length, 1, 'the genuine message is delivered');
  t.equal((await drops(b)).reassembly_full ?? 0, 0, 'nothing dropped as reassembly_full');
  w.now += 10 * 60_000 + 1;
  b.channel.tick();
  a.channel.send(b.identityKey, blob, false);
  w.flush();
  t.ok(b.messages.length >= 1, 'after the TTL the slots are free again');
});

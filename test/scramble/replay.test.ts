/**
 * Replay detection: unwrapPacket's `replay` callback backed by MemoryReplayCache.
 */
import t from 'tap';
import {
  createPacket,
  DEFAULT_GEOMETRY as G,
  type HopCommand,
  MalformedPacket,
  MemoryReplayCache,
  type ReplayCheck,
  ReplayedPacket,
  unwrapPacket,
} from '../../src/scramble/index.js';
import { flipBit, hex, labelRng, makeNodes, outcome, routeThrough, sodium, thrown, walk } from './helpers.js';

const rng = labelRng(sodium, 'replay.test');
const nodes = makeNodes(sodium, rng, 5);
const deliver: HopCommand = { kind: 'deliver', mailbox: rng(16) };
const packetFor = (n: number) => createPacket(sodium, G, routeThrough(nodes.slice(0, n), deliver), rng(40), rng);

/** A replay check on `cache` for `epoch` that also counts its calls. */
function checker(cache: MemoryReplayCache, epoch: number): { check: ReplayCheck; calls: () => number } {
  let calls = 0;
  return {
    check: (tag) => {
      calls++;
      return cache.checkAndInsert(epoch, tag);
    },
    calls: () => calls,
  };
}

t.test('MemoryReplayCache', async (t) => {
  const cache = new MemoryReplayCache();
  const a = rng(32);
  const b = rng(32);
  t.equal(cache.checkAndInsert(1, a), false, 'first sight of a');
  t.equal(cache.checkAndInsert(1, a), true, 'second sight of a');
  t.equal(cache.checkAndInsert(1, a.slice()), true, 'an equal copy of a');
  t.equal(cache.checkAndInsert(1, b), false, 'b is different');
  t.equal(cache.checkAndInsert(2, a), false, 'a in another epoch is new');
  t.equal(cache.size(), 3);
  // Tags are compared by value even when they are views into one shared buffer.
  const shared = new Uint8Array(96);
  shared.set(a, 0);
  shared.set(b, 32);
  t.equal(cache.checkAndInsert(3, shared.subarray(0, 32)), false);
  t.equal(cache.checkAndInsert(3, shared.subarray(32, 64)), false, 'a view at another offset is another tag');
  t.equal(cache.checkAndInsert(3, shared.subarray(64, 96)), false, 'a zero tag is yet another tag');
  t.equal(cache.checkAndInsert(3, b), true, 'b, seen via the view, is remembered by value');
  t.equal(cache.size(), 6);

  cache.dropBefore(3);
  t.equal(cache.size(), 3, 'epochs 1 and 2 forgotten, epoch 3 kept');
  t.equal(cache.checkAndInsert(1, a), false, 'a in epoch 1 is new again');
  t.equal(cache.checkAndInsert(3, b), true, 'epoch 3 still knows b');
  cache.dropBefore(100);
  t.equal(cache.size(), 0);
});

t.test('replaying a packet at a hop throws ReplayedPacket with reason "replay"', async (t) => {
  const cache = new MemoryReplayCache();
  const { check } = checker(cache, 7);
  const packet = packetFor(3);
  const first = unwrapPacket(sodium, G, nodes[0]!.privateKey, packet, check);
  t.equal(first.kind, 'forward', 'first time: processed');
  const err = thrown(() => unwrapPacket(sodium, G, nodes[0]!.privateKey, packet, check));
  t.ok(err instanceof ReplayedPacket, 'second time: ReplayedPacket');
  t.ok(err instanceof MalformedPacket, 'which is a MalformedPacket');
  t.equal((err as MalformedPacket).reason, 'replay');
  t.equal(
    outcome(() => unwrapPacket(sodium, G, nodes[0]!.privateKey, packet.slice(), check)),
    'replay',
    'a copy too',
  );
  t.equal(cache.size(), 1, 'one tag recorded');
});

t.test('a replay with a modified payload is still a replay (the tag depends on the header only)', async (t) => {
  const cache = new MemoryReplayCache();
  const { check } = checker(cache, 1);
  const packet = packetFor(2);
  unwrapPacket(sodium, G, nodes[0]!.privateKey, packet, check);
  const modified = flipBit(packet, G.headerBytes * 8 + 100);
  t.equal(
    outcome(() => unwrapPacket(sodium, G, nodes[0]!.privateKey, modified, check)),
    'replay',
  );
});

t.test('different packets on the same route are not flagged', async (t) => {
  const cache = new MemoryReplayCache();
  const { check } = checker(cache, 1);
  const outcomes = Array.from({ length: 50 }, () =>
    outcome(() => unwrapPacket(sodium, G, nodes[0]!.privateKey, packetFor(3), check)),
  );
  t.same(outcomes, Array(50).fill('returned'));
  t.equal(cache.size(), 50);
});

t.test('the replay check runs only after the MAC verifies', async (t) => {
  const cache = new MemoryReplayCache();
  const { check, calls } = checker(cache, 1);
  const packet = packetFor(2);
  t.equal(
    outcome(() => unwrapPacket(sodium, G, nodes[0]!.privateKey, flipBit(packet, 500), check)),
    'bad_mac',
  );
  t.equal(
    outcome(() => unwrapPacket(sodium, G, nodes[1]!.privateKey, packet, check)),
    'bad_mac',
    'wrong node',
  );
  t.equal(calls(), 0, 'never called for a packet that fails the MAC');
  t.equal(cache.size(), 0, 'so forged packets cannot fill the cache');
  t.equal(
    outcome(() => unwrapPacket(sodium, G, nodes[0]!.privateKey, packet, check)),
    'returned',
  );
  t.equal(calls(), 1);
});

t.test('dropBefore forgets old epochs', async (t) => {
  const cache = new MemoryReplayCache();
  const packet = packetFor(2);
  const key = nodes[0]!.privateKey;
  t.equal(
    outcome(() => unwrapPacket(sodium, G, key, packet, checker(cache, 1).check)),
    'returned',
    'epoch 1',
  );
  t.equal(
    outcome(() => unwrapPacket(sodium, G, key, packet, checker(cache, 1).check)),
    'replay',
    'epoch 1 again',
  );
  cache.dropBefore(1);
  t.equal(
    outcome(() => unwrapPacket(sodium, G, key, packet, checker(cache, 1).check)),
    'replay',
    'dropBefore(1) keeps 1',
  );
  cache.dropBefore(2);
  t.equal(cache.size(), 0);
  t.equal(
    outcome(() => unwrapPacket(sodium, G, key, packet, checker(cache, 1).check)),
    'returned',
    'forgotten',
  );
});

t.test('the same packet under a different hop key is not a replay', async (t) => {
  // One cache shared by every hop of a route: each hop's tag is its own.
  const cache = new MemoryReplayCache();
  const { check } = checker(cache, 1);
  const { results } = walk(sodium, G, nodes, packetFor(5), check);
  t.same(
    results.map((r) => r.kind),
    ['forward', 'forward', 'forward', 'forward', 'deliver'],
    'no hop of the route is flagged',
  );
  t.equal(new Set(results.map((r) => hex(r.replayTag))).size, 5, 'five different tags');
  t.equal(cache.size(), 5);

  // The same bytes sent to another node: that node cannot even verify it, and records nothing.
  const packet = packetFor(2);
  unwrapPacket(sodium, G, nodes[0]!.privateKey, packet, check);
  const before = cache.size();
  for (const other of nodes.slice(1)) {
    t.equal(
      outcome(() => unwrapPacket(sodium, G, other.privateKey, packet, check)),
      'bad_mac',
    );
  }
  t.equal(cache.size(), before);

  // A node with a new key (next epoch): a packet to the new key has a tag unrelated to any
  // tag of the old key, even for the same sender randomness.
  const oldKey = nodes[0]!;
  const newKey = makeNodes(sodium, rng, 1)[0]!;
  const seed = rng(32);
  const sameRandomness = () => labelRng(sodium, hex(seed));
  const route = (pk: Uint8Array) => [{ publicKey: pk, command: deliver }];
  const oldTag = unwrapPacket(
    sodium,
    G,
    oldKey.privateKey,
    createPacket(sodium, G, route(oldKey.publicKey), new Uint8Array(1), sameRandomness()),
  ).replayTag;
  const newTag = unwrapPacket(
    sodium,
    G,
    newKey.privateKey,
    createPacket(sodium, G, route(newKey.publicKey), new Uint8Array(1), sameRandomness()),
  ).replayTag;
  t.not(hex(oldTag), hex(newTag));
});

t.test('the replay tag is stable for one packet at one hop', async (t) => {
  const packet = packetFor(1);
  const a = unwrapPacket(sodium, G, nodes[0]!.privateKey, packet).replayTag;
  const b = unwrapPacket(sodium, G, nodes[0]!.privateKey, packet).replayTag;
  t.equal(a.length, 32);
  t.equal(hex(a), hex(b));
});

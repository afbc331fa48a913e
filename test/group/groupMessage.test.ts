import fc from 'fast-check';
import t from 'tap';
import { ByteWriter } from '../../src/group/bytes.js';
import {
  BadSignature,
  DatagramTooLarge,
  DuplicateMessage,
  MalformedGroupMessage,
  NotAMember,
  NotAuthorized,
  RemovedFromGroup,
} from '../../src/group/errors.js';
import {
  decodeInner,
  decodeOuter,
  maxDatagramBytes,
  openGroupMessage,
  sealGroupMessage,
} from '../../src/group/groupMessage.js';
import { groupFromJson, groupToJson, isMember, removedState } from '../../src/group/groupState.js';
import { hexKey } from '../../src/group/keys.js';
import { nextSendKey } from '../../src/group/senderChain.js';
import { DEFAULT_GEOMETRY } from '../../src/scramble/geometry.js';
import { openSeal, SEAL_OVERHEAD, seal } from '../../src/scramble/sealedBox.js';
import { makeGroup } from './fixtures.js';
import { crypto, identity, mutated, NOW, onlyTyped, pass, rng, throwsA } from './helpers.js';

const { ids, states } = makeGroup(3);
const [alice, bob, carol] = ids as [(typeof ids)[0], (typeof ids)[0], (typeof ids)[0]];
const [aliceG, bobG, carolG] = states as [(typeof states)[0], (typeof states)[0], (typeof states)[0]];
const text = (b: Uint8Array) => Buffer.from(b).toString();

t.test('a data message is read by every other member, once', async (t) => {
  const sent = sealGroupMessage(crypto, bobG, bob, 'data', pass('hello'), rng);
  t.equal(sent.index, 0);
  t.equal(sent.group.sendChain.index, 1, 'the sender chain advanced');
  t.equal(bobG.sendChain.index, 0, 'input state untouched');
  for (const g of [aliceG, carolG]) {
    const m = openGroupMessage(crypto, [g], sent.c0, NOW)!;
    t.equal(m.type, 'data');
    t.equal(text(m.body), 'hello');
    t.same(m.sender.identityKey, bob.identityKey);
    t.equal(m.messageIndex, 0);
    throwsA(t, () => openGroupMessage(crypto, [m.group], sent.c0, NOW), DuplicateMessage, /already read/);
  }
  // Today the sender gets no copy; were one delivered, it has no receive chain for itself.
  throwsA(t, () => openGroupMessage(crypto, [bobG], sent.c0, NOW), NotAMember, /no chain/);
});

t.test('trial decryption picks the right group, and returns null for strangers', async (t) => {
  const other = makeGroup(2);
  const sent = sealGroupMessage(crypto, aliceG, alice, 'data', pass('x'), rng);
  const m = openGroupMessage(crypto, [other.states[1]!, bobG], sent.c0, NOW)!;
  t.equal(m.index, 1);
  t.equal(openGroupMessage(crypto, [other.states[1]!], sent.c0, NOW), null);
});

t.test('the group key alone opens only the outer layer: sender and index, not the content', async (t) => {
  const sent = sealGroupMessage(crypto, carolG, carol, 'data', pass('the content'), rng);
  const outer = openSeal(crypto, aliceG.publicKey, aliceG.secretKey, sent.c0)!;
  const o = decodeOuter(outer);
  t.same(o.sender, carol.identityKey);
  t.equal(o.index, 0);
  t.notOk(Buffer.from(outer).includes(Buffer.from('the content')), 'content not in the clear under pub_G');
  // Without the chain (a captor of the group key only, or P2 who can seal to pub_G): no content.
  const noChains = { ...aliceG, chains: new Map() };
  throwsA(t, () => openGroupMessage(crypto, [noChains], sent.c0, NOW), NotAMember);
});

t.test('out-of-order delivery is fine; a replay is refused', async (t) => {
  let g = aliceG;
  let s = bobG;
  const msgs = [0, 1, 2, 3].map((i) => {
    const m = sealGroupMessage(crypto, s, bob, 'data', pass(`m${i}`), rng);
    s = m.group;
    return m.c0;
  });
  for (const i of [2, 0, 3, 1]) {
    const m = openGroupMessage(crypto, [g], msgs[i]!, NOW)!;
    t.equal(text(m.body), `m${i}`);
    g = m.group;
  }
  for (const c0 of msgs) throwsA(t, () => openGroupMessage(crypto, [g], c0, NOW), DuplicateMessage);
});

t.test('forgeries: P2 (pub_G only), a member posing as another, a stranger', async (t) => {
  const mallory = identity();
  // A stranger seals to pub_G under its own name: no chain for it.
  const forgedState = {
    ...aliceG,
    members: [...aliceG.members, { ...aliceG.members[0]!, identityKey: mallory.identityKey }],
  };
  const stranger = sealGroupMessage(crypto, forgedState, mallory, 'data', pass('forged'), rng);
  throwsA(t, () => openGroupMessage(crypto, [bobG], stranger.c0, NOW), NotAMember);

  // Carol holds alice's chain (every member does) and encrypts under it, signing with her own key: refused.
  const aliceChain = { chainKey: carolG.chains.get(hexKey(alice.identityKey))!.chainKey, index: 0 };
  const asAlice = sealGroupMessage(
    crypto,
    { ...carolG, sendChain: aliceChain },
    { ...carol, identityKey: alice.identityKey },
    'data',
    pass('I am alice'),
    rng,
  );
  throwsA(t, () => openGroupMessage(crypto, [bobG], asAlice.c0, NOW), BadSignature, /signature/);
  // ...and the failed attempt did not consume alice's message 0 at bob.
  const real = sealGroupMessage(crypto, aliceG, alice, 'data', pass('real'), rng);
  t.equal(text(openGroupMessage(crypto, [bobG], real.c0, NOW)!.body), 'real');

  // Garbage under a valid outer layer: the message key does not authenticate it.
  const step = nextSendKey(crypto, aliceG.sendChain);
  const outer = new ByteWriter().u8(2).bytes(alice.identityKey).u32(step.index).bytes(rng(200)).finish();
  throwsA(t, () => openGroupMessage(crypto, [bobG], seal(crypto, aliceG.publicKey, outer, rng), NOW), BadSignature);
});

t.test('leave: the leaver is dropped and its chain forgotten; the last admin cannot leave this way', async (t) => {
  const sent = sealGroupMessage(crypto, carolG, carol, 'leave', new Uint8Array(0), rng);
  const a = openGroupMessage(crypto, [aliceG], sent.c0, NOW)!;
  t.equal(a.type, 'leave');
  t.notOk(isMember(a.group, carol.identityKey));
  t.equal(a.group.departed.length, 1);
  t.notOk(a.group.chains.has(hexKey(carol.identityKey)));
  const after = sealGroupMessage(crypto, sent.group, carol, 'data', pass('still here?'), rng);
  throwsA(t, () => openGroupMessage(crypto, [a.group], after.c0, NOW), NotAMember);
  throwsA(t, () => sealGroupMessage(crypto, aliceG, alice, 'leave', new Uint8Array(0), rng), NotAuthorized);
});

t.test('a removed member cannot send: RemovedFromGroup, with a clear message', async (t) => {
  const removed = removedState(bobG, 1, alice.identityKey);
  throwsA(
    t,
    () => sealGroupMessage(crypto, removed, bob, 'data', pass('x'), rng),
    RemovedFromGroup,
    /you were removed from "test group"/,
  );
  t.equal(
    openGroupMessage(crypto, [removed], sealGroupMessage(crypto, aliceG, alice, 'data', pass('x'), rng).c0, NOW),
    null,
  );
});

t.test('sizes: C0 in padding classes, max datagram fits, one more byte does not', async (t) => {
  const max = maxDatagramBytes(DEFAULT_GEOMETRY);
  t.equal(max, 1381);
  const lengths = new Set<number>();
  for (const n of [0, 1, 88, 89, 300, 344, 345, 900, 1000, max]) {
    lengths.add(sealGroupMessage(crypto, aliceG, alice, 'data', new Uint8Array(n), rng).c0.length);
  }
  t.same(
    [...lengths].sort((x, y) => x - y),
    [256, 512, 1024, 1549],
  );
  const big = sealGroupMessage(crypto, aliceG, alice, 'data', new Uint8Array(max).fill(7), rng);
  t.equal(openGroupMessage(crypto, [bobG], big.c0, NOW)?.body.length, max);
  throwsA(t, () => sealGroupMessage(crypto, aliceG, alice, 'data', new Uint8Array(max + 1), rng), DatagramTooLarge);
  const unpadded = sealGroupMessage(crypto, aliceG, alice, 'data', new Uint8Array(10), rng, { pad: false });
  t.equal(unpadded.c0.length, 168 + 10);
  t.equal(SEAL_OVERHEAD, 48);
  throwsA(t, () => sealGroupMessage(crypto, aliceG, identity(), 'data', new Uint8Array(1), rng), NotAMember);
});

t.test('fuzz: decoders and openGroupMessage throw only typed errors', async (t) => {
  const sent = sealGroupMessage(crypto, aliceG, alice, 'data', pass('fuzz me'), rng);
  const outer = openSeal(crypto, aliceG.publicKey, aliceG.secretKey, sent.c0)!;
  fc.assert(
    fc.property(mutated(outer), (b) => onlyTyped(() => decodeOuter(b))),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (b) => onlyTyped(() => decodeInner(b))),
    { numRuns: 1000 },
  );
  // Mutated outer layers sealed under the real key: the full verification path.
  fc.assert(
    fc.property(mutated(outer), (b) =>
      onlyTyped(() => openGroupMessage(crypto, [bobG], seal(crypto, aliceG.publicKey, b, rng), NOW)),
    ),
    { numRuns: 800 },
  );
  fc.assert(
    fc.property(mutated(sent.c0), (b) => onlyTyped(() => openGroupMessage(crypto, [bobG, carolG], b, NOW))),
    { numRuns: 500 },
  );
  throwsA(t, () => decodeOuter(Uint8Array.of(1)), MalformedGroupMessage, /version/);
});

t.test('forward secrecy: a member state captured after message k opens none of messages 0..k', async (t) => {
  const { ids: gids, states: gst } = makeGroup(2);
  const a = gids[0]!;
  let sender = gst[0]!;
  let reader = gst[1]!;
  const sent: Uint8Array[] = [];
  for (let i = 0; i < 12; i++) {
    const m = sealGroupMessage(crypto, sender, a, 'data', pass(`morning ${i}`), rng);
    sender = m.group;
    sent.push(m.c0);
    reader = openGroupMessage(crypto, [reader], m.c0, NOW)!.group;
  }
  // The device is seized at noon: the captor gets the whole stored state, group secret key included.
  const captured = groupFromJson(JSON.parse(JSON.stringify(groupToJson(reader))));
  for (const [i, c0] of sent.entries()) {
    throwsA(
      t,
      () => openGroupMessage(crypto, [captured], c0, NOW),
      DuplicateMessage,
      undefined,
      `morning message ${i}`,
    );
    // The group key opens the outer layer only: sender and index, not the words.
    const outer = openSeal(crypto, captured.publicKey, captured.secretKey, c0)!;
    t.notOk(Buffer.from(outer).includes(Buffer.from(`morning ${i}`)), `morning message ${i} stays closed`);
  }
  // The afternoon is readable with the captured state (no post-compromise security inside an epoch).
  const noon = sealGroupMessage(crypto, sender, a, 'data', pass('afternoon'), rng);
  t.equal(text(openGroupMessage(crypto, [captured], noon.c0, NOW)!.body), 'afternoon');
});

import fc from 'fast-check';
import t from 'tap';
import { ByteWriter, concatBytes, label } from '../../src/group/bytes.js';
import { createCertificate, memberFromCertificate } from '../../src/group/certificate.js';
import {
  BadCertificate,
  BadSignature,
  DatagramTooLarge,
  DuplicateMessage,
  MalformedGroupMessage,
  NotAMember,
  NotAuthorized,
  WrongEpoch,
} from '../../src/group/errors.js';
import {
  decodeGroupMessageInner,
  encodeAnnounceBody,
  maxDatagramBytes,
  openGroupMessage,
  sealGroupMessage,
} from '../../src/group/groupMessage.js';
import { isMember } from '../../src/group/groupState.js';
import { WINDOW_BITS } from '../../src/group/sequenceWindow.js';
import { DEFAULT_GEOMETRY } from '../../src/scramble/geometry.js';
import { openSeal, SEAL_OVERHEAD, seal } from '../../src/scramble/sealedBox.js';
import { makeGroup } from './fixtures.js';
import { crypto, identity, mutated, NOW, onlyTyped, pass, rng, throwsA } from './helpers.js';

const { ids, states } = makeGroup(3);
const [alice, bob, carol] = ids as [(typeof ids)[0], (typeof ids)[0], (typeof ids)[0]];
const [aliceG, bobG, carolG] = states as [(typeof states)[0], (typeof states)[0], (typeof states)[0]];

/** Builds an inner message by hand (what an attacker holding pub_G can do). */
function handInner(opts: {
  sender: Uint8Array;
  signerSeed?: Uint8Array;
  seq?: number;
  epoch?: number;
  type?: number;
  body?: Uint8Array;
  groupId?: Uint8Array;
}): Uint8Array {
  const signed = new ByteWriter()
    .u8(1)
    .u8(opts.type ?? 1)
    .bytes(opts.groupId ?? aliceG.groupId)
    .u32(opts.epoch ?? aliceG.epoch)
    .bytes(opts.sender)
    .u64(opts.seq ?? 1000)
    .bytes16(opts.body ?? pass('forged'))
    .finish();
  const sig = opts.signerSeed
    ? crypto.ed25519Sign(opts.signerSeed, concatBytes(label('msg'), signed))
    : new Uint8Array(64).fill(1);
  return concatBytes(signed, sig);
}

t.test('a signed data message is accepted by every member', async (t) => {
  const sent = sealGroupMessage(crypto, aliceG, alice, 'data', pass('hello group'), rng);
  t.equal(sent.seq, aliceG.sendSeq);
  t.equal(sent.group.sendSeq, aliceG.sendSeq + 1, 'returned state advanced');
  t.equal(aliceG.sendSeq, sent.seq, 'input state untouched');
  for (const g of [bobG, carolG]) {
    const opened = openGroupMessage(crypto, [g], sent.c0, NOW);
    t.ok(opened);
    t.equal(opened!.type, 'data');
    t.equal(Buffer.from(opened!.body).toString(), 'hello group');
    t.same(opened!.sender.identityKey, alice.identityKey);
    t.equal(opened!.seq, sent.seq);
    t.equal(opened!.epoch, aliceG.epoch);
  }
});

t.test('trial decryption picks the right group, and returns null for strangers', async (t) => {
  const other = makeGroup(2);
  const sent = sealGroupMessage(crypto, aliceG, alice, 'data', pass('x'), rng);
  const opened = openGroupMessage(crypto, [other.states[1]!, bobG], sent.c0, NOW);
  t.equal(opened?.index, 1);
  t.equal(openGroupMessage(crypto, [other.states[1]!], sent.c0, NOW), null);
  t.equal(openGroupMessage(crypto, [bobG], rng(300), NOW), null);
});

t.test('duplicates and replays are rejected; reordering within the window is fine', async (t) => {
  let a = aliceG;
  const msgs = [];
  for (let i = 0; i < 4; i++) {
    const s = sealGroupMessage(crypto, a, alice, 'data', pass(`m${i}`), rng);
    a = s.group;
    msgs.push(s.c0);
  }
  let b = bobG;
  for (const i of [2, 0, 3, 1]) b = openGroupMessage(crypto, [b], msgs[i]!, NOW)!.group;
  for (const c0 of msgs) throwsA(t, () => openGroupMessage(crypto, [b], c0, NOW), DuplicateMessage);
  // A copy re-sealed by P2 is bitwise different but the same message.
  const inner = openSeal(crypto, aliceG.publicKey, aliceG.secretKey, msgs[0]!)!;
  throwsA(t, () => openGroupMessage(crypto, [b], seal(crypto, aliceG.publicKey, inner, rng), NOW), DuplicateMessage);
  // Far behind the window: too old.
  const far = { ...a, sendSeq: a.sendSeq + WINDOW_BITS + 10 };
  const late = sealGroupMessage(crypto, far, alice, 'data', pass('late'), rng);
  b = openGroupMessage(crypto, [b], late.c0, NOW)!.group;
  const old = sealGroupMessage(crypto, a, alice, 'data', pass('old'), rng);
  throwsA(t, () => openGroupMessage(crypto, [b], old.c0, NOW), DuplicateMessage, /too_old/);
});

t.test('a proxy holding only pub_G cannot forge: NotAMember / BadSignature', async (t) => {
  const p2 = identity();
  // Signed by a non-member key.
  const byOutsider = seal(
    crypto,
    aliceG.publicKey,
    handInner({ sender: p2.identityKey, signerSeed: p2.identitySeed }),
    rng,
  );
  throwsA(t, () => openGroupMessage(crypto, [bobG], byOutsider, NOW), NotAMember);
  // Claims to be alice without her key.
  const asAlice = seal(crypto, aliceG.publicKey, handInner({ sender: alice.identityKey }), rng);
  throwsA(t, () => openGroupMessage(crypto, [bobG], asAlice, NOW), BadSignature);
  const asAliceSignedByP2 = handInner({ sender: alice.identityKey, signerSeed: p2.identitySeed });
  throwsA(
    t,
    () => openGroupMessage(crypto, [bobG], seal(crypto, aliceG.publicKey, asAliceSignedByP2, rng), NOW),
    BadSignature,
  );
  // Modifies a genuine message's body.
  const genuine = openSeal(
    crypto,
    aliceG.publicKey,
    aliceG.secretKey,
    sealGroupMessage(crypto, aliceG, alice, 'data', pass('pay 1'), rng).c0,
  )!;
  const idx = genuine.indexOf('1'.charCodeAt(0), 60);
  genuine[idx] = '9'.charCodeAt(0);
  throwsA(t, () => openGroupMessage(crypto, [bobG], seal(crypto, aliceG.publicKey, genuine, rng), NOW), BadSignature);
});

t.test('epoch and group id must match the key that opened the message', async (t) => {
  const wrongEpoch = handInner({ sender: alice.identityKey, signerSeed: alice.identitySeed, epoch: 5 });
  throwsA(t, () => openGroupMessage(crypto, [bobG], seal(crypto, aliceG.publicKey, wrongEpoch, rng), NOW), WrongEpoch);
  const wrongGroup = handInner({ sender: alice.identityKey, signerSeed: alice.identitySeed, groupId: rng(16) });
  throwsA(
    t,
    () => openGroupMessage(crypto, [bobG], seal(crypto, aliceG.publicKey, wrongGroup, rng), NOW),
    MalformedGroupMessage,
  );
});

t.test('announce adds a certified newcomer; a forged certificate is refused', async (t) => {
  const dave = identity();
  const cert = createCertificate(
    crypto,
    {
      groupId: aliceG.groupId,
      epoch: aliceG.epoch,
      memberKey: dave.identityKey,
      memberCentralId: dave.centralId,
      inviterKey: bob.identityKey,
      issuedAtMs: NOW,
    },
    bob.identitySeed,
  );
  const daveM = memberFromCertificate(cert);
  const daveView = { ...bobG, members: [...bobG.members, daveM], sendSeq: 0, windows: new Map() };
  const ann = sealGroupMessage(crypto, daveView, dave, 'announce', encodeAnnounceBody(daveM), rng);
  const opened = openGroupMessage(crypto, [carolG], ann.c0, NOW)!;
  t.equal(opened.type, 'announce');
  t.ok(isMember(opened.group, dave.identityKey));
  t.notOk(isMember(carolG, dave.identityKey), 'input untouched');
  // Now dave's data is accepted by carol.
  const data = sealGroupMessage(crypto, ann.group, dave, 'data', pass('hi'), rng);
  t.equal(openGroupMessage(crypto, [opened.group], data.c0, NOW)?.type, 'data');

  // Mallory certifies herself with a cert "from bob" that she signed.
  const mallory = identity();
  const fake = memberFromCertificate({
    ...createCertificate(
      crypto,
      {
        groupId: aliceG.groupId,
        epoch: 0,
        memberKey: mallory.identityKey,
        memberCentralId: mallory.centralId,
        inviterKey: mallory.identityKey,
        issuedAtMs: NOW,
      },
      mallory.identitySeed,
    ),
    inviterKey: bob.identityKey,
  });
  const mView = { ...bobG, members: [...bobG.members, fake] };
  const forged = sealGroupMessage(crypto, mView, mallory, 'announce', encodeAnnounceBody(fake), rng);
  throwsA(t, () => openGroupMessage(crypto, [carolG], forged.c0, NOW), BadCertificate);
});

t.test('leave: the leaver is dropped; the admin cannot leave this way', async (t) => {
  const left = sealGroupMessage(crypto, carolG, carol, 'leave', new Uint8Array(0), rng);
  const a = openGroupMessage(crypto, [aliceG], left.c0, NOW)!;
  t.equal(a.type, 'leave');
  t.notOk(isMember(a.group, carol.identityKey));
  const after = sealGroupMessage(crypto, left.group, carol, 'data', pass('still here?'), rng);
  throwsA(t, () => openGroupMessage(crypto, [a.group], after.c0, NOW), NotAMember);
  throwsA(t, () => sealGroupMessage(crypto, aliceG, alice, 'leave', new Uint8Array(0), rng), NotAuthorized);
  throwsA(t, () => sealGroupMessage(crypto, bobG, bob, 'rekey', new Uint8Array(38), rng), NotAuthorized);
});

t.test('sizes: padding to size classes, max datagram fits, one more byte does not', async (t) => {
  const max = maxDatagramBytes(DEFAULT_GEOMETRY);
  t.equal(max, 1373);
  const lengths = new Set<number>();
  for (const n of [0, 1, 100, 128, 129, 300, 500, 900, 1000, max]) {
    lengths.add(sealGroupMessage(crypto, aliceG, alice, 'data', new Uint8Array(n), rng).c0.length);
  }
  t.same(
    [...lengths].sort((x, y) => x - y),
    [256 + SEAL_OVERHEAD, 512 + SEAL_OVERHEAD, 1024 + SEAL_OVERHEAD, 1501 + SEAL_OVERHEAD],
  );
  const big = sealGroupMessage(crypto, aliceG, alice, 'data', new Uint8Array(max).fill(7), rng);
  t.equal(openGroupMessage(crypto, [bobG], big.c0, NOW)?.body.length, max);
  throwsA(t, () => sealGroupMessage(crypto, aliceG, alice, 'data', new Uint8Array(max + 1), rng), DatagramTooLarge);
  const unpadded = sealGroupMessage(crypto, aliceG, alice, 'data', new Uint8Array(10), rng, { pad: false });
  t.equal(unpadded.c0.length, 128 + 10 + SEAL_OVERHEAD);
  t.equal(openGroupMessage(crypto, [bobG], unpadded.c0, NOW)?.body.length, 10);
  throwsA(t, () => sealGroupMessage(crypto, aliceG, identity(), 'data', new Uint8Array(1), rng), NotAMember);
});

t.test('fuzz: decoders and openGroupMessage throw only typed errors', async () => {
  const sent = sealGroupMessage(crypto, aliceG, alice, 'data', pass('fuzz me'), rng);
  const inner = openSeal(crypto, aliceG.publicKey, aliceG.secretKey, sent.c0)!;
  const ann = openSeal(
    crypto,
    aliceG.publicKey,
    aliceG.secretKey,
    sealGroupMessage(crypto, aliceG, alice, 'announce', encodeAnnounceBody(aliceG.members[1]!), rng).c0,
  )!;
  fc.assert(
    fc.property(mutated(inner), (b) => onlyTyped(() => decodeGroupMessageInner(b))),
    { numRuns: 2000 },
  );
  // Mutated inner messages sealed under the real key: the full verification path.
  fc.assert(
    fc.property(fc.oneof(mutated(inner), mutated(ann)), (b) =>
      onlyTyped(() => openGroupMessage(crypto, [bobG], seal(crypto, aliceG.publicKey, b, rng), NOW)),
    ),
    { numRuns: 800 },
  );
  // Mutated C0 on the wire.
  fc.assert(
    fc.property(mutated(sent.c0), (b) => onlyTyped(() => openGroupMessage(crypto, [bobG, carolG], b, NOW))),
    { numRuns: 500 },
  );
});

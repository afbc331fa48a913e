import fc from 'fast-check';
import t from 'tap';
import { encryptionKeyOf } from '../../src/group/address.js';
import { acceptAnnounce, announceSelf } from '../../src/group/announce.js';
import { ByteWriter } from '../../src/group/bytes.js';
import { createCertificate, memberFromCertificate } from '../../src/group/certificate.js';
import { DIRECT_KIND, sealDirect } from '../../src/group/direct.js';
import {
  BadCertificate,
  DuplicateMessage,
  InviteExpired,
  InviteParamsRejected,
  MalformedInvite,
  NotAMember,
  NotAuthorized,
  Rollback,
  WrongPassphrase,
} from '../../src/group/errors.js';
import { openGroupMessage, sealGroupMessage } from '../../src/group/groupMessage.js';
import { createGroup, type GroupState } from '../../src/group/groupState.js';
import { pendingInviteToJson } from '../../src/group/groupStore.js';
import {
  createInvite,
  DEFAULT_INVITE_KDF,
  decodeInviteContent,
  INVITE_KDF_LIMITS,
  INVITE_MAX_AGE_MS,
  inviteId,
  openInvite,
  type PendingInvite,
  unlockInvite,
} from '../../src/group/invite.js';
import { createRekey } from '../../src/group/rekey.js';
import { seal } from '../../src/scramble/sealedBox.js';
import { makeGroup } from './fixtures.js';
import {
  addressOf,
  crypto,
  identity,
  mutated,
  NOW,
  onlyTyped,
  pass,
  rng,
  TEST_KDF,
  TINY_KDF,
  throwsA,
} from './helpers.js';
import { applyDirect } from './world.js';

const alice = identity();
const bob = identity();
const carol = identity();
const group = createGroup(crypto, 'friends', alice, rng, NOW);

t.test('defaults', async (t) => {
  t.same(DEFAULT_INVITE_KDF, { opsLimit: 3, memLimitBytes: 64 * 1024 * 1024 });
  t.equal(INVITE_KDF_LIMITS.maxOps, 4, 'issue 10 F10: at most 4 passes');
  t.equal(INVITE_KDF_LIMITS.maxMemBytes, 256 * 1024 * 1024, 'issue 10 F10: at most 256 MiB');
});

t.test('invite: wrong passphrase keeps the invite, right one joins, announce adds the member', async (t) => {
  const { sealed, id } = createInvite(crypto, group, alice, addressOf(bob), pass('correct horse'), TEST_KDF, rng, NOW);
  t.equal(openInvite(crypto, carol.identitySeed, sealed), null, 'not sealed to carol: null');
  const pending = openInvite(crypto, bob.identitySeed, sealed);
  t.ok(pending);
  const p = pending as PendingInvite;
  t.equal(p.opsLimit, TEST_KDF.opsLimit);
  t.equal(p.memLimitBytes, TEST_KDF.memLimitBytes);
  const before = JSON.stringify(pendingInviteToJson(p));

  try {
    unlockInvite(crypto, p, pass('wrong horse'), NOW + 1000, rng);
    t.fail('wrong passphrase accepted');
  } catch (err) {
    t.ok(err instanceof WrongPassphrase);
    t.equal((err as Error).message, 'wrong passphrase for this invite; the invite is kept, try again');
  }
  t.equal(JSON.stringify(pendingInviteToJson(p)), before, 'pending invite unchanged');
  t.equal(inviteId(p).length, 32);
  t.equal(inviteId(p), id, 'the inviter and the invitee see the same invite id');

  const joined = unlockInvite(crypto, p, pass('correct horse'), NOW + 2000, rng);
  t.same(joined.groupId, group.groupId);
  t.equal(joined.name, 'friends');
  t.equal(joined.epoch, group.epoch);
  t.same(joined.publicKey, group.publicKey);
  t.same(joined.secretKey, group.secretKey);
  t.same(joined.admins, [alice.identityKey]);
  t.same(joined.epochActor, group.epochActor);
  t.ok(joined.chains.has(Buffer.from(alice.identityKey).toString('hex')), "the inviter's chain came with the invite");
  t.equal(joined.members.length, 2);
  const me = joined.members.find((m) => Buffer.from(m.identityKey).equals(Buffer.from(bob.identityKey)));
  t.ok(me, 'the joiner finds itself');
  t.same(me?.certificate.inviterKey, alice.identityKey);

  // The inviter's state did not change; the announce adds bob there.
  t.equal(group.members.length, 1);
  const ann = announceSelf(crypto, joined, bob);
  const opened = acceptAnnounce(crypto, alice.identityKey, [group], ann);
  t.ok(opened.added);
  t.equal(opened.group.members.length, 2);
  // Bob's first message reaches alice through the chain bob announced.
  const hello = sealGroupMessage(crypto, joined, bob, 'data', pass('hi'), rng);
  t.equal(Buffer.from(openGroupMessage(crypto, [opened.group], hello.c0, NOW)!.body).toString(), 'hi');
});

t.test('invite to a bad address or by a non-member is refused locally', async (t) => {
  throwsA(t, () => createInvite(crypto, group, alice, 'nope', pass('x'), TINY_KDF, rng, NOW), Error, /"@"/);
  t.throws(
    () => createInvite(crypto, group, alice, addressOf(alice), pass('x'), TINY_KDF, rng, NOW),
    /already a member/,
  );
  throwsA(t, () => createInvite(crypto, group, carol, addressOf(bob), pass('x'), TINY_KDF, rng, NOW), NotAMember);
  t.throws(() => createInvite(crypto, group, alice, addressOf(bob), pass(''), TINY_KDF, rng, NOW));
  t.throws(() =>
    createInvite(crypto, group, alice, addressOf(bob), pass('x'), { opsLimit: 0, memLimitBytes: 65536 }, rng, NOW),
  );
});

function rawInvite(opsLimit: number, memLimitBytes: number, alg = 1): Uint8Array {
  const body = new ByteWriter()
    .u8(alg)
    .u32(opsLimit)
    .u32(memLimitBytes)
    .bytes(rng(16))
    .bytes(rng(24))
    .bytes(rng(80))
    .finish();
  return sealDirect(crypto, bob.identityKey, DIRECT_KIND.invite, body, rng);
}

t.test('received KDF parameters are capped (DoS guard) and floored', async (t) => {
  t.ok(openInvite(crypto, bob.identitySeed, rawInvite(4, 256 * 1024 ** 2)), 'at the caps: accepted');
  t.ok(openInvite(crypto, bob.identitySeed, rawInvite(1, 8192)), 'at the floors: accepted');
  throwsA(t, () => openInvite(crypto, bob.identitySeed, rawInvite(5, 65536)), InviteParamsRejected, /opsLimit/);
  throwsA(t, () => openInvite(crypto, bob.identitySeed, rawInvite(20, 1024 ** 3)), InviteParamsRejected, /opsLimit/);
  throwsA(t, () => openInvite(crypto, bob.identitySeed, rawInvite(0, 65536)), InviteParamsRejected, /opsLimit/);
  throwsA(
    t,
    () => openInvite(crypto, bob.identitySeed, rawInvite(1, 256 * 1024 ** 2 + 1)),
    InviteParamsRejected,
    /mem/,
  );
  throwsA(t, () => openInvite(crypto, bob.identitySeed, rawInvite(1, 8191)), InviteParamsRejected, /mem/);
  throwsA(t, () => openInvite(crypto, bob.identitySeed, rawInvite(1, 65536, 9)), MalformedInvite, /algorithm/);
  // A stored pending invite is checked again before any KDF work.
  const p = openInvite(crypto, bob.identitySeed, rawInvite(1, 8192)) as PendingInvite;
  throwsA(t, () => unlockInvite(crypto, { ...p, memLimitBytes: 2 ** 31 }, pass('x'), NOW, rng), InviteParamsRejected);
});

t.test('expired invite refused', async (t) => {
  const { sealed } = createInvite(crypto, group, alice, addressOf(bob), pass('pw'), TINY_KDF, rng, NOW);
  const p = openInvite(crypto, bob.identitySeed, sealed) as PendingInvite;
  throwsA(t, () => unlockInvite(crypto, p, pass('pw'), NOW + INVITE_MAX_AGE_MS + 1, rng), InviteExpired);
  t.ok(unlockInvite(crypto, p, pass('pw'), NOW + INVITE_MAX_AGE_MS, rng));
});

t.test('forged membership inside an invite is refused', async (t) => {
  // Mallory holds a copy of the group secret and list (e.g. stolen) and adds herself with a
  // self-signed certificate, then invites bob with a passphrase she got hold of.
  const mallory = identity();
  const selfCert = createCertificate(
    crypto,
    {
      groupId: group.groupId,
      epoch: 0,
      memberKey: mallory.identityKey,
      memberCentralId: mallory.centralId,
      inviterKey: mallory.identityKey,
      issuedAtMs: NOW,
    },
    mallory.identitySeed,
  );
  const forged: GroupState = { ...group, members: [...group.members, memberFromCertificate(selfCert)] };
  const { sealed } = createInvite(crypto, forged, mallory, addressOf(bob), pass('pw'), TINY_KDF, rng, NOW);
  const p = openInvite(crypto, bob.identitySeed, sealed) as PendingInvite;
  throwsA(
    t,
    () => unlockInvite(crypto, p, pass('pw'), NOW, rng),
    BadCertificate,
    /self-signed certificate of a non-creator/,
  );

  // Mallory claims alice certified her, with her own signature.
  const claimed = memberFromCertificate({ ...selfCert, inviterKey: alice.identityKey });
  const forged2: GroupState = { ...group, members: [...group.members, claimed] };
  const sealed2 = createInvite(crypto, forged2, mallory, addressOf(bob), pass('pw'), TINY_KDF, rng, NOW).sealed;
  const p2 = openInvite(crypto, bob.identitySeed, sealed2) as PendingInvite;
  throwsA(t, () => unlockInvite(crypto, p2, pass('pw'), NOW, rng), BadCertificate, /does not verify/);
});

t.test('chains at the inviter position: the joiner cannot read messages sent before it joined', async (t) => {
  const { ids, states } = makeGroup(2);
  const sent = sealGroupMessage(crypto, states[1]!, ids[1]!, 'data', pass('before dave'), rng);
  const aliceView = openGroupMessage(crypto, [states[0]!], sent.c0, NOW)!.group;
  const dave = identity();
  const { sealed } = createInvite(crypto, aliceView, ids[0]!, addressOf(dave), pass('pw'), TINY_KDF, rng, NOW);
  const joined = unlockInvite(
    crypto,
    openInvite(crypto, dave.identitySeed, sealed) as PendingInvite,
    pass('pw'),
    NOW,
    rng,
  );
  t.equal(joined.sendChain.index, 0);
  throwsA(t, () => openGroupMessage(crypto, [joined], sent.c0, NOW), DuplicateMessage);
  const next = sealGroupMessage(crypto, sent.group, ids[1]!, 'data', pass('after dave'), rng);
  t.equal(openGroupMessage(crypto, [joined], next.c0, NOW)?.type, 'data');
});

t.test('no rollback: an invite not newer than the group state held is refused with a clear message', async (t) => {
  const { ids, states } = makeGroup(2);
  const dave = identity();
  const { sealed } = createInvite(crypto, states[0]!, ids[0]!, addressOf(dave), pass('pw'), TINY_KDF, rng, NOW);
  const p = openInvite(crypto, dave.identitySeed, sealed) as PendingInvite;
  const gid = states[0]!.groupId;
  const same = (g: Uint8Array) => Buffer.from(g).equals(Buffer.from(gid));
  throwsA(
    t,
    () =>
      unlockInvite(crypto, p, pass('pw'), NOW, rng, {
        held: (g) => (same(g) ? { epoch: 3, status: 'member' } : undefined),
      }),
    Rollback,
    /invite is for epoch 0 of "test group", and we already hold epoch 3: an old invite cannot roll the group back/,
  );
  throwsA(
    t,
    () => unlockInvite(crypto, p, pass('pw'), NOW, rng, { held: () => ({ epoch: 0, status: 'member' }) }),
    Rollback,
    undefined,
    'the same epoch again (a replay) is refused too',
  );
  throwsA(
    t,
    () => unlockInvite(crypto, p, pass('pw'), NOW, rng, { held: () => ({ epoch: 0, status: 'left' }) }),
    Rollback,
  );
  t.ok(
    unlockInvite(crypto, p, pass('pw'), NOW, rng, { held: () => ({ epoch: 0, status: 'removed' }) }),
    'a removed member may be re-invited in the epoch that removed it',
  );
  t.ok(unlockInvite(crypto, p, pass('pw'), NOW, rng, { held: () => undefined }), 'a group we do not hold');
});

t.test('revocations travel in invites; only an admin can invite a removed member back', async (t) => {
  const { ids, states } = makeGroup(3);
  const [alice, bob, carol] = ids as [(typeof ids)[0], (typeof ids)[0], (typeof ids)[0]];
  const r = createRekey(crypto, states[0]!, alice, [alice.identityKey, bob.identityKey], rng, NOW);
  const bobState = applyDirect(crypto, bob, states[1]!, r.perMember[0]!.sealed).state;
  t.equal(bobState.revoked.length, 1);
  throwsA(
    t,
    () => createInvite(crypto, bobState, bob, addressOf(carol), pass('pw'), TINY_KDF, rng, NOW),
    NotAuthorized,
    /only an admin can invite it back/,
  );
  // Bob bypasses his own client's check by dropping the list: his invitee is fooled, the members are not.
  const sneaky = createInvite(
    crypto,
    { ...bobState, revoked: [] },
    bob,
    addressOf(carol),
    pass('pw'),
    TINY_KDF,
    rng,
    NOW,
  );
  const fromBob = unlockInvite(crypto, openInvite(crypto, carol.identitySeed, sneaky.sealed)!, pass('pw'), NOW, rng);
  t.equal(fromBob.revoked.length, 0, 'an inviter that drops the list only fools its invitee...');
  throwsA(
    t,
    () => acceptAnnounce(crypto, alice.identityKey, [r.newState], announceSelf(crypto, fromBob, carol)),
    NotAuthorized,
    /only an admin can invite it back/,
    '...the members still refuse the announce',
  );
  const byAdmin = createInvite(crypto, r.newState, alice, addressOf(carol), pass('pw'), TINY_KDF, rng, NOW);
  const back = unlockInvite(crypto, openInvite(crypto, carol.identitySeed, byAdmin.sealed)!, pass('pw'), NOW, rng);
  const accepted = acceptAnnounce(crypto, bob.identityKey, [bobState], announceSelf(crypto, back, carol));
  t.ok(accepted.added, 'the admin re-admits carol');
  t.equal(accepted.group.revoked.length, 0, 'and her revocation is lifted');
  // A joiner gets the signed list: dave, invited by bob, learns carol was removed.
  const dave = identity();
  const d = createInvite(crypto, bobState, bob, addressOf(dave), pass('pw'), TINY_KDF, rng, NOW);
  const daveState = unlockInvite(crypto, openInvite(crypto, dave.identitySeed, d.sealed)!, pass('pw'), NOW, rng);
  t.equal(daveState.revoked.length, 1);
  t.same(daveState.revoked[0]!.memberKey, carol.identityKey);
});

t.test('fuzz: openInvite / decodeInviteContent / unlockInvite throw only typed errors', async () => {
  const { sealed } = createInvite(crypto, group, alice, addressOf(bob), pass('pw'), TINY_KDF, rng, NOW);
  const p = openInvite(crypto, bob.identitySeed, sealed) as PendingInvite;
  const key = crypto.argon2id(pass('pw'), p.salt, p.opsLimit, p.memLimitBytes, 32);
  const plain = crypto.secretboxOpenEasy(p.ciphertext, p.nonce, key) as Uint8Array;
  decodeInviteContent(plain);

  fc.assert(
    fc.property(mutated(plain), (b) => onlyTyped(() => decodeInviteContent(b))),
    { numRuns: 1500 },
  );
  // The whole unlock path on mutated content that still decrypts (as if the inviter were hostile).
  // A fixed key stands in for the passphrase so that each run costs no KDF.
  const nonce = rng(24);
  const fixedKdf = (content: Uint8Array): PendingInvite => ({
    ...p,
    nonce,
    ciphertext: crypto.secretboxEasy(content, nonce, key),
  });
  fc.assert(
    fc.property(mutated(plain), (b) => onlyTyped(() => unlockInvite(crypto, fixedKdf(b), pass('pw'), NOW, rng))),
    { numRuns: 300 },
  );
  // Outer layers: mutated seals (almost always null) and random bodies sealed to bob.
  fc.assert(
    fc.property(mutated(sealed), (b) => onlyTyped(() => openInvite(crypto, bob.identitySeed, b))),
    { numRuns: 500 },
  );
  const bobX = encryptionKeyOf(crypto, bob.identityKey);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat({ max: 3 }), fc.nat({ max: 2 }), (body, kind, version) => {
      const inner = new Uint8Array(body.length + 2);
      inner[0] = version;
      inner[1] = kind;
      inner.set(body, 2);
      return onlyTyped(() => openInvite(crypto, bob.identitySeed, seal(crypto, bobX, inner, rng)));
    }),
    { numRuns: 500 },
  );
});

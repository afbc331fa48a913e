import fc from 'fast-check';
import t from 'tap';
import { encryptionKeyOf } from '../../src/group/address.js';
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
  WrongPassphrase,
} from '../../src/group/errors.js';
import { announceSelf, openGroupMessage, sealGroupMessage } from '../../src/group/groupMessage.js';
import { createGroup, type GroupState } from '../../src/group/groupState.js';
import { pendingInviteToJson } from '../../src/group/groupStore.js';
import {
  createInvite,
  DEFAULT_INVITE_KDF,
  decodeInviteContent,
  INVITE_MAX_AGE_MS,
  inviteId,
  openInvite,
  type PendingInvite,
  unlockInvite,
} from '../../src/group/invite.js';
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

const alice = identity();
const bob = identity();
const carol = identity();
const group = createGroup(crypto, 'friends', alice, rng, NOW);

t.test('defaults', async (t) => {
  t.same(DEFAULT_INVITE_KDF, { opsLimit: 3, memLimitBytes: 64 * 1024 * 1024 });
});

t.test('invite: wrong passphrase keeps the invite, right one joins, announce adds the member', async (t) => {
  const sealed = createInvite(crypto, group, alice, addressOf(bob), pass('correct horse'), TEST_KDF, rng, NOW);
  t.equal(openInvite(crypto, carol.identitySeed, sealed), null, 'not sealed to carol: null');
  const pending = openInvite(crypto, bob.identitySeed, sealed);
  t.ok(pending);
  const p = pending as PendingInvite;
  t.equal(p.opsLimit, TEST_KDF.opsLimit);
  t.equal(p.memLimitBytes, TEST_KDF.memLimitBytes);
  const before = JSON.stringify(pendingInviteToJson(p));

  try {
    unlockInvite(crypto, p, pass('wrong horse'), NOW + 1000);
    t.fail('wrong passphrase accepted');
  } catch (err) {
    t.ok(err instanceof WrongPassphrase);
    t.equal((err as Error).message, 'wrong passphrase for this invite; the invite is kept, try again');
  }
  t.equal(JSON.stringify(pendingInviteToJson(p)), before, 'pending invite unchanged');
  t.equal(inviteId(p).length, 32);

  const joined = unlockInvite(crypto, p, pass('correct horse'), NOW + 2000);
  t.same(joined.groupId, group.groupId);
  t.equal(joined.name, 'friends');
  t.equal(joined.epoch, group.epoch);
  t.same(joined.publicKey, group.publicKey);
  t.same(joined.secretKey, group.secretKey);
  t.same(joined.admin, alice.identityKey);
  t.equal(joined.members.length, 2);
  const me = joined.members.find((m) => Buffer.from(m.identityKey).equals(Buffer.from(bob.identityKey)));
  t.ok(me, 'the joiner finds itself');
  t.same(me?.certificate.inviterKey, alice.identityKey);

  // The inviter's state did not change; the announce adds bob there.
  t.equal(group.members.length, 1);
  const ann = announceSelf(crypto, joined, bob, rng);
  const opened = openGroupMessage(crypto, [group], ann.c0, NOW + 3000);
  t.equal(opened?.type, 'announce');
  t.equal(opened?.group.members.length, 2);
});

t.test('invite to a bad address or by a non-member is refused locally', async (t) => {
  throwsA(t, () => createInvite(crypto, group, alice, 'nope', pass('x'), TINY_KDF, rng, NOW), Error, /"@"/);
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
  t.ok(openInvite(crypto, bob.identitySeed, rawInvite(20, 1024 ** 3)), 'at the caps: accepted');
  t.ok(openInvite(crypto, bob.identitySeed, rawInvite(1, 8192)), 'at the floors: accepted');
  throwsA(t, () => openInvite(crypto, bob.identitySeed, rawInvite(21, 65536)), InviteParamsRejected, /opsLimit/);
  throwsA(t, () => openInvite(crypto, bob.identitySeed, rawInvite(0, 65536)), InviteParamsRejected, /opsLimit/);
  throwsA(t, () => openInvite(crypto, bob.identitySeed, rawInvite(1, 1024 ** 3 + 1)), InviteParamsRejected, /mem/);
  throwsA(t, () => openInvite(crypto, bob.identitySeed, rawInvite(1, 8191)), InviteParamsRejected, /mem/);
  throwsA(t, () => openInvite(crypto, bob.identitySeed, rawInvite(1, 65536, 9)), MalformedInvite, /algorithm/);
  // A stored pending invite is checked again before any KDF work.
  const p = openInvite(crypto, bob.identitySeed, rawInvite(1, 8192)) as PendingInvite;
  throwsA(t, () => unlockInvite(crypto, { ...p, memLimitBytes: 2 ** 31 }, pass('x'), NOW), InviteParamsRejected);
});

t.test('expired invite refused', async (t) => {
  const sealed = createInvite(crypto, group, alice, addressOf(bob), pass('pw'), TINY_KDF, rng, NOW);
  const p = openInvite(crypto, bob.identitySeed, sealed) as PendingInvite;
  throwsA(t, () => unlockInvite(crypto, p, pass('pw'), NOW + INVITE_MAX_AGE_MS + 1), InviteExpired);
  t.ok(unlockInvite(crypto, p, pass('pw'), NOW + INVITE_MAX_AGE_MS));
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
  const sealed = createInvite(crypto, forged, mallory, addressOf(bob), pass('pw'), TINY_KDF, rng, NOW);
  const p = openInvite(crypto, bob.identitySeed, sealed) as PendingInvite;
  throwsA(
    t,
    () => unlockInvite(crypto, p, pass('pw'), NOW),
    BadCertificate,
    /self-signed certificate of a non-creator/,
  );

  // Mallory claims alice certified her, with her own signature.
  const claimed = memberFromCertificate({ ...selfCert, inviterKey: alice.identityKey });
  const forged2: GroupState = { ...group, members: [...group.members, claimed] };
  const sealed2 = createInvite(crypto, forged2, mallory, addressOf(bob), pass('pw'), TINY_KDF, rng, NOW);
  const p2 = openInvite(crypto, bob.identitySeed, sealed2) as PendingInvite;
  throwsA(t, () => unlockInvite(crypto, p2, pass('pw'), NOW), BadCertificate, /does not verify/);
});

t.test('invite snapshot of replay windows: the joiner refuses messages sent before it joined', async (t) => {
  const { ids, states } = makeGroup(2);
  const sent = sealGroupMessage(crypto, states[1]!, ids[1]!, 'data', pass('before dave'), rng);
  const aliceView = openGroupMessage(crypto, [states[0]!], sent.c0, NOW)!.group;
  const dave = identity();
  const sealed = createInvite(crypto, aliceView, ids[0]!, addressOf(dave), pass('pw'), TINY_KDF, rng, NOW);
  const joined = unlockInvite(crypto, openInvite(crypto, dave.identitySeed, sealed) as PendingInvite, pass('pw'), NOW);
  t.equal(joined.sendSeq, 0);
  throwsA(t, () => openGroupMessage(crypto, [joined], sent.c0, NOW), DuplicateMessage);
  const next = sealGroupMessage(crypto, sent.group, ids[1]!, 'data', pass('after dave'), rng);
  t.equal(openGroupMessage(crypto, [joined], next.c0, NOW)?.type, 'data');
});

t.test('fuzz: openInvite / decodeInviteContent / unlockInvite throw only typed errors', async () => {
  const sealed = createInvite(crypto, group, alice, addressOf(bob), pass('pw'), TINY_KDF, rng, NOW);
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
    fc.property(mutated(plain), (b) => onlyTyped(() => unlockInvite(crypto, fixedKdf(b), pass('pw'), NOW))),
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

import fc from 'fast-check';
import t from 'tap';
import {
  CERTIFICATE_BYTES,
  createCertificate,
  decodeCertificate,
  encodeCertificate,
  memberFromCertificate,
  verifyCertificate,
  verifyMemberList,
  verifyNewcomer,
} from '../../src/group/certificate.js';
import { BadCertificate, GroupError, MalformedCertificate } from '../../src/group/errors.js';
import { createGroup } from '../../src/group/groupState.js';
import { crypto, identity, mutated, NOW, onlyTyped, rng, throwsA } from './helpers.js';

const alice = identity();
const bob = identity();
const mallory = identity();
const group = createGroup(crypto, 'friends', alice, rng, NOW);

function certFor(member: typeof bob, inviter: typeof alice, epoch = 0) {
  return createCertificate(
    crypto,
    {
      groupId: group.groupId,
      epoch,
      memberKey: member.identityKey,
      memberCentralId: member.centralId,
      inviterKey: inviter.identityKey,
      issuedAtMs: NOW,
    },
    inviter.identitySeed,
  );
}

t.test('certificate encode/decode/verify', async (t) => {
  const cert = certFor(bob, alice);
  const bytes = encodeCertificate(cert);
  t.equal(bytes.length, CERTIFICATE_BYTES);
  t.equal(CERTIFICATE_BYTES, 167);
  const back = decodeCertificate(bytes);
  t.same(back, cert);
  t.ok(verifyCertificate(crypto, back));
});

t.test('any changed field breaks the signature', async (t) => {
  const bytes = encodeCertificate(certFor(bob, alice));
  for (let i = 1; i < bytes.length; i++) {
    const bad = bytes.slice();
    bad[i] = (bad[i] as number) ^ 0x01;
    let verified = false;
    try {
      verified = verifyCertificate(crypto, decodeCertificate(bad));
    } catch (err) {
      t.ok(err instanceof MalformedCertificate, `byte ${i} refused by the decoder`);
    }
    t.notOk(verified, `byte ${i}`);
  }
});

t.test('newcomer checks: inviter must be (or have been) a member', async (t) => {
  const okCert = memberFromCertificate(certFor(bob, alice));
  verifyNewcomer(crypto, group.groupId, group.epoch, group.members, [], okCert);
  t.pass('certified by a member');

  // Mallory is no member: her certificate for herself or anyone is refused.
  const forged = memberFromCertificate(certFor(bob, mallory));
  throwsA(t, () => verifyNewcomer(crypto, group.groupId, 0, group.members, [], forged), BadCertificate);
  const selfSigned = memberFromCertificate(certFor(mallory, mallory));
  throwsA(t, () => verifyNewcomer(crypto, group.groupId, 0, group.members, [], selfSigned), BadCertificate);

  // Mallory claims alice signed: signature fails.
  const claimed = { ...certFor(bob, mallory), inviterKey: alice.identityKey };
  throwsA(
    t,
    () => verifyNewcomer(crypto, group.groupId, 0, group.members, [], memberFromCertificate(claimed)),
    BadCertificate,
    /does not verify/,
  );

  // A former member's certificates stay valid.
  const carol = identity();
  const byBob = memberFromCertificate(certFor(carol, bob));
  verifyNewcomer(crypto, group.groupId, 0, group.members, [okCert], byBob);
  t.pass('certified by a former member');

  // Certificate from the future epoch refused.
  const future = memberFromCertificate(certFor(bob, alice, 5));
  throwsA(
    t,
    () => verifyNewcomer(crypto, group.groupId, 0, group.members, [], future),
    BadCertificate,
    /after the group epoch/,
  );

  // Other group.
  const other = createGroup(crypto, 'other', alice, rng, NOW);
  throwsA(
    t,
    () => verifyNewcomer(crypto, other.groupId, 0, other.members, [], okCert),
    BadCertificate,
    /another group/,
  );
});

t.test('member lists: root is the creator only, no duplicates, inviters known', async (t) => {
  const bobM = memberFromCertificate(certFor(bob, alice));
  const root = group.members[0]!;
  verifyMemberList(crypto, group.groupId, 0, alice.identityKey, [root, bobM], []);
  t.pass('valid list');
  throwsA(
    t,
    () => verifyMemberList(crypto, group.groupId, 0, alice.identityKey, [root, bobM, bobM], []),
    BadCertificate,
    /twice/,
  );
  const malloryRoot = memberFromCertificate(certFor(mallory, mallory));
  throwsA(
    t,
    () => verifyMemberList(crypto, group.groupId, 0, alice.identityKey, [root, malloryRoot], []),
    BadCertificate,
    /self-signed certificate of a non-creator/,
  );
  const orphan = memberFromCertificate(certFor(bob, mallory));
  throwsA(
    t,
    () => verifyMemberList(crypto, group.groupId, 0, alice.identityKey, [root, orphan], []),
    BadCertificate,
    /never a member/,
  );
  // Alice left: kept as a former member, her invitee stays valid.
  verifyMemberList(crypto, group.groupId, 0, alice.identityKey, [bobM], [root]);
  t.pass('former member as inviter');
  throwsA(t, () => verifyMemberList(crypto, group.groupId, 0, alice.identityKey, [], [root]), BadCertificate, /empty/);
});

t.test('fuzz: decodeCertificate throws only typed errors', async (t) => {
  const valid = encodeCertificate(certFor(bob, alice));
  fc.assert(
    fc.property(mutated(valid), (b) =>
      onlyTyped(() => {
        const c = decodeCertificate(b);
        verifyCertificate(crypto, c);
      }),
    ),
    { numRuns: 1500 },
  );
  throwsA(t, () => decodeCertificate(valid.subarray(0, 100)), MalformedCertificate, /truncated/);
  throwsA(t, () => decodeCertificate(new Uint8Array(0)), GroupError);
});

import fc from 'fast-check';
import t from 'tap';
import {
  CERTIFICATE_BYTES,
  checkCertificate,
  createCertificate,
  decodeCertificate,
  encodeCertificate,
  memberFromCertificate,
  memberSinceBefore,
  verifyCertificate,
  verifyMemberList,
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

t.test('checkCertificate: entry matches, group, epoch not in the future, signature', async (t) => {
  const okCert = memberFromCertificate(certFor(bob, alice));
  checkCertificate(crypto, group.groupId, group.epoch, okCert);
  t.pass('certified by a member');
  // Mallory claims alice signed: signature fails.
  const claimed = { ...certFor(bob, mallory), inviterKey: alice.identityKey };
  throwsA(
    t,
    () => checkCertificate(crypto, group.groupId, 0, memberFromCertificate(claimed)),
    BadCertificate,
    /does not verify/,
  );
  const future = memberFromCertificate(certFor(bob, alice, 5));
  throwsA(t, () => checkCertificate(crypto, group.groupId, 0, future), BadCertificate, /after the group epoch/);
  const other = createGroup(crypto, 'other', alice, rng, NOW);
  throwsA(t, () => checkCertificate(crypto, other.groupId, 0, okCert), BadCertificate, /another group/);
  throwsA(
    t,
    () => checkCertificate(crypto, group.groupId, 0, { ...okCert, identityKey: mallory.identityKey }),
    BadCertificate,
    /does not match/,
  );
});

t.test('member lists: root is the creator only, no duplicates', async (t) => {
  const bobM = memberFromCertificate(certFor(bob, alice));
  const root = group.members[0]!;
  verifyMemberList(crypto, group.groupId, 0, alice.identityKey, [root, bobM]);
  t.pass('valid list');
  throwsA(
    t,
    () => verifyMemberList(crypto, group.groupId, 0, alice.identityKey, [root, bobM, bobM]),
    BadCertificate,
    /twice/,
  );
  const malloryRoot = memberFromCertificate(certFor(mallory, mallory));
  throwsA(
    t,
    () => verifyMemberList(crypto, group.groupId, 0, alice.identityKey, [root, malloryRoot]),
    BadCertificate,
    /self-signed certificate of a non-creator/,
  );
  throwsA(t, () => verifyMemberList(crypto, group.groupId, 0, alice.identityKey, []), BadCertificate, /empty/);
  t.ok(memberSinceBefore(root, 0), 'the root counts as a member since before any epoch');
  t.notOk(memberSinceBefore(bobM, 0), 'a certificate of epoch 0 joined during epoch 0');
  t.ok(memberSinceBefore(bobM, 1));
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

import fc from 'fast-check';
import t from 'tap';
import { DIRECT_KIND, openDirect, sealDirect } from '../../src/group/direct.js';
import { BadSignature, NotAMember, NotAuthorized, WrongEpoch } from '../../src/group/errors.js';
import { openGroupMessage, sealGroupMessage } from '../../src/group/groupMessage.js';
import { type GroupState, isMember } from '../../src/group/groupState.js';
import { openInvite } from '../../src/group/invite.js';
import {
  createRekey,
  DEFAULT_REKEY_GRACE_MS,
  decodeRekeyContent,
  leaveGroup,
  openRekey,
  rotateGroupKey,
} from '../../src/group/rekey.js';
import { decodeRekeyNotice, encodeRekeyNotice } from '../../src/group/rekeyNotice.js';
import { makeGroup } from './fixtures.js';
import { crypto, mutated, NOW, onlyTyped, pass, rng, throwsA } from './helpers.js';

const keysOf = (g: GroupState) => g.members.map((m) => m.identityKey);

t.test('removal: the removed member cannot open later messages, the others can', async (t) => {
  const { ids, states } = makeGroup(3);
  const [alice, bob, carol] = ids as [(typeof ids)[0], (typeof ids)[0], (typeof ids)[0]];
  const r = createRekey(crypto, states[0]!, alice, [alice.identityKey, bob.identityKey], rng, NOW);
  t.equal(r.newState.epoch, 1);
  t.equal(r.perMember.length, 1, 'one blob per remaining member except the actor');
  t.same(r.perMember[0]!.identityKey, bob.identityKey);
  t.same(r.removed, [carol.identityKey]);
  t.notOk(isMember(r.newState, carol.identityKey));
  t.equal(states[0]!.epoch, 0, 'input state untouched');

  t.equal(
    openRekey(crypto, carol.identitySeed, [states[2]!], r.perMember[0]!.sealed, NOW),
    null,
    'carol cannot open bob’s blob',
  );
  const b = openRekey(crypto, bob.identitySeed, [states[1]!], r.perMember[0]!.sealed, NOW)!;
  t.equal(b.group.epoch, 1);
  t.same(b.group.publicKey, r.newState.publicKey);
  t.same(b.removed, [carol.identityKey]);
  t.equal(b.reason, 'remove');
  t.equal(b.group.previous?.epoch, 0);
  t.equal(openInvite(crypto, bob.identitySeed, r.perMember[0]!.sealed), null, 'a rekey is not an invite');

  // The notice under the old key tells carol she was removed.
  const notice = openGroupMessage(crypto, [states[2]!], r.notice, NOW)!;
  t.equal(notice.type, 'rekey');
  t.same(decodeRekeyNotice(notice.body).removed, [carol.identityKey]);
  t.equal(openGroupMessage(crypto, [b.group], r.notice, NOW)?.type, 'rekey', 'bob still opens it during the grace');

  const later = sealGroupMessage(crypto, r.newState, alice, 'data', pass('after removal'), rng);
  t.equal(Buffer.from(openGroupMessage(crypto, [b.group], later.c0, NOW)!.body).toString(), 'after removal');
  t.equal(openGroupMessage(crypto, [states[2]!], later.c0, NOW), null, 'carol cannot open it');

  // Carol still holds the old key: what she sends under it is refused (not a member), even in the grace period.
  const fromCarol = sealGroupMessage(crypto, states[2]!, carol, 'data', pass('let me in'), rng);
  throwsA(t, () => openGroupMessage(crypto, [b.group], fromCarol.c0, NOW), NotAMember);

  // Replaying the blob does nothing.
  throwsA(t, () => openRekey(crypto, bob.identitySeed, [b.group], r.perMember[0]!.sealed, NOW), WrongEpoch);
});

t.test('grace period: old-key messages in flight open until it ends', async (t) => {
  const { ids, states } = makeGroup(2);
  const [alice, bob] = ids as [(typeof ids)[0], (typeof ids)[0]];
  const inFlight = sealGroupMessage(crypto, states[1]!, bob, 'data', pass('in flight'), rng);
  const r = rotateGroupKey(crypto, states[0]!, alice, rng, NOW);
  t.equal(r.newState.members.length, 2);
  t.equal(openGroupMessage(crypto, [r.newState], inFlight.c0, NOW + DEFAULT_REKEY_GRACE_MS)?.epoch, 0);
  t.equal(openGroupMessage(crypto, [r.newState], inFlight.c0, NOW + DEFAULT_REKEY_GRACE_MS + 1), null);
  const b = openRekey(crypto, bob.identitySeed, [states[1]!], r.perMember[0]!.sealed, NOW)!;
  t.equal(b.reason, 'rotate');
  const fresh = sealGroupMessage(crypto, b.group, bob, 'data', pass('new key'), rng);
  t.equal(openGroupMessage(crypto, [r.newState], fresh.c0, NOW)?.epoch, 1);
  t.equal(openGroupMessage(crypto, [states[0]!], fresh.c0, NOW), null, 'the old key does not open new messages');
});

t.test('only the admin rekeys', async (t) => {
  const { ids, states } = makeGroup(3);
  const [alice, bob, carol] = ids as [(typeof ids)[0], (typeof ids)[0], (typeof ids)[0]];
  throwsA(t, () => createRekey(crypto, states[1]!, bob, [bob.identityKey], rng, NOW), NotAuthorized);
  // Bob forges a rekey by pretending, in his own copy, to be the admin.
  const forged = createRekey(
    crypto,
    { ...states[1]!, admin: bob.identityKey },
    bob,
    [bob.identityKey, carol.identityKey],
    rng,
    NOW,
  );
  throwsA(
    t,
    () => openRekey(crypto, carol.identitySeed, [states[2]!], forged.perMember[0]!.sealed, NOW),
    NotAuthorized,
  );
  // A blob whose signature does not verify.
  const real = createRekey(crypto, states[0]!, alice, keysOf(states[0]!), rng, NOW);
  const plain = openDirect(crypto, bob.identitySeed, real.perMember[0]!.sealed)!;
  const body = plain.body.slice();
  body[body.length - 1] = (body[body.length - 1] as number) ^ 1;
  const resealed = sealDirect(crypto, bob.identityKey, DIRECT_KIND.rekey, body, rng);
  throwsA(t, () => openRekey(crypto, bob.identitySeed, [states[1]!], resealed, NOW), BadSignature);
  // Rekeys never add members, and need the admin to name a successor when leaving.
  throwsA(t, () => createRekey(crypto, states[0]!, alice, [alice.identityKey, rng(32)], rng, NOW), NotAMember);
  t.throws(() => createRekey(crypto, states[0]!, alice, [bob.identityKey], rng, NOW), /newAdmin/);
});

t.test('leave by a member: leave message, then the admin rekeys without it', async (t) => {
  const { ids, states } = makeGroup(3);
  const [alice, bob, carol] = ids as [(typeof ids)[0], (typeof ids)[0], (typeof ids)[0]];
  const l = leaveGroup(crypto, states[2]!, carol, rng, NOW);
  t.equal(l.kind, 'message');
  if (l.kind !== 'message') return;
  const a = openGroupMessage(crypto, [states[0]!], l.c0, NOW)!;
  t.notOk(isMember(a.group, carol.identityKey));
  const r = createRekey(crypto, a.group, alice, keysOf(a.group), rng, NOW, { reason: 'leave' });
  const b = openRekey(crypto, bob.identitySeed, [states[1]!], r.perMember[0]!.sealed, NOW)!;
  t.equal(b.reason, 'leave');
  t.same(b.removed, [carol.identityKey], 'bob never saw the leave message but learns from the rekey');
  const later = sealGroupMessage(crypto, b.group, bob, 'data', pass('bye carol'), rng);
  t.equal(openGroupMessage(crypto, [states[2]!], later.c0, NOW), null);
});

t.test('leave by the admin: hand-over rekey to the longest-standing member', async (t) => {
  const { ids, states } = makeGroup(3);
  const [alice, bob, carol] = ids as [(typeof ids)[0], (typeof ids)[0], (typeof ids)[0]];
  const l = leaveGroup(crypto, states[0]!, alice, rng, NOW);
  t.equal(l.kind, 'handover');
  if (l.kind !== 'handover') return;
  t.equal(l.rekey.perMember.length, 2);
  const views = [bob, carol].map((id, i) => {
    const blob = l.rekey.perMember.find((p) => Buffer.from(p.identityKey).equals(Buffer.from(id.identityKey)))!;
    return openRekey(crypto, id.identitySeed, [states[i + 1]!], blob.sealed, NOW)!.group;
  });
  for (const v of views) {
    t.same(v.admin, bob.identityKey, 'bob (invited first) is the new admin');
    t.notOk(isMember(v, alice.identityKey));
  }
  // Alice's certificate stays as a former member: bob's and carol's certificates name her.
  t.equal(views[0]!.formerMembers.length, 1);
  // The new admin can now remove carol.
  const r = createRekey(crypto, views[0]!, bob, [bob.identityKey], rng, NOW);
  t.equal(r.newState.epoch, 2);
  t.equal(r.newState.members.length, 1);
  t.equal(leaveGroup(crypto, r.newState, bob, rng, NOW).kind, 'last');
});

t.test('fuzz: decodeRekeyContent, decodeRekeyNotice and openRekey throw only typed errors', async (t) => {
  const { ids, states } = makeGroup(3);
  const [alice, bob] = ids as [(typeof ids)[0], (typeof ids)[0]];
  const r = createRekey(crypto, states[0]!, alice, keysOf(states[0]!).slice(0, 2), rng, NOW);
  const body = openDirect(crypto, bob.identitySeed, r.perMember[0]!.sealed)!.body;
  decodeRekeyContent(body);
  const notice = encodeRekeyNotice({ newEpoch: 3, newPublicKey: rng(32), removed: [rng(32), rng(32)] });
  t.same(decodeRekeyNotice(notice).removed.length, 2);
  fc.assert(
    fc.property(mutated(notice), (b) => onlyTyped(() => decodeRekeyNotice(b))),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(mutated(body), (b) => onlyTyped(() => decodeRekeyContent(b))),
    { numRuns: 1500 },
  );
  fc.assert(
    fc.property(mutated(body), (b) =>
      onlyTyped(() =>
        openRekey(
          crypto,
          bob.identitySeed,
          [states[1]!],
          sealDirect(crypto, bob.identityKey, DIRECT_KIND.rekey, b, rng),
          NOW,
        ),
      ),
    ),
    { numRuns: 400 },
  );
  fc.assert(
    fc.property(mutated(r.perMember[0]!.sealed), (b) =>
      onlyTyped(() => openRekey(crypto, bob.identitySeed, [states[1]!], b, NOW)),
    ),
    { numRuns: 300 },
  );
});

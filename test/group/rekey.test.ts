import fc from 'fast-check';
import t from 'tap';
import { acceptAnnounce, announceSelf, createAnnounce } from '../../src/group/announce.js';
import { createCertificate, memberFromCertificate } from '../../src/group/certificate.js';
import { DIRECT_KIND, openDirect, sealDirect } from '../../src/group/direct.js';
import {
  BadCertificate,
  BadSignature,
  NotAMember,
  NotAuthorized,
  RekeyOutOfOrder,
  RekeySuperseded,
  RemovedFromGroup,
  Rollback,
  WrongEpoch,
} from '../../src/group/errors.js';
import { openGroupMessage, sealGroupMessage } from '../../src/group/groupMessage.js';
import { type GroupState, isMember, type LocalIdentity } from '../../src/group/groupState.js';
import { createInvite, openInvite, unlockInvite } from '../../src/group/invite.js';
import { compareKeys } from '../../src/group/keys.js';
import {
  acceptRekey,
  createRekey,
  DEFAULT_REKEY_GRACE_MS,
  decodeRekeyContent,
  leaveGroup,
  promoteAdmin,
  rotateGroupKey,
} from '../../src/group/rekey.js';
import { acceptRemovalNotice, decodeRemovalNotice } from '../../src/group/removalNotice.js';
import { makeGroup } from './fixtures.js';
import { addressOf, crypto, identity, mutated, NOW, onlyTyped, pass, rng, TINY_KDF, throwsA } from './helpers.js';
import { applyDirect } from './world.js';

const keysOf = (g: GroupState) => g.members.map((m) => m.identityKey);
const text = (b: Uint8Array) => Buffer.from(b).toString();
const blobFor = (r: { perMember: Array<{ identityKey: Uint8Array; sealed: Uint8Array }> }, id: LocalIdentity) =>
  r.perMember.find((p) => Buffer.from(p.identityKey).equals(Buffer.from(id.identityKey)))!.sealed;

t.test('removal: new key and chains to the others, a signed notice without key material to the removed', async (t) => {
  const { ids, states } = makeGroup(3);
  const [alice, bob, carol] = ids as [LocalIdentity, LocalIdentity, LocalIdentity];
  const r = createRekey(crypto, states[0]!, alice, [alice.identityKey, bob.identityKey], rng, NOW);
  t.equal(r.newState.epoch, 1);
  t.equal(r.perMember.length, 1, 'one blob per remaining member except the actor');
  t.equal(r.removals.length, 1, 'one removal notice, to carol');
  t.same(r.removed, [carol.identityKey]);
  t.equal(states[0]!.epoch, 0, 'input state untouched');
  t.equal(openDirect(crypto, carol.identitySeed, r.perMember[0]!.sealed), null, "carol cannot open bob's blob");
  const notice = openDirect(crypto, carol.identitySeed, r.removals[0]!.sealed)!;
  t.equal(notice.kind, DIRECT_KIND.removal);
  const n = decodeRemovalNotice(notice.body);
  t.equal(n.newEpoch, 1);
  t.notOk(
    Buffer.from(notice.body).includes(Buffer.from(r.newState.publicKey)),
    'the notice carries no key, not even pub_G',
  );
  const b = acceptRekey(
    crypto,
    bob.identitySeed,
    [states[1]!],
    openDirect(crypto, bob.identitySeed, r.perMember[0]!.sealed)!.body,
    NOW,
  );
  t.equal(b.group.epoch, 1);
  t.equal(b.reason, 'remove');
  t.same(b.removed, [carol.identityKey]);
  t.equal(b.group.revoked.length, 1, 'the signed revocation reached bob');
  t.same(
    b.group.sendChain.chainKey,
    r.newState.chains.get(Buffer.from(bob.identityKey).toString('hex'))!.chainKey,
    'chains agree',
  );

  const carolRemoved = acceptRemovalNotice(crypto, carol.identityKey, [states[2]!], notice.body).group;
  t.same(carolRemoved.removed?.epoch, 1);
  t.same(carolRemoved.secretKey, new Uint8Array(32), 'key erased');
  throwsA(t, () => sealGroupMessage(crypto, carolRemoved, carol, 'data', pass('x'), rng), RemovedFromGroup, /removed/);

  const later = sealGroupMessage(crypto, r.newState, alice, 'data', pass('after removal'), rng);
  t.equal(text(openGroupMessage(crypto, [b.group], later.c0, NOW)!.body), 'after removal');
  t.equal(openGroupMessage(crypto, [states[2]!], later.c0, NOW), null, 'carol (old state) cannot open it');
  // Carol still holds the old key: what she sends under it is refused even in the grace period.
  const fromCarol = sealGroupMessage(crypto, states[2]!, carol, 'data', pass('let me in'), rng);
  throwsA(t, () => openGroupMessage(crypto, [b.group], fromCarol.c0, NOW), NotAMember);
  throwsA(
    t,
    () =>
      acceptRekey(
        crypto,
        bob.identitySeed,
        [b.group],
        openDirect(crypto, bob.identitySeed, r.perMember[0]!.sealed)!.body,
        NOW,
      ),
    WrongEpoch,
    /already applied/,
  );
});

t.test('F3: the removed member cannot re-admit itself with its old certificate (old key or new key)', async (t) => {
  const { ids, states } = makeGroup(3);
  const [alice, bob, carol] = ids as [LocalIdentity, LocalIdentity, LocalIdentity];
  const r = createRekey(crypto, states[0]!, alice, [alice.identityKey, bob.identityKey], rng, NOW);
  const bobNew = applyDirect(crypto, bob, states[1]!, r.perMember[0]!.sealed).state;
  // The attack of issue 11: carol announces herself with her original certificate, at the new epoch.
  const carolMember = states[2]!.members.find((m) =>
    Buffer.from(m.identityKey).equals(Buffer.from(carol.identityKey)),
  )!;
  const atNewEpoch = createAnnounce(crypto, { ...states[2]!, epoch: 1 }, carol, carolMember, {
    chainKey: rng(32),
    index: 0,
  });
  for (const [who, st] of [
    ['alice', r.newState],
    ['bob', bobNew],
  ] as const) {
    throwsA(
      t,
      () => acceptAnnounce(crypto, rng(32), [st], atNewEpoch),
      BadCertificate,
      /admits no one at epoch 1/,
      `${who} refuses (new epoch)`,
    );
  }
  // ...or at the old epoch, as carol's own state is.
  const atOldEpoch = announceSelf(crypto, states[2]!, carol);
  throwsA(t, () => acceptAnnounce(crypto, rng(32), [r.newState], atOldEpoch), WrongEpoch);
  // ...or with a fresh certificate she signs herself, or one by a former member (carol certifies a sock puppet).
  const forge = (member: LocalIdentity, inviter: LocalIdentity) =>
    memberFromCertificate(
      createCertificate(
        crypto,
        {
          groupId: states[0]!.groupId,
          epoch: 1,
          memberKey: member.identityKey,
          memberCentralId: member.centralId,
          inviterKey: inviter.identityKey,
          issuedAtMs: NOW,
        },
        inviter.identitySeed,
      ),
    );
  const self = createAnnounce(crypto, r.newState, carol, forge(carol, carol), { chainKey: rng(32), index: 0 });
  throwsA(t, () => acceptAnnounce(crypto, rng(32), [bobNew], self), BadCertificate, /certify itself/);
  const puppet = identity();
  const byFormer = createAnnounce(crypto, r.newState, puppet, forge(puppet, carol), { chainKey: rng(32), index: 0 });
  throwsA(t, () => acceptAnnounce(crypto, rng(32), [bobNew], byFormer), BadCertificate, /not a current member/);
  // A current non-admin member (bob, colluding) re-certifies carol: refused, carol is revoked.
  const byBob = createAnnounce(crypto, bobNew, carol, forge(carol, bob), { chainKey: rng(32), index: 0 });
  throwsA(t, () => acceptAnnounce(crypto, alice.identityKey, [r.newState], byBob), NotAuthorized, /only an admin/);
  // Her rekey-era messages, replayed or sealed to the new key, are refused.
  const hers = sealGroupMessage(
    crypto,
    { ...states[2]!, publicKey: r.newState.publicKey },
    carol,
    'data',
    pass('hi'),
    rng,
  );
  throwsA(t, () => openGroupMessage(crypto, [bobNew], hers.c0, NOW), NotAMember);
});

t.test('grace period: old-epoch messages in flight open until it ends, with the old chains', async (t) => {
  const { ids, states } = makeGroup(2);
  const [alice, bob] = ids as [LocalIdentity, LocalIdentity];
  const inFlight = sealGroupMessage(crypto, states[1]!, bob, 'data', pass('in flight'), rng);
  const r = rotateGroupKey(crypto, states[0]!, alice, rng, NOW);
  t.equal(r.removals.length, 0);
  t.equal(openGroupMessage(crypto, [r.newState], inFlight.c0, NOW + DEFAULT_REKEY_GRACE_MS)?.epoch, 0);
  t.equal(openGroupMessage(crypto, [r.newState], inFlight.c0, NOW + DEFAULT_REKEY_GRACE_MS + 1), null);
  const b = applyDirect(crypto, bob, states[1]!, r.perMember[0]!.sealed).state;
  const fresh = sealGroupMessage(crypto, b, bob, 'data', pass('new key'), rng);
  t.equal(openGroupMessage(crypto, [r.newState], fresh.c0, NOW)?.epoch, 1);
  t.equal(openGroupMessage(crypto, [states[0]!], fresh.c0, NOW), null, 'the old key does not open new messages');
});

t.test('authority: only admins rekey; forged and tampered rekeys are refused', async (t) => {
  const { ids, states } = makeGroup(3);
  const [alice, bob, carol] = ids as [LocalIdentity, LocalIdentity, LocalIdentity];
  throwsA(t, () => createRekey(crypto, states[1]!, bob, [bob.identityKey], rng, NOW), NotAuthorized);
  const forged = createRekey(crypto, { ...states[1]!, admins: [bob.identityKey] }, bob, keysOf(states[1]!), rng, NOW);
  throwsA(t, () => applyDirect(crypto, carol, states[2]!, blobFor(forged, carol)), NotAuthorized);
  const real = createRekey(crypto, states[0]!, alice, keysOf(states[0]!), rng, NOW);
  const body = openDirect(crypto, bob.identitySeed, blobFor(real, bob))!.body.slice();
  body[body.length - 1] = (body[body.length - 1] as number) ^ 1;
  throwsA(
    t,
    () => applyDirect(crypto, bob, states[1]!, sealDirect(crypto, bob.identityKey, DIRECT_KIND.rekey, body, rng)),
    BadSignature,
  );
  throwsA(t, () => createRekey(crypto, states[0]!, alice, [alice.identityKey, rng(32)], rng, NOW), NotAMember);
  t.throws(() => createRekey(crypto, states[0]!, alice, [bob.identityKey], rng, NOW), /at least one admin/);
  // A forged removal notice (bob is no admin) does not remove carol.
  const notice = createRekey(
    crypto,
    { ...states[1]!, admins: [bob.identityKey] },
    bob,
    [bob.identityKey, alice.identityKey],
    rng,
    NOW,
  ).removals[0]!;
  throwsA(t, () => applyDirect(crypto, carol, states[2]!, notice.sealed), NotAuthorized);
});

t.test('more than one admin: the creator promotes; any admin removes; only the creator promotes', async (t) => {
  const { ids, states } = makeGroup(4);
  const [alice, bob, carol, dave] = ids as [LocalIdentity, LocalIdentity, LocalIdentity, LocalIdentity];
  const p = promoteAdmin(crypto, states[0]!, alice, bob.identityKey, rng, NOW);
  t.equal(p.newState.admins.length, 2);
  const views = [bob, carol, dave].map((id, i) => applyDirect(crypto, id, states[i + 1]!, blobFor(p, id)).state);
  for (const v of views) t.equal(v.admins.length, 2, 'everyone sees two admins');
  throwsA(
    t,
    () => promoteAdmin(crypto, views[0]!, bob, carol.identityKey, rng, NOW),
    NotAuthorized,
    /only the creator/,
  );
  // Bob forges a promotion in his own rekey: receivers refuse it.
  const sneaky = createRekey(crypto, views[0]!, bob, keysOf(views[0]!), rng, NOW, { admins: [...views[0]!.admins] });
  t.ok(sneaky, 'bob can rekey (rotate) as an admin');
  t.throws(
    () =>
      createRekey(crypto, views[0]!, bob, keysOf(views[0]!), rng, NOW, {
        admins: [...views[0]!.admins, carol.identityKey],
      }),
    /only the creator can promote/,
  );
  // Bob removes dave while alice (the creator) is away: everyone, alice included, follows.
  const r = createRekey(crypto, views[0]!, bob, [alice.identityKey, bob.identityKey, carol.identityKey], rng, NOW);
  const aliceAfter = applyDirect(crypto, alice, p.newState, blobFor(r, alice)).state;
  const carolAfter = applyDirect(crypto, carol, views[1]!, blobFor(r, carol)).state;
  const daveAfter = applyDirect(crypto, dave, views[2]!, r.removals[0]!.sealed).state;
  t.notOk(isMember(aliceAfter, dave.identityKey));
  t.same(aliceAfter.publicKey, carolAfter.publicKey);
  t.ok(daveAfter.removed, 'dave learns he was removed');
  // The last admin leaving hands over; a non-last admin just leaves.
  const l = leaveGroup(crypto, aliceAfter, alice, rng, NOW);
  t.equal(l.kind, 'message', 'alice is not the last admin: a plain leave');
});

t.test('leave: by a member (leave message, then an admin rekeys), and by the last admin (hand-over)', async (t) => {
  const { ids, states } = makeGroup(3);
  const [alice, bob, carol] = ids as [LocalIdentity, LocalIdentity, LocalIdentity];
  const l = leaveGroup(crypto, states[2]!, carol, rng, NOW);
  if (l.kind !== 'message') throw new Error('expected a leave message');
  const a = openGroupMessage(crypto, [states[0]!], l.c0, NOW)!;
  t.notOk(isMember(a.group, carol.identityKey));
  const r = createRekey(crypto, a.group, alice, keysOf(a.group), rng, NOW, { reason: 'leave' });
  t.equal(r.removals.length, 0, 'no removal notice for someone who left');
  t.equal(r.newState.revoked.length, 0, 'and no revocation');
  const b = applyDirect(crypto, bob, states[1]!, r.perMember[0]!.sealed).state;
  t.notOk(isMember(b, carol.identityKey), 'bob never saw the leave message but learns from the rekey');
  const h = leaveGroup(crypto, b, bob, rng, NOW);
  t.equal(h.kind, 'message');
  const h2 = leaveGroup(crypto, r.newState, alice, rng, NOW);
  if (h2.kind !== 'handover') throw new Error('expected a hand-over');
  const bobAdmin = applyDirect(crypto, bob, b, h2.rekey.perMember[0]!.sealed).state;
  t.same(bobAdmin.admins, [bob.identityKey], 'bob inherits the admin role');
  t.equal(leaveGroup(crypto, bobAdmin, bob, rng, NOW).kind, 'last');
});

t.test('no rollback: an older rekey is refused; out-of-order rekeys wait for their parent', async (t) => {
  const { ids, states } = makeGroup(2);
  const [alice, bob] = ids as [LocalIdentity, LocalIdentity];
  const r1 = rotateGroupKey(crypto, states[0]!, alice, rng, NOW);
  const r2 = rotateGroupKey(crypto, r1.newState, alice, rng, NOW);
  throwsA(t, () => applyDirect(crypto, bob, states[1]!, r2.perMember[0]!.sealed), RekeyOutOfOrder);
  const b1 = applyDirect(crypto, bob, states[1]!, r1.perMember[0]!.sealed).state;
  const b2 = applyDirect(crypto, bob, b1, r2.perMember[0]!.sealed).state;
  t.equal(b2.epoch, 2);
  throwsA(t, () => applyDirect(crypto, bob, b2, r1.perMember[0]!.sealed), Rollback, /older than the epoch 2 we hold/);
  // A replayed old invite cannot roll bob back either (unlockInvite's `held`, tested in invite.test.ts).
  const dave = identity();
  const inv = createInvite(crypto, states[0]!, alice, addressOf(dave), pass('pw'), TINY_KDF, rng, NOW);
  const daveState = unlockInvite(crypto, openInvite(crypto, dave.identitySeed, inv.sealed)!, pass('pw'), NOW, rng);
  throwsA(
    t,
    () =>
      unlockInvite(crypto, openInvite(crypto, dave.identitySeed, inv.sealed)!, pass('pw'), NOW, rng, {
        held: () => ({ epoch: daveState.epoch, status: 'member' }),
      }),
    Rollback,
  );
});

/**
 * Convergence: several admins rekey the same epoch concurrently (some
 * removing each other or plain members, some twice in a row on their own
 * branch). Every blob and notice reaches its recipient in a random order,
 * out-of-order ones are retried after each applied transition (as the
 * daemon does). Everyone ends in the state of the lowest-key admin's branch.
 */
t.test('concurrent rekeys converge whatever the arrival order (property)', async (t) => {
  const { ids, states } = makeGroup(6);
  // Creator promotes two more admins: ids 0, 1, 2 are admins; 3, 4, 5 plain.
  let world = states.slice();
  for (const who of [1, 2]) {
    const p = promoteAdmin(crypto, world[0]!, ids[0]!, ids[who]!.identityKey, rng, NOW);
    world = world.map((s, i) => (i === 0 ? p.newState : applyDirect(crypto, ids[i]!, s, blobFor(p, ids[i]!)).state));
  }
  const base = world;
  t.equal(base[3]!.admins.length, 3);
  fc.assert(
    fc.property(
      // For each admin: whether it rekeys, whom it removes (bitmask over members 1..5), whether it rekeys again.
      fc.array(fc.record({ acts: fc.boolean(), remove: fc.nat({ max: 31 }), again: fc.boolean() }), {
        minLength: 3,
        maxLength: 3,
      }),
      fc.nat(),
      (plans, seed) => {
        const sent: Array<{ to: number; sealed: Uint8Array }> = [];
        const own: Array<GroupState | null> = [null, null, null];
        let actors = 0;
        plans.forEach((plan, a) => {
          if (!plan.acts) return;
          actors++;
          // An admin never removes itself here; others (admins included) may go.
          const keep = ids.filter((_, i) => i === a || i === 0 || !((plan.remove >> (i - 1)) & 1) || i === a);
          let r = createRekey(
            crypto,
            base[a]!,
            ids[a]!,
            keep.map((x) => x.identityKey),
            rng,
            NOW,
          );
          const push = (rk: typeof r) => {
            for (const p of [...rk.perMember, ...rk.removals])
              sent.push({
                to: ids.findIndex((x) => Buffer.from(x.identityKey).equals(Buffer.from(p.identityKey))),
                sealed: p.sealed,
              });
          };
          push(r);
          if (plan.again) {
            const r2 = rotateGroupKey(crypto, r.newState, ids[a]!, rng, NOW);
            push(r2);
            r = r2;
          }
          own[a] = r.newState;
        });
        if (actors === 0) return true;
        // Deterministic shuffle from the seed.
        let x = seed >>> 0 || 1;
        const keyed = sent.map((item) => {
          x = (Math.imul(x, 1103515245) + 12345) >>> 0;
          return { item, k: x };
        });
        const order = keyed.sort((p, q) => p.k - q.k).map((p) => p.item);
        const view = ids.map((_, i) => own[i] ?? base[i]!);
        const held: Array<Array<Uint8Array>> = ids.map(() => []);
        const deliver = (i: number, sealed: Uint8Array): boolean => {
          try {
            view[i] = applyDirect(crypto, ids[i]!, view[i]!, sealed).state;
            return true;
          } catch (err) {
            if (err instanceof RekeyOutOfOrder) held[i]!.push(sealed);
            else if (!(err instanceof RekeySuperseded || err instanceof WrongEpoch || err instanceof Rollback))
              throw err;
            return false;
          }
        };
        for (const { to, sealed } of order) {
          if (deliver(to, sealed)) {
            let progress = true;
            while (progress) {
              progress = false;
              for (const h of held[to]!.splice(0)) if (deliver(to, h)) progress = true;
            }
          }
        }
        // The winner: among the admins that acted, the lowest key; its final state is the reference.
        const winner = [0, 1, 2]
          .filter((a) => own[a])
          .sort((p, q) => compareKeys(ids[p]!.identityKey, ids[q]!.identityKey))[0]!;
        const ref = own[winner]!;
        for (let i = 0; i < ids.length; i++) {
          const v = view[i]!;
          if (isMember(ref, ids[i]!.identityKey)) {
            if (v.removed || v.epoch !== ref.epoch || !Buffer.from(v.publicKey).equals(Buffer.from(ref.publicKey)))
              return false;
            const a = keysOf(v)
              .map((k) => Buffer.from(k).toString('hex'))
              .sort();
            const b = keysOf(ref)
              .map((k) => Buffer.from(k).toString('hex'))
              .sort();
            if (a.join() !== b.join()) return false;
          } else if (!v.removed && i !== winner) {
            // Removed by the winner: it must know (a removal notice from the winning branch reached it).
            return false;
          }
        }
        return true;
      },
    ),
    { numRuns: 60 },
  );
  t.pass('converged in every run');
});

t.test('fuzz: rekey, removal notice and announce decoders and acceptors throw only typed errors', async (t) => {
  const { ids, states } = makeGroup(3);
  const [alice, bob, carol] = ids as [LocalIdentity, LocalIdentity, LocalIdentity];
  const r = createRekey(crypto, states[0]!, alice, [alice.identityKey, bob.identityKey], rng, NOW);
  const body = openDirect(crypto, bob.identitySeed, r.perMember[0]!.sealed)!.body;
  t.equal(decodeRekeyContent(body).removed.length, 1);
  const notice = openDirect(crypto, carol.identitySeed, r.removals[0]!.sealed)!.body;
  const ann = announceSelf(crypto, states[2]!, carol);
  for (const [name, valid, kind, who, st] of [
    ['rekey', body, DIRECT_KIND.rekey, bob, states[1]!],
    ['removal', notice, DIRECT_KIND.removal, carol, states[2]!],
    ['announce', ann, DIRECT_KIND.announce, bob, states[1]!],
  ] as const) {
    fc.assert(
      fc.property(mutated(valid), (b) =>
        onlyTyped(() => applyDirect(crypto, who, st, sealDirect(crypto, who.identityKey, kind, b, rng))),
      ),
      { numRuns: 500 },
    );
    t.pass(`${name}: only typed errors`);
  }
});

t.test(
  'announces: only the newcomer or an admin; a replay changes nothing; a leaver cannot be announced back',
  async (t) => {
    const { ids, states } = makeGroup(3);
    const [alice, bob, carol] = ids as [LocalIdentity, LocalIdentity, LocalIdentity];
    const dave = identity();
    const inv = createInvite(crypto, states[0]!, alice, addressOf(dave), pass('pw'), TINY_KDF, rng, NOW);
    const daveState = unlockInvite(crypto, openInvite(crypto, dave.identitySeed, inv.sealed)!, pass('pw'), NOW, rng);
    const daveMember = daveState.members.find((m) => crypto.equal(m.identityKey, dave.identityKey))!;
    // Bob (a plain member) "re-announces" dave with a chain of his choosing: refused.
    const byBob = createAnnounce(crypto, states[1]!, bob, daveMember, { chainKey: rng(32), index: 0 });
    throwsA(
      t,
      () => acceptAnnounce(crypto, carol.identityKey, [states[2]!], byBob),
      NotAuthorized,
      /neither the newcomer nor an admin/,
    );
    const own = announceSelf(crypto, daveState, dave);
    const first = acceptAnnounce(crypto, carol.identityKey, [states[2]!], own);
    t.ok(first.added);
    const again = acceptAnnounce(crypto, carol.identityKey, [first.group], own);
    t.notOk(again.added);
    t.equal(again.group, first.group, 'a replayed announce leaves the state as it was');
    // Dave leaves; his announce replayed in the same epoch does not bring him back.
    const l = leaveGroup(crypto, daveState, dave, rng, NOW);
    if (l.kind !== 'message') throw new Error('expected a leave message');
    const afterLeave = openGroupMessage(crypto, [first.group], l.c0, NOW)!.group;
    throwsA(
      t,
      () => acceptAnnounce(crypto, carol.identityKey, [afterLeave], own),
      NotAuthorized,
      /left during the current epoch/,
    );
  },
);

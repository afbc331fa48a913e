import t from 'tap';
import { acceptAnnounce, announceSelf } from '../../src/group/announce.js';
import { openDirect } from '../../src/group/direct.js';
import { buildFanoutBodies, decodeFanout, tokensPerPacket } from '../../src/group/fanout.js';
import { openGroupMessage, sealGroupMessage } from '../../src/group/groupMessage.js';
import { isMember } from '../../src/group/groupState.js';
import { createInvite, openInvite, unlockInvite } from '../../src/group/invite.js';
import { acceptRekey, createRekey } from '../../src/group/rekey.js';
import { acceptRemovalNotice } from '../../src/group/removalNotice.js';
import { DEFAULT_GEOMETRY } from '../../src/scramble/geometry.js';
import { bigGroup } from './fixtures.js';
import { addressOf, crypto, identity, NOW, pass, rng, TINY_KDF } from './helpers.js';

/**
 * Groups of 1,000 in the pure layer: create, invite, send, remove (rekey),
 * with the costs printed (comments) and the scaling asserted on sizes and
 * counts, never on time. Running these over the network at N = 1,000 needs
 * the virtual-time simulator (issue 8).
 */
const N = 1000;
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

t.test(`N = ${N}: invite, send, remove`, async (t) => {
  let t0 = process.hrtime.bigint();
  const { ids, creator, view } = bigGroup(N);
  t.comment(`building the group (${N} certificates, one rotation): ${ms(t0).toFixed(0)} ms`);
  t.equal(creator.members.length, N);
  const [alice] = ids;
  const bob = view(1);
  const last = view(N - 1);
  t.same(bob.publicKey, creator.publicKey);
  t.equal(bob.chains.size, N - 1, 'every other member has a chain');

  // Invite one more into the 1,000-member group.
  const newcomer = identity();
  t0 = process.hrtime.bigint();
  const inv = createInvite(crypto, creator, alice!, addressOf(newcomer), pass('pw'), TINY_KDF, rng, NOW);
  const inviteMs = ms(t0);
  t0 = process.hrtime.bigint();
  const joined = unlockInvite(crypto, openInvite(crypto, newcomer.identitySeed, inv.sealed)!, pass('pw'), NOW, rng);
  t.comment(
    `invite: ${inv.sealed.length} bytes (${Math.ceil(inv.sealed.length / 1076)} reliable fragments), built in ${inviteMs.toFixed(0)} ms, unlocked (${N} certificates checked) in ${ms(t0).toFixed(0)} ms`,
  );
  t.ok(inv.sealed.length < (N + 1) * 250, 'the invite grows linearly (about 203 bytes per member)');
  t.equal(joined.members.length, N + 1);
  const ann = announceSelf(crypto, joined, newcomer);
  t.equal(acceptAnnounce(crypto, ids[1]!.identityKey, [bob], ann).group.members.length, N + 1);

  // Send: bundles of tokensPerPacket recipients.
  t0 = process.hrtime.bigint();
  const sent = sealGroupMessage(crypto, creator, alice!, 'data', new Uint8Array(256), rng);
  const per = tokensPerPacket(DEFAULT_GEOMETRY, sent.c0.length);
  const csKey = crypto.x25519Base(rng(32));
  const bodies = buildFanoutBodies(
    crypto,
    DEFAULT_GEOMETRY,
    creator.publicKey,
    sent.c0,
    Array.from({ length: N - 1 }, () => rng(16)),
    csKey,
    rng,
  );
  t.comment(`send to ${N - 1} recipients: ${bodies.length} packets of ${per} tokens, built in ${ms(t0).toFixed(0)} ms`);
  t.ok(bodies.length <= Math.ceil(N / per), `sender packets ${bodies.length} <= ceil(${N} / ${per})`);
  t.equal(
    bodies.reduce((n, b) => n + decodeFanout(DEFAULT_GEOMETRY, b).tokens.length, 0),
    N - 1,
  );
  t.equal(Buffer.from(openGroupMessage(crypto, [last], sent.c0, NOW)!.body).length, 256);

  // Remove one member: one small blob per remaining member, one notice.
  const victim = ids[500]!;
  t0 = process.hrtime.bigint();
  const r = createRekey(
    crypto,
    creator,
    alice!,
    creator.members.filter((m) => !crypto.equal(m.identityKey, victim.identityKey)).map((m) => m.identityKey),
    rng,
    NOW,
  );
  const rekeyMs = ms(t0);
  const blobBytes = r.perMember[0]!.sealed.length;
  t.comment(
    `remove at N=${N}: ${r.perMember.length} blobs of ${blobBytes} bytes (1 packet each) + ${r.removals.length} notice, built in ${rekeyMs.toFixed(0)} ms`,
  );
  t.equal(r.perMember.length, N - 2);
  t.equal(r.removals.length, 1);
  t.ok(blobBytes < 1076, 'a removal blob fits one reliable fragment, whatever N');
  const bobAfter = acceptRekey(
    crypto,
    ids[1]!.identitySeed,
    [bob],
    openDirect(crypto, ids[1]!.identitySeed, r.perMember[0]!.sealed)!.body,
    NOW,
  );
  t.notOk(isMember(bobAfter.group, victim.identityKey));
  t.equal(bobAfter.group.members.length, N - 1);
  const victimView = view(500);
  const removed = acceptRemovalNotice(
    crypto,
    victim.identityKey,
    [victimView],
    openDirect(crypto, victim.identitySeed, r.removals[0]!.sealed)!.body,
  );
  t.ok(removed.group.removed);
  const after = sealGroupMessage(crypto, r.newState, alice!, 'data', pass('after'), rng);
  t.equal(openGroupMessage(crypto, [victimView], after.c0, NOW), null, 'the removed member cannot read on');
  t.equal(Buffer.from(openGroupMessage(crypto, [bobAfter.group], after.c0, NOW)!.body).toString(), 'after');
});

t.test('rekey blob size does not grow with N (steady state)', async (t) => {
  const sizes: number[] = [];
  for (const n of [10, 100]) {
    const { ids, creator } = bigGroup(n);
    const r = createRekey(
      crypto,
      creator,
      ids[0]!,
      creator.members.slice(0, n - 1).map((m) => m.identityKey),
      rng,
      NOW,
    );
    sizes.push(r.perMember[0]!.sealed.length);
  }
  t.equal(sizes[0], sizes[1], `blob ${sizes[0]} bytes at N=10 and N=100`);
});

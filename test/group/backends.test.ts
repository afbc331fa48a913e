import t from 'tap';
import { acceptAnnounce, announceSelf } from '../../src/group/announce.js';
import { openDirect } from '../../src/group/direct.js';
import {
  buildFanoutBodies,
  decodeFanout,
  fanoutCopies,
  openDeliveredCopy,
  openDeliveredPayload,
} from '../../src/group/fanout.js';
import { openGroupMessage, sealGroupMessage } from '../../src/group/groupMessage.js';
import { createGroup } from '../../src/group/groupState.js';
import { createInvite, openInvite, type PendingInvite, unlockInvite } from '../../src/group/invite.js';
import { acceptRekey, createRekey } from '../../src/group/rekey.js';
import type { CryptoBackend } from '../../src/scramble/crypto/backend.js';
import { DEFAULT_GEOMETRY } from '../../src/scramble/geometry.js';
import { makeGroup } from './fixtures.js';
import { addressOf, identity, NOW, noble, pass, rng, seeded, sodium, TINY_KDF } from './helpers.js';

const pairs: Array<[CryptoBackend, CryptoBackend]> = [
  [noble, sodium],
  [sodium, noble],
];

for (const [a, b] of pairs) {
  t.test(`a group message sealed with ${a.name} opens with ${b.name}`, async (t) => {
    const { ids, states } = makeGroup(2, sodium);
    const sent = sealGroupMessage(a, states[0]!, ids[0]!, 'data', pass(`from ${a.name}`), rng);
    const opened = openGroupMessage(b, [states[1]!], sent.c0, NOW);
    t.equal(Buffer.from(opened!.body).toString(), `from ${a.name}`);

    // Through P2 (backend a) and CS (backend b) and the target (backend a).
    const csSecret = rng(32);
    const csPublic = b.x25519Base(csSecret);
    const mailbox = rng(16);
    const [body] = buildFanoutBodies(a, DEFAULT_GEOMETRY, states[0]!.publicKey, sent.c0, [mailbox], csPublic, rng);
    const [copy] = fanoutCopies(b, decodeFanout(DEFAULT_GEOMETRY, body!), rng);
    const delivered = openDeliveredCopy(a, csPublic, csSecret, copy!);
    t.same(delivered.mailboxId, mailbox);
    const payload = openDeliveredPayload(b, [states[1]!], delivered.payload, NOW);
    t.equal(openGroupMessage(a, [states[1]!], payload!.c0, NOW)?.type, 'data');
  });

  t.test(`invite and rekey made with ${a.name} open with ${b.name}`, async (t) => {
    const alice = identity(a);
    const bob = identity(a);
    const g = createGroup(a, 'cross', alice, rng, NOW);
    const { sealed } = createInvite(a, g, alice, addressOf(bob), pass('pw'), TINY_KDF, rng, NOW);
    const joined = unlockInvite(b, openInvite(b, bob.identitySeed, sealed) as PendingInvite, pass('pw'), NOW, rng);
    t.same(joined.secretKey, g.secretKey);
    const withBob = acceptAnnounce(a, alice.identityKey, [g], announceSelf(b, joined, bob)).group;
    const r = createRekey(a, withBob, alice, [alice.identityKey, bob.identityKey], rng, NOW);
    const body = openDirect(b, bob.identitySeed, r.perMember[0]!.sealed)!.body;
    const opened = acceptRekey(b, bob.identitySeed, [joined], body, NOW);
    t.same(opened.group.publicKey, r.newState.publicKey);
    t.same(
      opened.group.sendChain.chainKey,
      r.newState.chains.get(Buffer.from(bob.identityKey).toString('hex'))?.chainKey,
    );
  });
}

t.test('both backends produce byte-identical C0 from the same randomness', async (t) => {
  const { ids, states } = makeGroup(2, sodium);
  const x = sealGroupMessage(sodium, states[0]!, ids[0]!, 'data', pass('same bytes'), seeded('c0'));
  const y = sealGroupMessage(noble, states[0]!, ids[0]!, 'data', pass('same bytes'), seeded('c0', noble));
  t.same(x.c0, y.c0);
});

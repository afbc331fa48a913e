import fc from 'fast-check';
import t from 'tap';
import { verifyMemberList } from '../../src/group/certificate.js';
import { InvalidGroupState } from '../../src/group/errors.js';
import { openGroupMessage, sealGroupMessage } from '../../src/group/groupMessage.js';
import { createGroup, expireKeys, groupFromJson, groupNameProblem, groupToJson } from '../../src/group/groupState.js';
import { hexKey } from '../../src/group/keys.js';
import { createRekey } from '../../src/group/rekey.js';
import { makeGroup } from './fixtures.js';
import { crypto, identity, NOW, onlyTyped, pass, rng, throwsA } from './helpers.js';

t.test('createGroup: local keypair, self with a self-signed root certificate', async (t) => {
  const alice = identity();
  const g = createGroup(crypto, 'friends', alice, rng, NOW);
  t.equal(g.groupId.length, 16);
  t.equal(g.epoch, 0);
  t.same(crypto.x25519Base(g.secretKey), g.publicKey);
  t.same(g.admins, [alice.identityKey]);
  t.same(g.epochActor, alice.identityKey);
  t.same(g.creator, alice.identityKey);
  t.equal(g.members.length, 1);
  t.same(g.members[0]!.certificate.inviterKey, alice.identityKey);
  verifyMemberList(crypto, g.groupId, g.epoch, g.creator, g.members);
  t.equal(g.sendChain.index, 0);
  t.equal(g.removed, null);
  const g2 = createGroup(crypto, 'friends', alice, rng, NOW);
  t.not(Buffer.from(g2.groupId).toString('hex'), Buffer.from(g.groupId).toString('hex'), 'random group ids');
});

t.test('group names: control characters and oversize refused', async (t) => {
  t.equal(groupNameProblem('book club ☕'), null);
  t.match(groupNameProblem(''), /empty/);
  t.match(groupNameProblem('evil\u001b[2J'), /control/);
  t.match(groupNameProblem('x'.repeat(201)), /at most/);
  t.throws(() => createGroup(crypto, 'a\nb', identity(), rng, NOW));
});

t.test('JSON round-trip keeps everything: chains, skipped keys, previous key, base, revocations', async (t) => {
  const { ids, states } = makeGroup(3);
  // Bob reads carol's message 2 (0 and 1 skipped) so a chain with skipped keys is stored.
  let carol = states[2]!;
  const sent = [0, 1, 2].map(() => {
    const m = sealGroupMessage(crypto, carol, ids[2]!, 'data', pass('x'), rng);
    carol = m.group;
    return m.c0;
  });
  const bob = openGroupMessage(crypto, [states[1]!], sent[2]!, NOW)!.group;
  t.equal(bob.chains.get(hexKey(ids[2]!.identityKey))?.skipped.size, 2);
  const r = createRekey(crypto, states[0]!, ids[0]!, [ids[0]!.identityKey, ids[1]!.identityKey], rng, NOW);
  for (const g of [bob, r.newState, { ...bob, previous: { ...r.newState.previous!, untilMs: NOW + 5 } }]) {
    const json = JSON.parse(JSON.stringify(groupToJson(g)));
    const back = groupFromJson(json);
    t.same(groupToJson(back), groupToJson(g));
  }
  t.equal(r.newState.revoked.length, 1, 'the removal left a revocation');
  const back = groupFromJson(JSON.parse(JSON.stringify(groupToJson(bob))));
  t.equal(openGroupMessage(crypto, [back], sent[0]!, NOW)?.messageIndex, 0, 'a skipped key survives the round trip');
  const prev = { ...bob, previous: { ...r.newState.previous!, untilMs: NOW + 5 } };
  t.equal(expireKeys(prev, NOW + 5).previous?.epoch, 0);
  t.equal(expireKeys(prev, NOW + 6).previous, null);
});

t.test('groupFromJson refuses broken state with InvalidGroupState', async (t) => {
  const { states } = makeGroup(2);
  const good = groupToJson(states[0]!);
  const broken: unknown[] = [
    null,
    [],
    'x',
    { ...good, version: 1 },
    { ...good, groupId: 'zz' },
    { ...good, secretKey: good.secretKey.slice(2) },
    { ...good, epoch: -1 },
    { ...good, epoch: 2 ** 32 },
    { ...good, members: [] },
    { ...good, members: ['00'] },
    { ...good, admins: ['11'.repeat(32)] },
    { ...good, chains: { nothex: '00' } },
    { ...good, chains: { ['11'.repeat(32)]: '00' } },
    { ...good, sendChain: { chainKey: '00', index: 0 } },
    { ...good, revoked: ['00'] },
    { ...good, name: 'a\u0007' },
    { ...good, previous: { epoch: 1 } },
  ];
  for (const b of broken)
    throwsA(t, () => groupFromJson(b), InvalidGroupState, undefined, JSON.stringify(b)?.slice(0, 60));
});

t.test('fuzz: groupFromJson throws only InvalidGroupState', async () => {
  const { states } = makeGroup(2);
  const good = groupToJson(states[0]!) as unknown as Record<string, unknown>;
  const keys = Object.keys(good);
  fc.assert(
    fc.property(
      fc.oneof(
        fc.jsonValue(),
        fc.tuple(fc.constantFrom(...keys), fc.jsonValue()).map(([k, v]) => ({ ...good, [k]: v })),
        fc.tuple(fc.constantFrom(...keys)).map(([k]) => {
          const o = { ...good };
          delete o[k];
          return o;
        }),
      ),
      (v) => onlyTyped(() => groupFromJson(v)),
    ),
    { numRuns: 1500 },
  );
});

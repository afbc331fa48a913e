import fc from 'fast-check';
import t from 'tap';
import { verifyMemberList } from '../../src/group/certificate.js';
import { InvalidGroupState } from '../../src/group/errors.js';
import { createGroup, expireKeys, groupFromJson, groupNameProblem, groupToJson } from '../../src/group/groupState.js';
import { makeGroup } from './fixtures.js';
import { crypto, identity, NOW, onlyTyped, rng, throwsA } from './helpers.js';

t.test('createGroup: local keypair, self with a self-signed root certificate', async (t) => {
  const alice = identity();
  const g = createGroup(crypto, 'friends', alice, rng, NOW);
  t.equal(g.groupId.length, 16);
  t.equal(g.epoch, 0);
  t.same(crypto.x25519Base(g.secretKey), g.publicKey);
  t.same(g.admin, alice.identityKey);
  t.same(g.creator, alice.identityKey);
  t.equal(g.members.length, 1);
  t.same(g.members[0]!.certificate.inviterKey, alice.identityKey);
  verifyMemberList(crypto, g.groupId, g.epoch, g.creator, g.members, g.formerMembers);
  t.equal(g.sendSeq, 0);
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

t.test('JSON round-trip keeps everything, including windows and the previous key', async (t) => {
  const { states } = makeGroup(3);
  const g = { ...states[1]!, previous: { epoch: 7, publicKey: rng(32), secretKey: rng(32), untilMs: NOW + 5 } };
  const json = JSON.parse(JSON.stringify(groupToJson(g)));
  const back = groupFromJson(json);
  t.same(groupToJson(back), groupToJson(g));
  t.equal(back.windows.size, g.windows.size);
  t.ok(back.windows.size > 0, 'windows from announces are kept');
  t.equal(expireKeys(back, NOW + 5).previous?.epoch, 7);
  t.equal(expireKeys(back, NOW + 6).previous, null);
});

t.test('groupFromJson refuses broken state with InvalidGroupState', async (t) => {
  const { states } = makeGroup(2);
  const good = groupToJson(states[0]!);
  const broken: unknown[] = [
    null,
    [],
    'x',
    { ...good, version: 2 },
    { ...good, groupId: 'zz' },
    { ...good, secretKey: good.secretKey.slice(2) },
    { ...good, epoch: -1 },
    { ...good, epoch: 2 ** 32 },
    { ...good, members: [] },
    { ...good, members: ['00'] },
    { ...good, admin: '11'.repeat(32) },
    { ...good, windows: { nothex: { highest: 1, bitmap: '1' } } },
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

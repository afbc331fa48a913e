import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Test } from 'tap';
import t from 'tap';
import { InvalidGroupState, WrongPassphrase } from '../../src/group/errors.js';
import { groupToJson } from '../../src/group/groupState.js';
import { GROUPS_FILE, GroupStore, storeFromJson, storeToJson } from '../../src/group/groupStore.js';
import { createInvite, openInvite, type PendingInvite, unlockInvite } from '../../src/group/invite.js';
import { makeGroup } from './fixtures.js';
import { addressOf, crypto, identity, NOW, onlyTyped, pass, rng, TINY_KDF, throwsA } from './helpers.js';

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mixd-group-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('missing file loads empty; save/load round-trip with mode 0600', async (t) => {
  const dir = await tempDir(t);
  const store = new GroupStore(dir);
  t.same(await store.load(), { groups: [], pendingInvites: [] });
  const { states } = makeGroup(3);
  await store.save({ groups: states, pendingInvites: [] });
  const st = await stat(join(dir, GROUPS_FILE));
  t.equal(st.mode & 0o777, 0o600);
  const back = await new GroupStore(dir).load();
  t.same(back.groups.map(groupToJson), states.map(groupToJson));
  t.same(await readdir(dir), [GROUPS_FILE], 'no temp file left behind');
});

t.test('concurrent saves are serialized; the last one wins', async (t) => {
  const dir = await tempDir(t);
  const store = new GroupStore(dir);
  const { states } = makeGroup(2);
  await Promise.all([1, 2, 3, 4].map((n) => store.save({ groups: states.slice(0, (n % 2) + 1), pendingInvites: [] })));
  t.equal((await store.load()).groups.length, 1);
});

t.test('a pending invite survives a wrong passphrase and a restart', async (t) => {
  const dir = await tempDir(t);
  const { ids, states } = makeGroup(1);
  const bob = identity();
  const { sealed } = createInvite(crypto, states[0]!, ids[0]!, addressOf(bob), pass('right'), TINY_KDF, rng, NOW);
  const pending = openInvite(crypto, bob.identitySeed, sealed) as PendingInvite;
  await new GroupStore(dir).save({ groups: [], pendingInvites: [pending] });

  const first = await new GroupStore(dir).load();
  throwsA(t, () => unlockInvite(crypto, first.pendingInvites[0]!, pass('wrong'), NOW, rng), WrongPassphrase);
  await new GroupStore(dir).save(first); // the daemon saves after the failed try: invite still there

  const second = await new GroupStore(dir).load();
  t.equal(second.pendingInvites.length, 1);
  const joined = unlockInvite(crypto, second.pendingInvites[0]!, pass('right'), NOW, rng);
  await new GroupStore(dir).save({ groups: [joined], pendingInvites: [] });
  t.same((await new GroupStore(dir).load()).groups[0]!.groupId, states[0]!.groupId);
});

t.test('a corrupt file is an error, never an empty store', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, GROUPS_FILE), '{"version":1,"groups":[{"x":1}],"pendingInvites":[]}');
  await t.rejects(new GroupStore(dir).load(), InvalidGroupState);
  await writeFile(join(dir, GROUPS_FILE), '{not json');
  await t.rejects(new GroupStore(dir).load(), /not valid JSON/);
});

t.test('fuzz: storeFromJson throws only InvalidGroupState', async () => {
  const { ids, states } = makeGroup(2);
  const bob = identity();
  const pending = openInvite(
    crypto,
    bob.identitySeed,
    createInvite(crypto, states[0]!, ids[0]!, addressOf(bob), pass('x'), TINY_KDF, rng, NOW).sealed,
  ) as PendingInvite;
  const text = storeToJson({ groups: states, pendingInvites: [pending] });
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.jsonValue().map((v) => JSON.stringify(v)),
        fc
          .tuple(fc.nat({ max: text.length }), fc.string({ maxLength: 4 }))
          .map(([i, s]) => text.slice(0, i) + s + text.slice(i + 1)),
      ),
      (s) => onlyTyped(() => storeFromJson(s)),
    ),
    { numRuns: 1500 },
  );
});

t.test('the rotation clock (rotatedAt) survives a save and load; a bad one is refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mixd-rot-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const store = new GroupStore(dir);
  const id = 'ab'.repeat(16);
  await store.save({ groups: [], pendingInvites: [], rotatedAt: { [id]: 1_700_000_000_000 } });
  const back = await new GroupStore(dir).load();
  t.same(back.rotatedAt, { [id]: 1_700_000_000_000 });
  const legacy = storeFromJson(JSON.stringify({ version: 1, groups: [], pendingInvites: [] }));
  t.same(legacy.rotatedAt, {}, 'a file without the field loads with an empty clock');
  t.throws(
    () => storeFromJson(JSON.stringify({ version: 1, groups: [], pendingInvites: [], rotatedAt: { nothex: 1 } })),
    InvalidGroupState,
  );
  t.throws(
    () => storeFromJson(JSON.stringify({ version: 1, groups: [], pendingInvites: [], rotatedAt: { [id]: -1 } })),
    InvalidGroupState,
  );
});

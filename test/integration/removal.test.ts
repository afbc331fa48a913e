import dgram from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { createAnnounce } from '../../src/group/announce.js';
import { DIRECT_KIND, sealDirect } from '../../src/group/direct.js';
import { findMember, type GroupState, groupFromJson } from '../../src/group/groupState.js';
import { parseAddress } from '../../src/group/index.js';
import { mailboxIdOf, nodeIdOf } from '../../src/node/ids.js';
import { readSecretFile } from '../../src/node/keyFiles.js';
import { NO_COVER } from '../../src/node/securityFloor.js';
import { getCrypto } from '../../src/scramble/crypto/index.js';
import { DEFAULT_GEOMETRY } from '../../src/scramble/geometry.js';
import { createPacket } from '../../src/scramble/packet.js';
import { systemRng } from '../../src/scramble/rng.js';
import { seal } from '../../src/scramble/sealedBox.js';
import { startCluster } from '../../src/sim/processCluster.js';
import { mixd, waitFor } from '../../src/sim/processes.js';
import { encodeFragment } from '../../src/source/envelope.js';
import { frameSealed } from '../../src/source/frames.js';

/**
 * Issue 11, F3, over real processes: after `mixd group remove`, the removed
 * member learns it (its sends fail, exit 2), and its re-announce attack (its
 * original certificate, at the old epoch or at the new one, sent as announces
 * straight into the members' mailboxes through the mixnet) is refused.
 */
type Drops = { metrics: { drops: Record<string, number> } };
type Listed = Array<{ name: string; epoch: number; members: number; removed: boolean }>;

t.test('a removed member is told, cannot send, and cannot announce itself back', async (t) => {
  // Short mix delays: this test is about membership, not timing.
  const cluster = await startCluster(
    3,
    3,
    [],
    { ...NO_COVER, meanDelayMs: 20, maxDelayMs: 200 },
    { insecureNoCover: true },
  );
  t.teardown(() => cluster.stop());
  const crypto = getCrypto('sodium');
  const rng = systemRng(crypto);
  const dirs = cluster.sourceDirs;
  const addr = cluster.addresses;
  const src = (i: number) => cluster.sources[i] as (typeof cluster.sources)[0];
  const cli = (i: number, args: string[]) => mixd([...args, '--dir', dirs[i] as string]);
  const passFile = join(cluster.root, 'pass.txt');
  writeFileSync(passFile, 'a long shared passphrase\n');

  // Control-socket calls where the CLI is not what is tested (each CLI run costs a process start).
  await src(0).call('groupCreate', { name: 'club' });
  const inv = cli(0, ['group', 'invite', 'club', addr[1] as string, '--passphrase-file', passFile]);
  t.equal(inv.status, 0, inv.stderr);
  const printed = /id ([0-9a-f]{32})/.exec(inv.stdout)?.[1];
  t.ok(printed, `the invite command prints the invite id: ${inv.stdout.trim()}`);
  const second = await src(0).call<{ id: string }>('groupInvite', {
    group: 'club',
    address: addr[2],
    passphrase: 'a long shared passphrase',
  });
  for (const [i, id] of [
    [1, printed as string],
    [2, second.id],
  ] as const) {
    await waitFor(`invite reaches source ${i}`, async () => (await src(i).call<unknown[]>('groupInvites')).length > 0);
    const shown = await src(i).call<Array<{ id: string }>>('groupInvites');
    t.equal(shown[0]?.id, id, '`group invites` shows the id `group invite` printed');
    await src(i).call('groupJoin', { invite: id, passphrase: 'a long shared passphrase' });
  }
  await waitFor('all three know each other', async () => {
    for (const i of [0, 1, 2]) if ((await src(i).call<Listed>('groupList'))[0]?.members !== 3) return false;
    return true;
  });
  // What the attacker keeps from its time as a member: its state (certificate, keys) at epoch 0.
  const before = groupFromJson(JSON.parse(readFileSync(join(dirs[2] as string, 'groups.json'), 'utf8')).groups[0]);

  await src(0).call('groupRemove', { group: 'club', address: addr[2] });
  await waitFor('member 1 at epoch 1 with 2 members', async () => {
    const g = (await src(1).call<Listed>('groupList'))[0];
    return g?.epoch === 1 && g.members === 2;
  });
  await waitFor(
    'the removed member learns it was removed',
    async () => (await src(2).call<Listed>('groupList'))[0]?.removed,
  );
  const send = cli(2, ['send', 'club', 'still here?']);
  t.equal(send.status, 2, 'mixd send exits non-zero');
  t.match(send.stderr, /you were removed from "club"/);

  // The attack: carol's old certificate announced to alice and bob, at epoch 0 and at epoch 1.
  const cs = await cluster.central.call<{ epoch: number }>('status');
  const epoch = cs.epoch;
  const mixKey = (dir: string) => crypto.x25519Base(readSecretFile(join(dir, 'keys', `mix-${epoch}.key`)));
  const idKey = (dir: string) =>
    new Uint8Array(Buffer.from(readFileSync(join(dir, 'keys', 'identity.pub'), 'utf8').trim(), 'hex'));
  const carol = {
    identitySeed: readSecretFile(join(dirs[2] as string, 'keys', 'identity.key')),
    identityKey: parseAddress(addr[2] as string).identityKey,
  };
  const me = findMember(before.members, carol.identityKey);
  t.ok(me, 'carol kept her certificate');
  const sock = dgram.createSocket('udp4');
  t.teardown(() => sock.close());
  const p1Port = (cluster.proxies[0] as (typeof cluster.proxies)[0]).ready.listen.port;
  const inject = async (to: number, blob: Uint8Array) => {
    const target = parseAddress(addr[to] as string).identityKey;
    const envelope = encodeFragment({ msgId: rng(16), index: 0, count: 1, surb: null, chunk: blob });
    const body = frameSealed(seal(crypto, crypto.ed25519PublicToX25519(target), envelope, rng));
    const packet = createPacket(
      crypto,
      DEFAULT_GEOMETRY,
      [
        {
          publicKey: mixKey(cluster.proxyDirs[0] as string),
          command: { kind: 'relay', next: nodeIdOf(crypto, idKey(cluster.proxyDirs[1] as string)), delayMs: 0 },
        },
        {
          publicKey: mixKey(cluster.proxyDirs[1] as string),
          command: { kind: 'relay', next: nodeIdOf(crypto, idKey(cluster.centralDir)), delayMs: 0 },
        },
        { publicKey: mixKey(cluster.centralDir), command: { kind: 'deliver', mailbox: mailboxIdOf(crypto, target) } },
      ],
      body,
      rng,
    );
    await new Promise<void>((resolve) => sock.send(packet, p1Port, '127.0.0.1', () => resolve()));
  };
  const dropsOf = async (i: number) => (await src(i).call<Drops>('status')).metrics.drops;
  const at0 = [await dropsOf(0), await dropsOf(1)];
  const announceAt = (e: number): GroupState => ({ ...before, epoch: e });
  for (const to of [0, 1]) {
    for (const e of [0, 1]) {
      const body = createAnnounce(crypto, announceAt(e), carol, me!, { chainKey: rng(32), index: 0 });
      await inject(
        to,
        sealDirect(crypto, parseAddress(addr[to] as string).identityKey, DIRECT_KIND.announce, body, rng),
      );
    }
  }
  for (const i of [0, 1]) {
    await waitFor(`member ${i} refuses both announces`, async () => {
      const d = await dropsOf(i);
      const was = at0[i] as Record<string, number>;
      return (
        (d.group_wrong_epoch ?? 0) > (was.group_wrong_epoch ?? 0) &&
        (d.group_bad_certificate ?? 0) > (was.group_bad_certificate ?? 0)
      );
    });
  }
  for (const i of [0, 1]) {
    const list = await src(i).call<Listed>('groupList');
    t.equal(list[0]?.members, 2, `member ${i} still has 2 members`);
    const members = await src(i).call<Array<{ address: string }>>('groupMembers', { group: 'club' });
    t.notOk(
      members.some((m) => m.address === addr[2]),
      `member ${i} does not list the removed member`,
    );
  }
});

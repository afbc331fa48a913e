/**
 * Groups on a virtual network (CS + 5 proxies + 5 sources, real crypto), driven through the same
 * control methods the CLI calls (Daemon.call runs them in process). The CLI, the library API and
 * the UDP bridge themselves are tested on real processes (test/integration/processes.test.ts).
 */
import { join } from 'node:path';
import t from 'tap';
import type { Daemon } from '../../src/daemon/startDaemon.js';
import { buildFanoutBodies, parseAddress, sealGroupMessage } from '../../src/group/index.js';
import { ControlError } from '../../src/node/controlSocket.js';
import { mailboxIdOf, nodeIdOf } from '../../src/node/ids.js';
import { readSecretFile } from '../../src/node/keyFiles.js';
import type { MemoryGroupStorage } from '../../src/node/memoryStores.js';
import { NO_COVER } from '../../src/node/securityFloor.js';
import { getCrypto } from '../../src/scramble/crypto/index.js';
import { DEFAULT_GEOMETRY } from '../../src/scramble/geometry.js';
import { createPacket } from '../../src/scramble/packet.js';
import { systemRng } from '../../src/scramble/rng.js';
import { createTestnet, type Testnet } from '../../src/sim/testnet.js';
import type { ReceivedDatagram } from '../../src/source/sourceNode.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const text = (d: ReceivedDatagram) => Buffer.from(d.data).toString();
const PASS = 'correct horse battery staple';

type Summary = { name: string; epoch: number; members: number; removed?: boolean };

t.test('groups on a virtual network: CS + 5 proxies + 5 sources', async (t) => {
  const net = await createTestnet(t, {
    proxies: 5,
    sources: 5,
    network: { ...NO_COVER, meanDelayMs: 20, maxDelayMs: 500 },
    insecureNoCover: true,
  });
  const src = (i: number) => net.sources[i] as Daemon;
  const addr = net.sources.map((d) => d.source?.address as string);
  const list = async (i: number) => (await src(i).call<Summary[]>('groupList'))[0];
  const inboxes = () =>
    net.sources.map((d) => {
      const got: ReceivedDatagram[] = [];
      d.source?.subscribe((x) => got.push(x));
      return got;
    });
  const allAcked = () =>
    net.until(async () => (await net.central.ctx.metrics.snapshot()).mailboxEntries === 0, {
      limitMs: 30_000,
      what: 'every delivery acknowledged',
    });

  // Source 0 creates "friends" and invites 1, 2, 3; source 4 stays outside.
  await src(0).call('groupCreate', { name: 'friends' });
  for (const i of [1, 2, 3]) await src(0).call('groupInvite', { group: 'friends', address: addr[i], passphrase: PASS });
  await net.until(
    async () => {
      for (const i of [1, 2, 3]) if ((await src(i).call<unknown[]>('groupInvites')).length === 0) return false;
      return true;
    },
    { limitMs: 20_000, what: 'invites to arrive' },
  );

  await t.test('a wrong passphrase fails with a clear message; the right one then succeeds', async (t) => {
    await t.rejects(
      src(1).call('groupJoin', { passphrase: 'incorrect pony' }),
      new ControlError('wrong passphrase for this invite; the invite is kept, try again', 'WRONG_PASSPHRASE'),
    );
    for (const i of [1, 2, 3]) {
      const joined = await src(i).call<Summary>('groupJoin', { passphrase: PASS });
      t.equal(joined.name, 'friends');
    }
    await net.until(
      async () => {
        for (const i of [0, 1, 2, 3]) if ((await list(i))?.members !== 4) return false;
        return true;
      },
      { limitMs: 30_000, what: 'every member to know all 4' },
    );
    // Announcements are control messages: each member's copy is acknowledged through a SURB.
    await net.until(() => (net.source(3).channel?.stats.acksReceived ?? 0) >= 1, {
      limitMs: 20_000,
      what: "an ack for the joiner's announcement",
    });
    t.equal(net.source(3).channel?.stats.failed, 0, 'no control message given up');
  });

  await t.test('a send reaches the 3 other members exactly once; the outsider gets nothing', async (t) => {
    const got = inboxes();
    const r = await src(2).call<{ recipients: number }>('groupSend', { group: 'friends', data: b64('hello friends') });
    t.equal(r.recipients, 3);
    await net.until(() => [0, 1, 3].every((i) => got[i]?.some((d) => text(d) === 'hello friends')), {
      limitMs: 20_000,
      what: 'the datagram at members 0, 1, 3',
    });
    // Once CS holds nothing unacknowledged, nothing more can be delivered to anyone.
    await allAcked();
    for (const i of [0, 1, 3]) {
      const mine = (got[i] as ReceivedDatagram[]).filter((d) => text(d) === 'hello friends');
      t.equal(mine.length, 1, `member ${i} got it exactly once`);
      t.equal(mine[0]?.group, 'friends');
      t.equal(mine[0]?.from, addr[2], 'members learn the sender');
    }
    t.equal(got[2]?.length, 0, 'the sender does not get its own message');
    t.equal(got[4]?.length, 0, 'the outsider receives nothing');
  });

  await t.test('too large a datagram is refused with the limit', async (t) => {
    await t.rejects(src(0).call('groupSend', { group: 'friends', data: b64('x'.repeat(5000)) }), {
      name: 'MixdError',
      code: 'DATAGRAM_TOO_LARGE',
      message: /datagram is 5000 bytes; at most \d+ fit/,
    });
  });

  await t.test('a member offline during a send receives the datagram when it comes back', async (t) => {
    await net.stopNode(src(3));
    await src(0).call('groupSend', { group: 'friends', data: b64('while you were out') });
    await net.until(async () => (await net.central.ctx.metrics.snapshot()).mailboxEntries >= 1, {
      limitMs: 20_000,
      what: 'the copy for the offline member stored at CS',
    });
    const back = await net.restartNode(src(3));
    const got: ReceivedDatagram[] = [];
    back.source?.subscribe((d) => got.push(d));
    await net.until(() => got.some((d) => text(d) === 'while you were out'), { limitMs: 20_000, what: 'the datagram' });
    t.equal(got.find((d) => text(d) === 'while you were out')?.group, 'friends');
  });

  await t.test('a body sealed to pub_G by a non-member (what P2 could do) is rejected by members', async (t) => {
    const crypto = getCrypto('sodium');
    const stores = net.sources[1]?.stores.groups as MemoryGroupStorage;
    const g = (await stores.load()).groups[0];
    if (!g) throw new Error('member 1 has no group');
    // A forger with its own identity, not a member: signs a data message and seals it to pub_G.
    const identitySeed = crypto.randomBytes(32);
    const forger = { identitySeed, identityKey: crypto.ed25519PublicKey(identitySeed) };
    const forged = {
      ...g,
      members: [...g.members, { ...(g.members[0] as (typeof g.members)[0]), identityKey: forger.identityKey }],
    };
    const { c0 } = sealGroupMessage(
      crypto,
      forged,
      forger,
      'data',
      new TextEncoder().encode('forged'),
      systemRng(crypto),
    );
    const epoch = Math.floor(net.clock.now() / 3_600_000);
    const keyOf = (d: Daemon) => readSecretFile(join(d.ctx.dataDir, 'keys', `mix-${epoch}.key`));
    const recipients = [1, 2].map((i) => mailboxIdOf(crypto, parseAddress(addr[i] as string).identityKey));
    const [body] = buildFanoutBodies(
      crypto,
      DEFAULT_GEOMETRY,
      g.publicKey,
      c0,
      recipients,
      crypto.x25519Base(keyOf(net.central)),
      systemRng(crypto),
    );
    const [p1, p2] = [net.proxies[0] as Daemon, net.proxies[1] as Daemon];
    const packet = createPacket(
      crypto,
      DEFAULT_GEOMETRY,
      [
        {
          publicKey: crypto.x25519Base(keyOf(p1)),
          command: { kind: 'relay', next: nodeIdOf(crypto, p2.ctx.identity.publicKey), delayMs: 0 },
        },
        { publicKey: crypto.x25519Base(keyOf(p2)), command: { kind: 'fanout' } },
      ],
      body as Uint8Array,
      systemRng(crypto),
    );
    const got = inboxes();
    const stranger = await (net.network as NonNullable<Testnet['network']>).bind(
      { host: '127.0.0.1', port: 0 },
      () => {},
    );
    stranger.send(p1.local, packet);
    for (const i of [1, 2]) {
      await net.until(async () => ((await src(i).ctx.metrics.snapshot()).drops.group_not_a_member ?? 0) >= 1, {
        limitMs: 20_000,
        what: `member ${i} to drop the forgery`,
      });
    }
    for (const i of [1, 2]) t.equal(got[i]?.filter((d) => text(d) === 'forged').length, 0, 'nothing forged surfaces');
  });

  await t.test('after remove, the removed member cannot read later messages and the others can', async (t) => {
    await src(0).call('groupRemove', { group: 'friends', address: addr[3] });
    await net.until(
      async () => {
        for (const i of [1, 2]) {
          const g = await list(i);
          if (g?.epoch !== 1 || g.members !== 3) return false;
        }
        return true;
      },
      { limitMs: 30_000, what: 'members 1 and 2 at the new epoch' },
    );
    const got = inboxes();
    await src(0).call('groupSend', { group: 'friends', data: b64('after the removal') });
    await net.until(() => [1, 2].every((i) => got[i]?.some((d) => text(d) === 'after the removal')), {
      limitMs: 20_000,
      what: 'the datagram at members 1 and 2',
    });
    await allAcked();
    t.equal(got[3]?.filter((d) => text(d) === 'after the removal').length, 0, 'removed member cannot read it');
    // The removed member never received the new group key, only a signed removal notice: its client knows.
    await net.until(async () => (await list(3))?.removed === true, {
      limitMs: 20_000,
      what: 'the removed member learns it was removed',
    });
    t.equal((await list(3))?.removed, true, 'the removed member sees it was removed (and holds no key)');
  });
});

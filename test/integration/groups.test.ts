import dgram from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { buildFanoutBodies, groupFromJson, parseAddress, sealGroupMessage } from '../../src/group/index.js';
import { mailboxIdOf, nodeIdOf } from '../../src/node/ids.js';
import { readSecretFile } from '../../src/node/keyFiles.js';
import { getCrypto } from '../../src/scramble/crypto/index.js';
import { DEFAULT_GEOMETRY } from '../../src/scramble/geometry.js';
import { createPacket } from '../../src/scramble/packet.js';
import { systemRng } from '../../src/scramble/rng.js';
import { FAST_TEST_NETWORK } from '../../src/sim/network.js';
import { startCluster } from '../../src/sim/processCluster.js';
import { collect, mixd, startNode, text, waitFor } from '../../src/sim/processes.js';

type Status = { metrics: { drops: Record<string, number> } };

t.test('groups over real processes: CS + 5 proxies + 5 sources', async (t) => {
  const cluster = await startCluster(5, 5, [], { ...FAST_TEST_NETWORK }, { insecureNoCover: true });
  t.teardown(() => cluster.stop());
  const dirs = cluster.sourceDirs;
  const addr = cluster.addresses;
  const cli = (i: number, args: string[]) => mixd([...args, '--dir', dirs[i] as string]);
  const passFile = join(cluster.root, 'pass.txt');
  const wrongFile = join(cluster.root, 'wrong.txt');
  writeFileSync(passFile, 'correct horse battery staple\n');
  writeFileSync(wrongFile, 'incorrect pony\n');

  // Source 0 creates "friends" and invites 1, 2, 3; source 4 stays outside.
  const created = cli(0, ['group', 'create', 'friends']);
  t.equal(created.status, 0, created.stderr);
  for (const i of [1, 2, 3]) {
    const r = cli(0, ['group', 'invite', 'friends', addr[i] as string, '--passphrase-file', passFile]);
    t.equal(r.status, 0, r.stderr);
  }
  await waitFor('invites arrive', async () => {
    for (const i of [1, 2, 3]) {
      const inv = await (cluster.sources[i] as (typeof cluster.sources)[0]).call<unknown[]>('groupInvites');
      if (inv.length === 0) return false;
    }
    return true;
  });

  await t.test('a wrong passphrase fails with a clear message; the right one then succeeds', async (t) => {
    const wrong = cli(1, ['group', 'join', '--passphrase-file', wrongFile]);
    t.equal(wrong.status, 2);
    t.match(wrong.stderr, /wrong passphrase for this invite; the invite is kept, try again/);
    for (const i of [1, 2, 3]) {
      const r = cli(i, ['group', 'join', '--passphrase-file', passFile]);
      t.equal(r.status, 0, r.stderr);
      t.match(r.stdout, /"name": "friends"/);
    }
    await waitFor('every member knows all 4', async () => {
      for (const i of [0, 1, 2, 3]) {
        const list = await (cluster.sources[i] as (typeof cluster.sources)[0]).call<Array<{ members: number }>>(
          'groupList',
        );
        if (list[0]?.members !== 4) return false;
      }
      return true;
    });
    // Announcements are control messages: each member's copy is acknowledged through a SURB.
    type Direct = { direct: { acksReceived: number; failed: number } };
    const joiner = await waitFor('the joiner to hear an ack for its announcement', async () => {
      const st = await (cluster.sources[3] as (typeof cluster.sources)[0]).call<Direct>('status');
      return st.direct.acksReceived >= 1 ? st : false;
    });
    t.ok(
      joiner.direct.acksReceived >= 1,
      `the joiner's announcement was acknowledged (${joiner.direct.acksReceived} acks)`,
    );
    t.equal(joiner.direct.failed, 0, 'no control message given up');
  });

  await t.test('mixd send reaches the 3 other members exactly once; the outsider gets nothing', async (t) => {
    const inboxes = await Promise.all(cluster.sources.map((s) => collect(s)));
    const r = cli(2, ['send', 'friends', 'hello friends']);
    t.equal(r.status, 0, r.stderr);
    for (const i of [0, 1, 3])
      await (inboxes[i] as Awaited<ReturnType<typeof collect>>).next((d) => text(d) === 'hello friends');
    await new Promise((r) => setTimeout(r, 1500));
    for (const i of [0, 1, 3]) {
      const got = (inboxes[i] as Awaited<ReturnType<typeof collect>>).items.filter((d) => text(d) === 'hello friends');
      t.equal(got.length, 1, `member ${i} got it exactly once`);
      t.equal(got[0]?.group, 'friends');
      t.equal(got[0]?.from, addr[2], 'members learn the sender');
    }
    t.equal(
      (inboxes[2] as Awaited<ReturnType<typeof collect>>).items.length,
      0,
      'the sender does not get its own message',
    );
    t.equal((inboxes[4] as Awaited<ReturnType<typeof collect>>).items.length, 0, 'the outsider receives nothing');
    for (const i of inboxes) i.close();
  });

  await t.test('too large a datagram is refused with the limit', async (t) => {
    const big = 'x'.repeat(5000);
    const r = cli(0, ['send', 'friends', big]);
    t.equal(r.status, 2);
    t.match(r.stderr, /datagram is 5000 bytes; at most \d+ fit/);
  });

  await t.test('a member offline during a send receives the datagram when it comes back', async (t) => {
    await (cluster.sources[3] as (typeof cluster.sources)[0]).stop('SIGTERM');
    const r = cli(0, ['send', 'friends', 'while you were out']);
    t.equal(r.status, 0, r.stderr);
    await new Promise((r) => setTimeout(r, 1500));
    cluster.sources[3] = await startNode(dirs[3] as string);
    const inbox = await collect(cluster.sources[3] as (typeof cluster.sources)[0]);
    const d = await inbox.next((d) => text(d) === 'while you were out');
    t.equal(d.group, 'friends');
    inbox.close();
  });

  await t.test('a body sealed to pub_G by a non-member (what P2 could do) is rejected by members', async (t) => {
    const crypto = getCrypto('sodium');
    const stored = JSON.parse(readFileSync(join(dirs[1] as string, 'groups.json'), 'utf8'));
    const g = groupFromJson(stored.groups[0]);
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
    const epoch = Math.floor(Date.now() / 3_600_000);
    const csSecret = readSecretFile(join(cluster.centralDir, 'keys', `mix-${epoch}.key`));
    const recipients = [1, 2].map((i) => mailboxIdOf(crypto, parseAddress(addr[i] as string).identityKey));
    const [body] = buildFanoutBodies(
      crypto,
      DEFAULT_GEOMETRY,
      g.publicKey,
      c0,
      recipients,
      crypto.x25519Base(csSecret),
      systemRng(crypto),
    );
    const p1 = readSecretFile(join(cluster.proxyDirs[0] as string, 'keys', `mix-${epoch}.key`));
    const p2 = readSecretFile(join(cluster.proxyDirs[1] as string, 'keys', `mix-${epoch}.key`));
    const p2Key = readFileSync(join(cluster.proxyDirs[1] as string, 'keys', 'identity.pub'), 'utf8').trim();
    const packet = createPacket(
      crypto,
      DEFAULT_GEOMETRY,
      [
        {
          publicKey: crypto.x25519Base(p1),
          command: { kind: 'relay', next: nodeIdOf(crypto, new Uint8Array(Buffer.from(p2Key, 'hex'))), delayMs: 0 },
        },
        { publicKey: crypto.x25519Base(p2), command: { kind: 'fanout' } },
      ],
      body as Uint8Array,
      systemRng(crypto),
    );
    const inboxes = await Promise.all([1, 2].map((i) => collect(cluster.sources[i] as (typeof cluster.sources)[0])));
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) =>
      sock.send(packet, (cluster.proxies[0] as (typeof cluster.proxies)[0]).ready.listen.port, '127.0.0.1', () => r()),
    );
    sock.close();
    for (const i of [1, 2]) {
      await waitFor(`member ${i} drops the forgery`, async () => {
        const st = await (cluster.sources[i] as (typeof cluster.sources)[0]).call<Status>('status');
        return (st.metrics.drops.group_not_a_member ?? 0) >= 1;
      });
    }
    for (const inbox of inboxes) {
      t.equal(inbox.items.filter((d) => text(d) === 'forged').length, 0, 'nothing forged reaches the application');
      inbox.close();
    }
  });

  await t.test('mixd recv --json prints what mixd send sent, until interrupted', async (t) => {
    const { spawn } = await import('node:child_process');
    const { ROOT } = await import('../../src/sim/processes.js');
    const recv = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), 'recv', 'friends', '--json', '--dir', dirs[1] as string],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    recv.stdout.on('data', (c) => {
      out += c;
    });
    const ready = new Promise<void>((resolve) =>
      recv.stderr.on('data', (c) => {
        err += c;
        if (err.includes('receiving')) resolve();
      }),
    );
    await ready;
    const r = cli(2, ['send', 'friends', 'to the cli']);
    t.equal(r.status, 0, r.stderr);
    await waitFor('a line from mixd recv', () => out.includes('\n'));
    const line = JSON.parse(out.split('\n')[0] as string);
    t.equal(line.group, 'friends');
    t.equal(line.from, addr[2]);
    t.equal(Buffer.from(line.data, 'base64').toString(), 'to the cli');
    const exited = new Promise<number | null>((resolve) => recv.once('exit', (code) => resolve(code)));
    recv.kill('SIGINT');
    t.equal(await exited, 0, 'exits cleanly on Ctrl-C');
  });

  await t.test('the library API sends to the group and iterates over received datagrams', async (t) => {
    const { connect } = await import('../../src/index.js');
    const alice = await connect({ dir: dirs[0] as string });
    const bob = await connect({ dir: dirs[1] as string });
    t.equal(await alice.address(), addr[0]);
    const received = (async () => {
      for await (const d of bob) if (new TextDecoder().decode(d.data) === 'from the library') return d;
      return null;
    })();
    await new Promise((r) => setTimeout(r, 200));
    const sent = await alice.send('friends', new TextEncoder().encode('from the library'));
    t.equal(sent.recipients, 3);
    const d = await received;
    t.equal(d?.group, 'friends');
    t.equal(d?.from, addr[0]);
    alice.close();
    bob.close();
  });

  await t.test('the UDP bridge carries a datagram from one application to the others', async (t) => {
    const appA = dgram.createSocket('udp4');
    const appB = dgram.createSocket('udp4');
    await Promise.all([appA, appB].map((s) => new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()))));
    const bindA = cli(0, [
      'group',
      'bind',
      'friends',
      '--listen',
      '127.0.0.1:0',
      '--app',
      `127.0.0.1:${appA.address().port}`,
    ]);
    t.equal(bindA.status, 0, bindA.stderr);
    const bridgeA = JSON.parse(bindA.stdout).listen as string;
    const bindB = cli(1, [
      'group',
      'bind',
      'friends',
      '--listen',
      '127.0.0.1:0',
      '--app',
      `127.0.0.1:${appB.address().port}`,
    ]);
    t.equal(bindB.status, 0, bindB.stderr);
    const got = new Promise<Buffer>((resolve) => appB.once('message', (m) => resolve(m)));
    const [host, port] = bridgeA.split(':') as [string, string];
    appA.send(Buffer.from('plain udp app datagram'), Number(port), host);
    const msg = await Promise.race([
      got,
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error('bridge timeout')), 20_000)),
    ]);
    t.equal(msg.toString(), 'plain udp app datagram');
    appA.close();
    appB.close();
  });

  await t.test('after remove, the removed member cannot read later messages and the others can', async (t) => {
    const r = cli(0, ['group', 'remove', 'friends', addr[3] as string]);
    t.equal(r.status, 0, r.stderr);
    await waitFor('members 1 and 2 at the new epoch', async () => {
      for (const i of [1, 2]) {
        const list = await (cluster.sources[i] as (typeof cluster.sources)[0]).call<
          Array<{ epoch: number; members: number }>
        >('groupList');
        if (list[0]?.epoch !== 1 || list[0]?.members !== 3) return false;
      }
      return true;
    });
    const inboxes = await Promise.all([1, 2, 3].map((i) => collect(cluster.sources[i] as (typeof cluster.sources)[0])));
    const s = cli(0, ['send', 'friends', 'after the removal']);
    t.equal(s.status, 0, s.stderr);
    for (const i of [0, 1])
      await (inboxes[i] as Awaited<ReturnType<typeof collect>>).next((d) => text(d) === 'after the removal');
    await new Promise((r) => setTimeout(r, 1500));
    t.equal(
      (inboxes[2] as Awaited<ReturnType<typeof collect>>).items.filter((d) => text(d) === 'after the removal').length,
      0,
      'removed member cannot read it',
    );
    // The removed member never received the new group key: it is stuck at the old epoch.
    const removedView = await (cluster.sources[3] as (typeof cluster.sources)[0]).call<Array<{ epoch: number }>>(
      'groupList',
    );
    t.equal(removedView[0]?.epoch, 0, 'the removed member only holds the old epoch key');
    for (const i of inboxes) i.close();
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import t, { type Test } from 'tap';
import { encodeAddress } from '../../src/group/address.js';
import { openDirect } from '../../src/group/direct.js';
import type { LocalIdentity } from '../../src/group/groupState.js';
import { MAX_PENDING_INVITES } from '../../src/group/invite.js';
import type { NodeContext } from '../../src/node/context.js';
import { ControlError } from '../../src/node/controlSocket.js';
import type { IndexedDirectory } from '../../src/node/directory.js';
import { centralIdOf } from '../../src/node/ids.js';
import { createMetrics } from '../../src/node/metrics.js';
import type { Transport } from '../../src/node/transport.js';
import { VirtualClock } from '../../src/node/virtualClock.js';
import { getCrypto } from '../../src/scramble/crypto/index.js';
import { DEFAULT_GEOMETRY } from '../../src/scramble/geometry.js';
import type { DirectChannel } from '../../src/source/directChannel.js';
import { GroupManager } from '../../src/source/groupManager.js';

/**
 * GroupManager wired to an in-memory direct channel that delivers every
 * direct message (in send order) when the test calls `flush`: the daemon's
 * membership logic without sockets or mix delays.
 */
const crypto = getCrypto('sodium');
const CENTRAL = centralIdOf(crypto, new Uint8Array(32).fill(3));
const PASS = new TextEncoder().encode('a shared passphrase');

interface Node {
  id: LocalIdentity;
  address: string;
  groups: GroupManager;
  events: Array<[string, unknown]>;
  drops: () => Promise<Record<string, number>>;
}

function world(t: Test, n: number) {
  const dir = mkdtempSync(join(tmpdir(), 'mixd-gm-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const queue: Array<{ to: Uint8Array; sealed: Uint8Array }> = [];
  const log: Array<{ to: Uint8Array; sealed: Uint8Array }> = [];
  const nodes: Node[] = [];
  for (let i = 0; i < n; i++) {
    const seed = crypto.randomBytes(32);
    const id: LocalIdentity = { identitySeed: seed, identityKey: crypto.ed25519PublicKey(seed), centralId: CENTRAL };
    const metrics = createMetrics('source');
    const clock = new VirtualClock({ startMs: 1_700_000_000_000 });
    const ctx: NodeContext = {
      crypto,
      identity: { seed, publicKey: id.identityKey },
      dataDir: join(dir, `s${i}`),
      log: pino({ level: 'silent' }),
      metrics,
      transport: undefined as unknown as Transport,
      clock,
      now: () => clock.now(),
    };
    const events: Array<[string, unknown]> = [];
    const channel = {
      send: (to: Uint8Array, sealed: Uint8Array) => {
        queue.push({ to, sealed });
        log.push({ to, sealed });
        return { msgId: 'm', fragments: 1, delays: [] };
      },
    } as unknown as DirectChannel;
    const dataDir = mkdtempSync(join(dir, `s${i}-`));
    const groups = new GroupManager({
      ctx,
      self: id,
      dataDir,
      geometry: () => DEFAULT_GEOMETRY,
      directory: () => undefined as unknown as IndexedDirectory,
      channel: () => channel,
      send: () => undefined,
      emit: () => undefined,
      event: (name, data) => events.push([name, data]),
      inviteKdf: { opsLimit: 1, memLimitBytes: 64 * 1024 },
    });
    const drops = async () => {
      const m = await metrics.drops.get();
      return Object.fromEntries(m.values.map((v) => [String(v.labels.reason), v.value]));
    };
    nodes.push({
      id,
      address: encodeAddress({ identityKey: id.identityKey, centralId: CENTRAL }),
      groups,
      events,
      drops,
    });
  }
  const deliver = (to: Uint8Array, sealed: Uint8Array) => {
    const node = nodes.find((x) => crypto.equal(x.id.identityKey, to))!;
    node.groups.onDirect(openDirect(crypto, node.id.identitySeed, sealed)!);
  };
  const flush = () => {
    while (queue.length > 0) {
      const { to, sealed } = queue.shift()!;
      const node = nodes.find((x) => crypto.equal(x.id.identityKey, to))!;
      const d = openDirect(crypto, node.id.identitySeed, sealed)!;
      node.groups.onDirect(d);
    }
  };
  return { nodes, flush, log, deliver };
}

function throwsControl(t: Test, f: () => unknown, re: RegExp): void {
  try {
    f();
    t.fail(`expected a ControlError matching ${re}`);
  } catch (err) {
    t.ok(err instanceof ControlError, `ControlError: ${(err as Error).message}`);
    t.match((err as Error).message, re);
  }
}

t.test('join: one pending invite needs no id, several do (the error lists them); ids match', async (t) => {
  const { nodes, flush } = world(t, 3);
  const [a, b, c] = nodes as [Node, Node, Node];
  a.groups.create('one');
  c.groups.create('two');
  const i1 = a.groups.invite('one', b.address, PASS);
  const i2 = c.groups.invite('two', b.address, PASS);
  flush();
  t.same(
    b.groups.invites().map((x) => x.id),
    [i1.id, i2.id],
    'the ids the inviters got are the ids the invitee sees',
  );
  throwsControl(t, () => b.groups.join(undefined, PASS), new RegExp(`2 invites are pending.*${i1.id}, ${i2.id}`));
  throwsControl(t, () => b.groups.join('ffff', PASS), /no pending invite "ffff"/);
  t.equal(b.groups.join(i2.id.slice(0, 8), PASS).name, 'two', 'an id prefix picks one');
  t.equal(b.groups.join(undefined, PASS).name, 'one', 'with one left, no id is needed');
});

t.test(`pending invites are capped at ${MAX_PENDING_INVITES}: the oldest go first`, async (t) => {
  const { nodes, flush } = world(t, 2);
  const [a, b] = nodes as [Node, Node];
  const ids: string[] = [];
  for (let i = 0; i < MAX_PENDING_INVITES + 3; i++) {
    a.groups.create(`g${i}`);
    ids.push(a.groups.invite(`g${i}`, b.address, PASS).id);
  }
  flush();
  t.same(
    b.groups.invites().map((x) => x.id),
    ids.slice(3),
  );
  t.equal((await b.drops()).group_invite_evicted, 3);
});

t.test('remove: the removed member is told, its sends fail; a leave makes the primary admin rekey', async (t) => {
  const { nodes, flush } = world(t, 4);
  const [a, b, c, d] = nodes as [Node, Node, Node, Node];
  a.groups.create('club');
  for (const x of [b, c, d]) {
    a.groups.invite('club', x.address, PASS);
    flush();
    x.groups.join(undefined, PASS);
    flush();
  }
  for (const x of nodes) t.equal(x.groups.list()[0]?.members, 4, 'everyone knows all four');
  // The creator promotes b; b (not the creator) removes d.
  a.groups.promote('club', b.address);
  flush();
  t.equal(b.groups.list()[0]?.admin, true);
  b.groups.remove('club', d.address);
  flush();
  t.same(
    nodes.map((x) => x.groups.list()[0]?.epoch),
    [2, 2, 2, 2],
  );
  t.equal(d.groups.list()[0]?.removed, true, 'd sees it was removed');
  t.ok(d.events.some(([e]) => e === 'removed'));
  throwsControl(t, () => d.groups.send('club', new Uint8Array(1)), /you were removed from "club"/);
  for (const x of [a, b, c]) t.equal(x.groups.list()[0]?.members, 3);
  // A plain member who is not an admin cannot remove.
  throwsControl(t, () => c.groups.remove('club', a.address), /only an admin/);
  // c leaves: the primary admin (lowest key of a, b) rekeys at once.
  c.groups.leave('club');
  flush();
  for (const x of [a, b]) {
    t.equal(x.groups.list()[0]?.members, 2);
    t.equal(x.groups.list()[0]?.epoch, 3, 'the leave was followed by a rekey');
  }
  t.equal(c.groups.list().length, 0);
});

t.test('no rollback: a replayed old invite is refused with a clear message', async (t) => {
  const { nodes, flush, log, deliver } = world(t, 3);
  const [a, b, c] = nodes as [Node, Node, Node];
  a.groups.create('club');
  a.groups.invite('club', b.address, PASS);
  const invite = log[log.length - 1]!;
  flush();
  b.groups.join(undefined, PASS);
  flush();
  // Someone (CS, say) delivers the same invite again.
  deliver(invite.to, invite.sealed);
  t.equal(b.groups.invites().length, 1);
  throwsControl(
    t,
    () => b.groups.join(undefined, PASS),
    /invite rejected: invite is for epoch 0 of "club", and we already hold epoch 0: an old invite cannot roll the group back/,
  );
  // After b leaves (and the admin rekeys), the old invite still cannot bring it back.
  a.groups.invite('club', c.address, PASS);
  flush();
  c.groups.join(undefined, PASS);
  flush();
  b.groups.leave('club');
  flush();
  deliver(invite.to, invite.sealed);
  throwsControl(t, () => b.groups.join(undefined, PASS), /we already hold epoch 0 \(left\)/);
  t.equal(a.groups.list()[0]?.epoch, 1);
});

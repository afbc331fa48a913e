/**
 * F9 (issue 10): ~2,000 valid packets per second asking for 5 s delays kept a proxy's delay queue
 * full, so every honest packet through it was dropped. Here a stranger sends a real proxy valid
 * packets that ask for 5 s (more than its small queue holds over the attack), replays one packet
 * and bursts junk, while two sources exchange messages whose every route passes that proxy: all of
 * them arrive. The stranger's share of the queue is capped, its replays and excess are dropped.
 */
import { join } from 'node:path';
import t from 'tap';
import { fromHex, nodeIdOf } from '../../../src/node/ids.js';
import { readSecretFile } from '../../../src/node/keyFiles.js';
import { getCrypto } from '../../../src/scramble/crypto/index.js';
import { DEFAULT_GEOMETRY } from '../../../src/scramble/geometry.js';
import { createPacket, type RouteHop } from '../../../src/scramble/packet.js';
import { systemRng } from '../../../src/scramble/rng.js';
import { FAST_TEST_NETWORK } from '../../../src/sim/network.js';
import { startCluster } from '../../../src/sim/processCluster.js';
import { collect, text, waitFor } from '../../../src/sim/processes.js';
import { Stranger } from '../../../src/sim/stranger.js';

type Status = { epoch: number; queueDepth: number; metrics: { drops: Record<string, number> } };
const CAPACITY = 400;
const MESSAGES = 15;

t.test('a stranger cannot fill a proxy queue with long delays, nor flood it', async (t) => {
  const crypto = getCrypto('sodium');
  const rng = systemRng(crypto);
  // Three proxies: every unicast route S → P1 → P2 → P3 → CS passes each of them.
  const cluster = await startCluster(
    3,
    2,
    [],
    { ...FAST_TEST_NETWORK, maxDelayMs: 6000 },
    {
      insecureNoCover: true,
      proxy: { queue: { capacity: CAPACITY } },
    },
  );
  t.teardown(() => cluster.stop());
  const target = cluster.proxies[0] as (typeof cluster.proxies)[0];
  const { epoch } = await cluster.central.call<Status>('status');
  const proxyKey = crypto.x25519Base(readSecretFile(join(cluster.proxyDirs[0] as string, 'keys', `mix-${epoch}.key`)));
  const csKey = crypto.x25519Base(readSecretFile(join(cluster.centralDir, 'keys', `mix-${epoch}.key`)));
  const route: RouteHop[] = [
    {
      publicKey: proxyKey,
      command: { kind: 'relay', next: nodeIdOf(crypto, fromHex(cluster.centralKey)), delayMs: 5000 },
    },
    { publicKey: csKey, command: { kind: 'drop' } },
  ];
  const port = target.ready.listen.port;
  const attacker = await Stranger.open({ keepReceived: false });
  const junk = await Stranger.open({ keepReceived: false });
  t.teardown(() => Promise.all([attacker.close(), junk.close()]));

  // One replayed packet, 100 times; a burst of 1,000 junk datagrams of packet size.
  const replayed = createPacket(crypto, DEFAULT_GEOMETRY, route, new Uint8Array(0), rng);
  for (let i = 0; i < 100; i++) attacker.send(replayed, port);
  for (let i = 0; i < 1000; i++) junk.send(crypto.randomBytes(2048), port);

  // Fresh valid packets asking for 5 s, 150 per second for 6 s: 900, against a 400-packet queue.
  const inbox = await collect(cluster.sources[1] as (typeof cluster.sources)[1]);
  t.teardown(() => inbox.close());
  const to = cluster.addresses[1] as string;
  const sender = cluster.sources[0] as (typeof cluster.sources)[0];
  let sent = 0;
  const attack = setInterval(() => {
    for (let i = 0; i < 3 && sent < 900; i++, sent++) {
      attacker.send(createPacket(crypto, DEFAULT_GEOMETRY, route, new Uint8Array(0), rng), port);
    }
  }, 20);
  t.teardown(() => clearInterval(attack));
  await waitFor('the attack to outgrow the queue', () => sent >= 450);
  for (let i = 0; i < MESSAGES; i++) {
    await sender.call('sendTo', { to, data: Buffer.from(`during the attack ${i}`).toString('base64') });
    await new Promise((r) => setTimeout(r, 100));
  }
  await waitFor(
    `all ${MESSAGES} messages to arrive`,
    () => inbox.items.filter((d) => text(d).startsWith('during the attack')).length === MESSAGES,
    30_000,
  );
  clearInterval(attack);
  const st = await target.call<Status>('status');
  t.pass(`all ${MESSAGES} messages arrived through the attacked proxy`);
  t.equal(st.metrics.drops.queue_full ?? 0, 0, 'the queue never filled');
  t.ok(
    (st.metrics.drops.hop_queue_share ?? 0) > 0,
    `the stranger's share was capped (${st.metrics.drops.hop_queue_share} refused)`,
  );
  t.ok((st.metrics.drops.replay ?? 0) >= 99, `replays dropped (${st.metrics.drops.replay})`);
  t.ok((st.metrics.drops.rate_limited ?? 0) > 0, `the junk burst was rate limited (${st.metrics.drops.rate_limited})`);
  t.equal(st.metrics.drops.internal_error ?? 0, 0);
});

/**
 * F9 (issue 10): ~2,000 valid packets per second asking for 5 s delays kept a proxy's delay queue
 * full, so every honest packet through it was dropped. Here a stranger sends a real proxy valid
 * packets that ask for 5 s (more than its small queue holds over the attack), replays one packet
 * and bursts junk, while two sources exchange messages whose every route passes that proxy: all of
 * them arrive. The stranger's share of the queue is capped, its replays and excess are dropped.
 */
import { join } from 'node:path';
import t from 'tap';
import type { Daemon } from '../../../src/daemon/startDaemon.js';
import { nodeIdOf } from '../../../src/node/ids.js';
import { readSecretFile } from '../../../src/node/keyFiles.js';
import { getCrypto } from '../../../src/scramble/crypto/index.js';
import { DEFAULT_GEOMETRY } from '../../../src/scramble/geometry.js';
import { createPacket, type RouteHop } from '../../../src/scramble/packet.js';
import { systemRng } from '../../../src/scramble/rng.js';
import { waitFor } from '../../../src/sim/processes.js';
import { Stranger } from '../../../src/sim/stranger.js';
import { controlled, createTestnet, FAST_TEST_NETWORK } from '../../../src/sim/testnet.js';
import type { SourceNode } from '../../../src/source/sourceNode.js';

type Status = { epoch: number; metrics: { drops: Record<string, number> } };
const CAPACITY = 400;
const MESSAGES = 15;

t.test('a stranger cannot fill a proxy queue with long delays, nor flood it', async (t) => {
  const crypto = getCrypto('sodium');
  const rng = systemRng(crypto);
  // Three proxies: every unicast route S → P1 → P2 → P3 → CS passes each of them. Real daemons with
  // real sockets, in this process.
  const net = await createTestnet(null, {
    world: 'real',
    controlSockets: true,
    proxies: 3,
    sources: 2,
    network: { ...FAST_TEST_NETWORK, maxDelayMs: 6000 },
    insecureNoCover: true,
    queueCapacity: CAPACITY,
  });
  t.teardown(() => net.stop());
  const target = controlled(net.proxies[0] as Daemon);
  const { epoch } = await controlled(net.central).call<Status>('status');
  const keyOf = (d: Daemon) => crypto.x25519Base(readSecretFile(join(d.ctx.dataDir, 'keys', `mix-${epoch}.key`)));
  const route: RouteHop[] = [
    {
      publicKey: keyOf(net.proxies[0] as Daemon),
      command: { kind: 'relay', next: nodeIdOf(crypto, net.central.ctx.identity.publicKey), delayMs: 5000 },
    },
    { publicKey: keyOf(net.central), command: { kind: 'drop' } },
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
  const [sender, receiver] = net.sources.map((d) => d.source as SourceNode) as [SourceNode, SourceNode];
  const got: string[] = [];
  receiver.subscribe((d) => got.push(Buffer.from(d.data).toString()));
  let sent = 0;
  const attack = setInterval(() => {
    for (let i = 0; i < 3 && sent < 900; i++, sent++) {
      attacker.send(createPacket(crypto, DEFAULT_GEOMETRY, route, new Uint8Array(0), rng), port);
    }
  }, 20);
  t.teardown(() => clearInterval(attack));
  await waitFor('the attack to outgrow the queue', () => sent >= 450);
  for (let i = 0; i < MESSAGES; i++) {
    sender.sendUnicast(receiver.address, Buffer.from(`during the attack ${i}`));
    await new Promise((r) => setTimeout(r, 100));
  }
  await waitFor(
    `all ${MESSAGES} messages to arrive`,
    () => got.filter((d) => d.startsWith('during the attack')).length === MESSAGES,
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
  t.equal(st.metrics.drops.internal_error ?? 0, 0, 'no internal error');
});

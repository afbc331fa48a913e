/**
 * Figures of group multicast (src/group, src/proxy/groupFanout.ts):
 *   tokens_per_packet          members one fan-out packet carries (default geometry, 256-byte datagram)
 *   sender_packets_N{8,32,128} packets a sender emits for one group message to N members (target ceil(N/8))
 *   fanout_copy_build_us       in-process cost of one delivered copy at P2 (re-seal + 2-hop createPacket)
 *   fanout_copies_per_s        copies per second one real P2 process produces, closed loop on loopback
 */
import dgram from 'node:dgram';
import { join } from 'node:path';
import {
  buildFanoutBodies,
  createGroup,
  decodeFanout,
  fanoutCopies,
  type LocalIdentity,
  sealGroupMessage,
  TOKEN_BYTES,
  tokensPerPacket,
} from '../src/group/index.js';
import { encodeDescriptor, signDocument } from '../src/node/directory.js';
import { readSecretFile } from '../src/node/keyFiles.js';
import { NO_COVER } from '../src/node/securityFloor.js';
import { encodeControl } from '../src/node/wire.js';
import type { CryptoBackend } from '../src/scramble/crypto/backend.js';
import { getCrypto } from '../src/scramble/crypto/index.js';
import { DEFAULT_GEOMETRY } from '../src/scramble/geometry.js';
import type { RouteHop } from '../src/scramble/header.js';
import { createPacket } from '../src/scramble/packet.js';
import { systemRng } from '../src/scramble/rng.js';
import { startCluster } from '../src/sim/processCluster.js';
import { waitFor } from '../src/sim/processes.js';
import { decodeOrNull } from '../src/sim/stranger.js';
import { type Figure, figure, measure, round } from './harness.js';

const DATAGRAM_BYTES = 256;
const GROUP_SIZES = [8, 32, 128];
/** Fake next hops (signed descriptors pointing at a local sink) P2 picks as P3, next to itself. */
const FAKE_P3 = 31;
/** Fan-out packets in flight towards P2 (each becomes tokens_per_packet copies). */
const WINDOW = 12;
const WARMUP_MS = 1500;
const MEASURE_MS = 6000;

interface StatusMetrics {
  metrics: {
    packetsIn: Record<string, number>;
    packetsOut: Record<string, number>;
    drops: Record<string, number>;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function randomIds(crypto: CryptoBackend, n: number): Uint8Array[] {
  return Array.from({ length: n }, () => crypto.randomBytes(16));
}

export async function groupFigures(): Promise<Figure[]> {
  const crypto = getCrypto('sodium');
  const rng = systemRng(crypto);
  const geometry = DEFAULT_GEOMETRY;
  const figures: Figure[] = [];

  // A real group and a real sealed 256-byte data message (default padding): its C0 sets the bundle capacity.
  const seed = crypto.randomBytes(32);
  const self: LocalIdentity = {
    identitySeed: seed,
    identityKey: crypto.ed25519PublicKey(seed),
    centralId: crypto.randomBytes(10),
  };
  const group = createGroup(crypto, 'bench', self, rng, Date.now());
  const { c0 } = sealGroupMessage(crypto, group, self, 'data', crypto.randomBytes(DATAGRAM_BYTES), rng);
  const per = tokensPerPacket(geometry, c0.length);
  if (per === 0) throw new Error(`a ${DATAGRAM_BYTES}-byte datagram leaves no room for a token`);
  const csTokenKey = crypto.x25519Base(crypto.randomBytes(32));

  // Sender side: real bundles for N-1 recipients, checked against the body size and decoded back.
  const senderFigures: Figure[] = [];
  for (const n of GROUP_SIZES) {
    const bodies = buildFanoutBodies(crypto, geometry, group.publicKey, c0, randomIds(crypto, n - 1), csTokenKey, rng);
    let tokens = 0;
    for (const body of bodies) {
      if (body.length > geometry.bodyBytes) {
        throw new Error(`fan-out body of ${body.length} bytes exceeds bodyBytes ${geometry.bodyBytes} (N=${n})`);
      }
      tokens += decodeFanout(geometry, body).tokens.length;
    }
    if (tokens !== n - 1) throw new Error(`bundles for N=${n} carry ${tokens} tokens, expected ${n - 1}`);
    const full = bodies[0] as Uint8Array;
    if (n - 1 >= per) {
      if (decodeFanout(geometry, full).tokens.length !== per) throw new Error('first bundle is not full');
      if (per < 255 && full.length + TOKEN_BYTES <= geometry.bodyBytes) {
        throw new Error(`tokensPerPacket ${per} is not the maximum: a full bundle is ${full.length} bytes`);
      }
    }
    senderFigures.push(
      figure(`sender_packets_N${n}`, bodies.length, 'packets'),
      figure(`sender_packets_N${n}_target`, Math.ceil(n / 8), 'packets'),
    );
  }
  figures.push(figure('tokens_per_packet', per, 'members/packet'), figure('group_c0_bytes', c0.length, 'bytes'));
  figures.push(...senderFigures);

  // In-process cost of one copy at P2: fanoutCopies over a full bundle (its pub_G probe amortised over the
  // bundle, as P2 does it) plus one 2-hop createPacket (P3 relay, CS deliverToken) per copy.
  const bundle = decodeFanout(
    geometry,
    buildFanoutBodies(crypto, geometry, group.publicKey, c0, randomIds(crypto, per), csTokenKey, rng)[0] as Uint8Array,
  );
  const copyRoute: RouteHop[] = [
    {
      publicKey: crypto.x25519Base(crypto.randomBytes(32)),
      command: { kind: 'relay', next: crypto.randomBytes(16), delayMs: 0 },
    },
    { publicKey: csTokenKey, command: { kind: 'deliverToken' } },
  ];
  const build = measure(
    () => {
      const copies = fanoutCopies(crypto, bundle, rng);
      let last: Uint8Array | undefined;
      for (const copy of copies) last = createPacket(crypto, geometry, copyRoute, copy, rng);
      return last;
    },
    { batches: 9, batchMs: 60, warmupMs: 300 },
  );
  const buildUs = build.us / per;
  const bound = 1e6 / buildUs;

  // One real P2 process. Its P3 choices are itself and FAKE_P3 signed descriptors pointing at a sink here,
  // so almost every copy leaves P2 for the sink and P2 does (almost) nothing but fan out.
  // Below the security floor on purpose (no delays, no cover): this measures P2's fan-out itself.
  const cluster = await startCluster(
    1,
    0,
    [],
    { ...NO_COVER, meanDelayMs: 0, maxDelayMs: 100 },
    { insecureNoCover: true },
  );
  try {
    const p2 = cluster.proxies[0] as (typeof cluster.proxies)[0];
    // startCluster waits only for sources: with none, wait for P2 itself.
    await waitFor('P2 ready', async () => (await p2.call<{ ready: boolean }>('status')).ready);
    const cs = await cluster.central.call<{ epoch: number; params: { packetSize: number; maxHops: number } }>('status');
    if (cs.params.packetSize !== geometry.packetSize || cs.params.maxHops !== geometry.maxHops) {
      throw new Error('the cluster does not use the default geometry');
    }
    const epoch = cs.epoch;

    const sink = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20 });
    await new Promise<void>((r) => sink.bind(0, '127.0.0.1', () => r()));
    // CS lists an address only once it answers a reachability probe: the sink does, as a proxy would.
    sink.on('message', (msg, from) => {
      const m = decodeOrNull(new Uint8Array(msg));
      if (m?.type === 'probe')
        sink.send(encodeControl({ type: 'probeReply', nonce: m.nonce }), from.port, from.address);
    });
    const [csHost, csPort] = cluster.centralAddr.split(':') as [string, string];
    const fakes = Array.from({ length: FAKE_P3 }, () => crypto.randomBytes(32));
    const upload = () => {
      for (const s of fakes) {
        const descriptor = encodeDescriptor({
          identityKey: crypto.ed25519PublicKey(s),
          address: `127.0.0.1:${sink.address().port}`,
          mixKeys: [epoch, epoch + 1].map((e) => ({ epoch: e, publicKey: crypto.x25519Base(crypto.randomBytes(32)) })),
          timestampMs: Date.now(),
        });
        const signature = signDocument(crypto, 'descriptor', s, descriptor);
        sink.send(encodeControl({ type: 'descriptor', descriptor, signature }), Number(csPort), csHost);
      }
    };
    upload();
    let uploads = 1;
    await waitFor('CS lists the fake next hops', async () => {
      const st = await cluster.central.call<{ proxies: number }>('status');
      if (st.proxies === FAKE_P3 + 1) return true;
      if (uploads++ % 10 === 0) upload(); // a burst lost on loopback: send again (fresh timestamps)
      return false;
    });
    // P2 refreshes its directory every 500 ms (FAST timing).
    await sleep(1500);

    const p2Key = crypto.x25519Base(readSecretFile(join(cluster.proxyDirs[0] as string, 'keys', `mix-${epoch}.key`)));
    const csKey = crypto.x25519Base(readSecretFile(join(cluster.centralDir, 'keys', `mix-${epoch}.key`)));
    // Distinct bodies (random mailbox ids: CS drops them as unknown_mailbox; we measure P2), each wrapped
    // in a fresh 1-hop packet [P2 fanout] sent straight to P2's port, so no packet is a replay.
    const bodies = Array.from(
      { length: 64 },
      () =>
        buildFanoutBodies(crypto, geometry, group.publicKey, c0, randomIds(crypto, per), csKey, rng)[0] as Uint8Array,
    );
    const total = Math.ceil((1.5 * bound * (WARMUP_MS + MEASURE_MS)) / 1000 / per) + 4 * WINDOW;
    const route: RouteHop[] = [{ publicKey: p2Key, command: { kind: 'fanout' } }];
    const packets = Array.from({ length: total }, (_, i) =>
      createPacket(crypto, geometry, route, bodies[i % bodies.length] as Uint8Array, rng),
    );

    // Closed loop: a copy reaches the sink unless P2 picked itself as P3 (1 in FAKE_P3 + 1), so the sink's
    // count says how many bundles P2 has finished; keep WINDOW bundles in flight beyond that.
    const atSink = FAKE_P3 / (FAKE_P3 + 1);
    const pport = p2.ready.listen.port;
    let sent = 0;
    let sinkCopies = 0;
    let credit = 0; // bundles written off after a stall (lost or mis-estimated)
    const inFlight = () => sent - credit - sinkCopies / (per * atSink);
    const topUp = () => {
      while (sent < total && inFlight() < WINDOW) sink.send(packets[sent++] as Uint8Array, pport, '127.0.0.1');
    };
    sink.on('message', (msg) => {
      if (msg.length !== geometry.packetSize) return; // descriptor acks, probes
      sinkCopies++;
      topUp();
    });
    const copiesBuilt = async (): Promise<{ copies: number; atMs: number; st: StatusMetrics }> => {
      const t0 = performance.now();
      const st = await p2.call<StatusMetrics>('status');
      return { copies: st.metrics.packetsOut.fanout_copy ?? 0, atMs: (t0 + performance.now()) / 2, st };
    };
    let lastSeen = -1;
    const watchdog = setInterval(() => {
      if (sinkCopies === lastSeen && sent < total) {
        credit = sent - sinkCopies / (per * atSink);
        topUp();
      }
      lastSeen = sinkCopies;
    }, 300);
    const start = performance.now();
    topUp();
    await sleep(WARMUP_MS);
    const a = await copiesBuilt();
    const sinkA = sinkCopies;
    await sleep(MEASURE_MS - (performance.now() - start - WARMUP_MS));
    const b = await copiesBuilt();
    const sinkB = sinkCopies;
    const exhausted = sent >= total;
    clearInterval(watchdog);
    await sleep(500); // drain
    const end = await copiesBuilt();
    sink.close();

    const rate = (b.copies - a.copies) / ((b.atMs - a.atMs) / 1000);
    const sinkRate = (sinkB - sinkA) / ((b.atMs - a.atMs) / 1000) / atSink;
    const drops = Object.entries(end.st.metrics.drops).filter(([, v]) => v > 0);
    if (drops.length > 0 || exhausted) {
      process.stderr.write(
        `bench: groups: P2 drops ${JSON.stringify(Object.fromEntries(drops))}${exhausted ? '; ran out of packets' : ''}\n`,
      );
    }
    figures.push(
      figure('fanout_copies_per_s', Math.round(rate), 'copies/s'),
      figure('fanout_copies_per_s_at_sink', Math.round(sinkRate), 'copies/s'),
      figure('fanout_copy_build_us', round(buildUs, 4), 'µs'),
      figure('fanout_copies_per_s_bound', Math.round(bound), 'copies/s'),
      figure('fanout_copies_per_s_ratio', round(rate / bound, 3), 'of build bound'),
      figure('fanout_bundles_processed_of_sent', round(end.copies / per / sent, 3), 'ratio'),
    );
    return figures;
  } finally {
    await cluster.stop();
  }
}

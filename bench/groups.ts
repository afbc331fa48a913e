/**
 * Figures of group multicast (src/group, src/proxy/groupFanout.ts):
 *   tokens_per_packet          members one fan-out packet carries (default geometry, 256-byte datagram)
 *   sender_packets_N{8,32,128} packets a sender emits for one group message to N members (target ceil(N/8))
 *   fanout_copy_build_us       in-process cost of one delivered copy at P2 (re-seal + 2-hop createPacket)
 *   fanout_copies_per_s        copies per second one real P2 process produces, closed loop on loopback
 *   sender_packets_N1000       packets a sender emits for one message to 1,000 members (target ceil(1000/tokens_per_packet))
 * and, in the `group-keys` group (no processes):
 *   rekey_cost_N{100,1000}_*   one removal at N members: packets, and the actor's CPU in X25519 units
 *   rekey_apply_N1000_ratio    what one receiver spends applying that rekey, in X25519 units
 *   ratchet_step_ratio         one sender-chain step (message key + next chain key) / one X25519
 */
import dgram from 'node:dgram';
import { join } from 'node:path';
import { createCertificate, memberFromCertificate } from '../src/group/certificate.js';
import {
  acceptRekey,
  buildFanoutBodies,
  createGroup,
  createRekey,
  decodeFanout,
  fanoutCopies,
  type GroupState,
  type LocalIdentity,
  openDirect,
  rotateGroupKey,
  sealGroupMessage,
  TOKEN_BYTES,
  tokensPerPacket,
} from '../src/group/index.js';
import { nextSendKey, receiveChainFrom } from '../src/group/senderChain.js';
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
import { type Figure, figure, measure, measureInterleaved, round } from './harness.js';

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
  // N = 1,000: the same rule; the target is the fan-out rule itself at this size.
  const bodies1000 = buildFanoutBodies(crypto, geometry, group.publicKey, c0, randomIds(crypto, 999), csTokenKey, rng);
  if (bodies1000.reduce((n, b) => n + decodeFanout(geometry, b).tokens.length, 0) !== 999) {
    throw new Error('bundles for N=1000 do not carry 999 tokens');
  }
  senderFigures.push(
    figure('sender_packets_N1000', bodies1000.length, 'packets'),
    figure('sender_packets_N1000_target', Math.ceil(1000 / per), 'packets'),
  );
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

/**
 * A steady-state group of n members held by its creator (every member
 * joined in an earlier epoch, as after a rotation), built directly rather
 * than by n invites: the figures are about one rekey, not about forming it.
 */
function steadyGroup(
  crypto: CryptoBackend,
  n: number,
): { ids: LocalIdentity[]; epoch1: GroupState; state: GroupState } {
  const rng = systemRng(crypto);
  const mk = (): LocalIdentity => {
    const seed = crypto.randomBytes(32);
    return { identitySeed: seed, identityKey: crypto.ed25519PublicKey(seed), centralId: crypto.randomBytes(10) };
  };
  const ids = [mk()];
  const g0 = createGroup(crypto, 'bench', ids[0] as LocalIdentity, rng, Date.now());
  const alone = rotateGroupKey(crypto, g0, ids[0] as LocalIdentity, rng, Date.now()).newState;
  const members = [...alone.members];
  const chains = new Map(alone.chains);
  for (let i = 1; i < n; i++) {
    const id = mk();
    ids.push(id);
    const cert = createCertificate(
      crypto,
      {
        groupId: g0.groupId,
        epoch: 0,
        memberKey: id.identityKey,
        memberCentralId: id.centralId,
        inviterKey: (ids[0] as LocalIdentity).identityKey,
        issuedAtMs: Date.now(),
      },
      (ids[0] as LocalIdentity).identitySeed,
    );
    members.push(memberFromCertificate(cert));
    chains.set(Buffer.from(id.identityKey).toString('hex'), receiveChainFrom(crypto.randomBytes(32), 0));
  }
  const epoch1 = { ...alone, members, chains };
  return { ids, epoch1, state: rotateGroupKey(crypto, epoch1, ids[0] as LocalIdentity, rng, Date.now()).newState };
}

/**
 * Costs of group keys (no processes): one removal at N = 100 and N = 1,000
 * (the actor builds one blob per remaining member and one removal notice;
 * each goes as one reliable direct message of one packet), what a receiver
 * spends applying it, and one step of the sender ratchet, all against one
 * X25519 measured interleaved in the same run.
 */
export async function groupKeyFigures(): Promise<Figure[]> {
  const crypto = getCrypto('sodium');
  const rng = systemRng(crypto);
  const figures: Figure[] = [];
  const scalar = crypto.randomBytes(32);
  const point = crypto.x25519Base(crypto.randomBytes(32));
  const x25519 = () => {
    scalar[0] = (scalar[0] as number) ^ 1;
    return crypto.x25519(scalar, point);
  };
  const groups = [100, 1000].map((n) => ({ n, ...steadyGroup(crypto, n) }));
  const removal = (g: (typeof groups)[0]) => () =>
    createRekey(
      crypto,
      g.state,
      g.ids[0] as LocalIdentity,
      g.state.members.slice(0, g.n - 1).map((m) => m.identityKey),
      rng,
      Date.now(),
    );
  const big = groups[1] as (typeof groups)[0];
  const sample = removal(big)();
  const receiver = big.ids[1] as LocalIdentity;
  const blob = openDirect(crypto, receiver.identitySeed, (sample.perMember[0] as { sealed: Uint8Array }).sealed);
  if (!blob) throw new Error('rekey blob does not open');
  const receiverState = { ...big.state, sendChain: { chainKey: crypto.randomBytes(32), index: 0 } };
  let chain = { chainKey: crypto.randomBytes(32), index: 0 };
  const m = measureInterleaved(
    {
      x25519,
      ratchet: () => {
        const s = nextSendKey(crypto, chain);
        chain = s.chain.index > 1e9 ? { chainKey: s.chain.chainKey, index: 0 } : s.chain;
        return s.messageKey;
      },
      rekey100: removal(groups[0] as (typeof groups)[0]),
      rekey1000: removal(big),
      apply1000: () => acceptRekey(crypto, receiver.identitySeed, [receiverState], blob.body, Date.now()),
    },
    { batches: 5, batchMs: 200, warmupMs: 300 },
  );
  for (const g of groups) {
    const r = removal(g)();
    const packets = r.perMember.length + r.removals.length;
    const fragments = Math.max(...r.perMember.map((p) => Math.ceil(p.sealed.length / 1076)));
    const us = (g.n === 100 ? m.rekey100 : m.rekey1000).us;
    figures.push(
      figure(`rekey_cost_N${g.n}_packets`, packets * fragments, 'packets'),
      figure(`rekey_cost_N${g.n}_blob_bytes`, (r.perMember[0] as { sealed: Uint8Array }).sealed.length, 'bytes'),
      figure(`rekey_cost_N${g.n}_ms`, round(us / 1000, 4), 'ms'),
      figure(`rekey_cost_N${g.n}_ratio`, round(us / m.x25519.us, 4), 'x25519'),
    );
  }
  figures.push(
    figure('rekey_cost_growth_N1000_over_N100', round(m.rekey1000.us / m.rekey100.us, 3), 'ratio (linear: 10)'),
    figure('rekey_apply_N1000_ratio', round(m.apply1000.us / m.x25519.us, 4), 'x25519'),
    figure('ratchet_step_us', round(m.ratchet.us, 4), 'µs'),
    figure('ratchet_step_ratio', round(m.ratchet.us / m.x25519.us, 4), 'x25519'),
    figure('group_keys_x25519_us', round(m.x25519.us, 4), 'µs'),
  );
  return figures;
}

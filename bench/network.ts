/**
 * Figures over real daemon processes and real UDP on loopback:
 *   hop_overhead_ms  (latency from S's send to T's receipt − sum of sender-chosen delays) / 5 links, median, light load
 *   proxy_pps        packets/s one proxy process forwards with zero delays
 *   proxy_pps_unwrap_bound  1e6 / unwrap_us in the same run: what pure unwrapping would allow
 */
import dgram from 'node:dgram';
import { join } from 'node:path';
import { encodeDescriptor, signDocument } from '../src/node/directory.js';
import { nodeIdOf } from '../src/node/ids.js';
import { readSecretFile } from '../src/node/keyFiles.js';
import { NO_COVER } from '../src/node/securityFloor.js';
import { encodeControl } from '../src/node/wire.js';
import { getCrypto } from '../src/scramble/crypto/index.js';
import { DEFAULT_GEOMETRY } from '../src/scramble/geometry.js';
import { createPacket, unwrapPacket } from '../src/scramble/packet.js';
import { systemRng } from '../src/scramble/rng.js';
import { startCluster } from '../src/sim/processCluster.js';
import { collect, text, waitFor } from '../src/sim/processes.js';
import { decodeOrNull } from '../src/sim/stranger.js';
import { type Figure, figure, measure, median, round } from './harness.js';

const LINKS = 5; // S→P1, P1→P2, P2→P3, P3→CS, CS→T

export async function networkFigures(): Promise<Figure[]> {
  const crypto = getCrypto('sodium');
  // Below the security floor on purpose (2 ms delays, no cover): this measures the machinery.
  const cluster = await startCluster(
    3,
    2,
    [],
    { ...NO_COVER, meanDelayMs: 2, maxDelayMs: 100 },
    { insecureNoCover: true },
  );
  try {
    const [a, b] = cluster.sources as [(typeof cluster.sources)[0], (typeof cluster.sources)[0]];
    const inbox = await collect(b);
    const overheads: number[] = [];
    const control = await a.control();
    for (let i = 0; i < 40; i++) {
      const id = `lat-${i}`;
      const arrived = inbox.next((d) => text(d) === id, 10_000);
      const { delays, sentAtMs } = await control.call<{ delays: number[]; sentAtMs: number }>('sendTo', {
        to: cluster.addresses[1],
        data: Buffer.from(id).toString('base64'),
      });
      // From the packet leaving S to the datagram surfacing at T, both stamped
      // in their own process with the machine's wall clock (sub-ms precision).
      const e2e = ((await arrived).receivedAtMs as number) - sentAtMs;
      overheads.push((e2e - delays.reduce((x, y) => x + y, 0)) / LINKS);
      await new Promise((r) => setTimeout(r, 20)); // light load: one message at a time
    }
    control.close();
    inbox.close();

    // A next hop the bench controls: a real signed descriptor uploaded to CS,
    // pointing at a UDP socket here that counts what the proxy forwards.
    const sink = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20 });
    await new Promise<void>((r) => sink.bind(0, '127.0.0.1', () => r()));
    // CS lists an address only once it answers a reachability probe: the sink does, as a proxy would.
    sink.on('message', (msg, from) => {
      const m = decodeOrNull(new Uint8Array(msg));
      if (m?.type === 'probe')
        sink.send(encodeControl({ type: 'probeReply', nonce: m.nonce }), from.port, from.address);
    });
    const seed = crypto.randomBytes(32);
    const identityKey = crypto.ed25519PublicKey(seed);
    const epoch = Math.floor(Date.now() / 3_600_000);
    const mixSecret = crypto.randomBytes(32);
    const descriptor = encodeDescriptor({
      identityKey,
      address: `127.0.0.1:${sink.address().port}`,
      mixKeys: [{ epoch, publicKey: crypto.x25519Base(mixSecret) }],
      timestampMs: Date.now(),
    });
    const [host, port] = cluster.centralAddr.split(':') as [string, string];
    sink.send(
      encodeControl({
        type: 'descriptor',
        descriptor,
        signature: signDocument(crypto, 'descriptor', seed, descriptor),
      }),
      Number(port),
      host,
    );

    const proxy = cluster.proxies[0] as (typeof cluster.proxies)[0];
    const proxyKey = readSecretFile(join(cluster.proxyDirs[0] as string, 'keys', `mix-${epoch}.key`));
    const rng = systemRng(crypto);
    const route = [
      {
        publicKey: crypto.x25519Base(proxyKey),
        command: { kind: 'relay' as const, next: nodeIdOf(crypto, identityKey), delayMs: 0 },
      },
      { publicKey: crypto.x25519Base(mixSecret), command: { kind: 'drop' as const } },
    ];
    const N = 20_000;
    const packets = Array.from({ length: N }, () =>
      createPacket(crypto, DEFAULT_GEOMETRY, route, new Uint8Array(0), rng),
    );
    await waitFor(
      'CS lists the sink',
      async () => (await cluster.central.call<{ proxies: number }>('status')).proxies === 4,
    );
    // Let the proxy's directory pick up the sink (refresh every 500 ms in FAST timing).
    await new Promise((r) => setTimeout(r, 2000));

    // Closed loop: keep a bounded window in flight so the measured rate is what
    // the proxy forwards, not what the kernel drops from an overfull socket buffer.
    const WINDOW = 256;
    const pport = proxy.ready.listen.port;
    let sent = 0;
    let received = 0;
    let first = 0;
    let last = 0;
    const topUp = () => {
      while (sent < N && sent - received < WINDOW) sink.send(packets[sent++] as Uint8Array, pport, '127.0.0.1');
    };
    sink.on('message', (msg) => {
      if (msg.length !== DEFAULT_GEOMETRY.packetSize) return;
      const now = performance.now();
      if (received === 0) first = now;
      last = now;
      received++;
      topUp();
    });
    topUp();
    const settle = performance.now() + 30_000;
    let prev = -1;
    while (performance.now() < settle && received < N) {
      await new Promise((r) => setTimeout(r, 500));
      if (received === prev) {
        topUp();
        sent = Math.max(sent, received);
      }
      prev = received;
    }
    sink.close();
    const pps = received > 1 ? (received - 1) / ((last - first) / 1000) : 0;

    const unwrap = measure(() => unwrapPacket(crypto, DEFAULT_GEOMETRY, proxyKey, packets[0] as Uint8Array));
    return [
      figure('hop_overhead_ms', round(median(overheads), 3), 'ms'),
      figure('proxy_pps', Math.round(pps), 'packets/s'),
      figure('proxy_pps_forwarded_of_sent', round(received / N, 3), 'ratio'),
      figure('proxy_pps_unwrap_bound', Math.round(1e6 / unwrap.us), 'packets/s'),
      figure('proxy_pps_ratio', round(pps / (1e6 / unwrap.us), 3), 'of unwrap bound'),
    ];
  } finally {
    await cluster.stop();
  }
}

import dgram from 'node:dgram';
import { join } from 'node:path';
import t from 'tap';
import { nodeIdOf } from '../../src/node/ids.js';
import { readSecretFile } from '../../src/node/keyFiles.js';
import { NO_COVER } from '../../src/node/securityFloor.js';
import { getCrypto } from '../../src/scramble/crypto/index.js';
import { packetGeometry } from '../../src/scramble/geometry.js';
import { createPacket, type RouteHop } from '../../src/scramble/packet.js';
import { systemRng } from '../../src/scramble/rng.js';
import { startLocalNetwork } from '../../src/sim/network.js';

// A real proxy (in this process, real UDP) fed packets built here: every drop has its counted reason.
t.test('a proxy drops over-cap, late, misrouted and mis-addressed packets, each under its reason', async (t) => {
  const epochSeconds = 4;
  const net = await startLocalNetwork({
    proxies: 2,
    sources: 1,
    network: { ...NO_COVER, epochSeconds, graceSeconds: 1, maxDelayMs: 6000, meanDelayMs: 10 },
    insecureNoCover: true,
  });
  t.teardown(() => net.stop());
  const crypto = getCrypto('sodium');
  const rng = systemRng(crypto);
  const geometry = packetGeometry(2048, 5);
  const proxy = net.proxies[0] as (typeof net.proxies)[0];
  const other = net.proxies[1] as (typeof net.proxies)[0];
  const keyOf = (dir: string) => {
    const epoch = Math.floor(Date.now() / (epochSeconds * 1000));
    return crypto.x25519Base(readSecretFile(join(dir, 'keys', `mix-${epoch}.key`)));
  };
  const send = async (route: RouteHop[]) => {
    const sock = dgram.createSocket('udp4');
    const packet = createPacket(crypto, geometry, route, new Uint8Array(0), rng);
    await new Promise<void>((r) => sock.send(packet, proxy.ctx.transport.local.port, '127.0.0.1', () => r()));
    sock.close();
  };
  const drops = async () => (await proxy.ctx.metrics.snapshot()).drops;
  const waitDrop = async (reason: string) => {
    const deadline = Date.now() + 5000;
    while (((await drops())[reason] ?? 0) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return (await drops())[reason] ?? 0;
  };
  const otherId = nodeIdOf(crypto, other.ctx.identity.publicKey);
  const final = { publicKey: keyOf(other.ctx.dataDir), command: { kind: 'drop' as const } };

  await send([
    { publicKey: keyOf(proxy.ctx.dataDir), command: { kind: 'relay', next: otherId, delayMs: 6001 } },
    final,
  ]);
  const overCap = await waitDrop('over_cap');
  t.equal(overCap, 1, `a delay above maxDelayMs is refused (${JSON.stringify(await drops())})`);

  // Packets are built with this epoch's keys: a hold that ends after the key's grace window
  // (at most epoch + grace = 5 s from now) would reach a next hop that has erased its key.
  await send([
    { publicKey: keyOf(proxy.ctx.dataDir), command: { kind: 'relay', next: otherId, delayMs: 5500 } },
    final,
  ]);
  t.equal(await waitDrop('late'), 1, 'a hold past the key grace window is refused');

  await send([
    { publicKey: keyOf(proxy.ctx.dataDir), command: { kind: 'relay', next: crypto.randomBytes(16), delayMs: 0 } },
    final,
  ]);
  t.equal(await waitDrop('unknown_next_hop'), 1, 'a next hop missing from the directory');

  await send([{ publicKey: keyOf(proxy.ctx.dataDir), command: { kind: 'deliver', mailbox: crypto.randomBytes(16) } }]);
  t.equal(await waitDrop('bad_role'), 1, 'a deliver command belongs to CS, not a proxy');
});

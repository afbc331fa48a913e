import { join } from 'node:path';
import t from 'tap';
import { nodeIdOf } from '../../src/node/ids.js';
import { readSecretFile } from '../../src/node/keyFiles.js';
import { NO_COVER } from '../../src/node/securityFloor.js';
import { getCrypto } from '../../src/scramble/crypto/index.js';
import { packetGeometry } from '../../src/scramble/geometry.js';
import { createPacket, type RouteHop } from '../../src/scramble/packet.js';
import { systemRng } from '../../src/scramble/rng.js';
import { createTestnet } from '../../src/sim/testnet.js';

// A proxy in a virtual-time testnet fed packets built here: every drop has its counted reason.
t.test('a proxy drops over-cap, late, misrouted and mis-addressed packets, each under its reason', async (t) => {
  const epochSeconds = 4;
  const net = await createTestnet(t, {
    proxies: 2,
    sources: 1,
    network: { ...NO_COVER, epochSeconds, graceSeconds: 1, maxDelayMs: 6000, meanDelayMs: 10 },
    insecureNoCover: true,
  });
  const attacker = await (net.network as NonNullable<typeof net.network>).bind(
    { host: '127.0.0.1', port: 0 },
    () => {},
  );
  const crypto = getCrypto('sodium');
  const rng = systemRng(crypto);
  const geometry = packetGeometry(2048, 5);
  const proxy = net.proxies[0] as (typeof net.proxies)[0];
  const other = net.proxies[1] as (typeof net.proxies)[0];
  const keyOf = (dir: string) => {
    const epoch = Math.floor(net.clock.now() / (epochSeconds * 1000));
    return crypto.x25519Base(readSecretFile(join(dir, 'keys', `mix-${epoch}.key`)));
  };
  const send = async (route: RouteHop[]) => {
    attacker.send(proxy.local, createPacket(crypto, geometry, route, new Uint8Array(0), rng));
  };
  const drops = async () => (await proxy.ctx.metrics.snapshot()).drops;
  const waitDrop = async (reason: string) => {
    await net.until(async () => ((await drops())[reason] ?? 0) > 0, { limitMs: 5000, what: `a ${reason} drop` });
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

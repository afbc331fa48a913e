/**
 * What a node must look like before anyone routes through it (src/node/nodeValidation.ts), and
 * route building's one failure mode (F1): a low-order mix key gives NoRoute, never a CryptoFailure.
 */
import t from 'tap';
import { type Directory, indexDirectory, type NodeDescriptor } from '../../src/node/directory.js';
import { addressProblem, ipCapKey, nodeProblem, usableMixKey } from '../../src/node/nodeValidation.js';
import { NoRoute, routedPacket } from '../../src/node/routes.js';
import { getCrypto } from '../../src/scramble/crypto/index.js';
import { DEFAULT_GEOMETRY } from '../../src/scramble/geometry.js';
import { systemRng } from '../../src/scramble/rng.js';
import { LOW_ORDER_X25519 } from '../../src/sim/stranger.js';

const P_MINUS_1 = Uint8Array.from(Buffer.from(`ec${'ff'.repeat(30)}7f`, 'hex'));
const P = Uint8Array.from(Buffer.from(`ed${'ff'.repeat(30)}7f`, 'hex'));

for (const name of ['sodium', 'noble'] as const) {
  const crypto = getCrypto(name);
  t.test(`usableMixKey (${name}): canonical and not of low order`, async (t) => {
    t.ok(usableMixKey(crypto, crypto.x25519Base(crypto.randomBytes(32))), 'a real public key');
    t.notOk(usableMixKey(crypto, LOW_ORDER_X25519), 'order 8');
    t.notOk(usableMixKey(crypto, new Uint8Array(32)), 'zero');
    t.notOk(usableMixKey(crypto, Uint8Array.of(1, ...new Uint8Array(31))), 'one');
    t.notOk(usableMixKey(crypto, P_MINUS_1), 'p - 1 (order 2)');
    t.notOk(usableMixKey(crypto, P), 'p: not canonical');
    const high = crypto.x25519Base(crypto.randomBytes(32));
    high[31] = (high[31] as number) | 0x80;
    t.notOk(usableMixKey(crypto, high), 'bit 255 set: not canonical');
    t.notOk(usableMixKey(crypto, new Uint8Array(31)), '31 bytes');
  });
}

const crypto = getCrypto('sodium');

t.test('addresses: IP:PORT by the config rules, canonical, at most 47 characters, routable', async (t) => {
  for (const ok of [
    '127.0.0.1:7000',
    '[::1]:7000',
    '[2001:0db8:1234:5678:9abc:def0:1234:0001]:65535',
    '203.0.113.9:1',
  ]) {
    t.equal(addressProblem(ok), null, ok);
  }
  for (const bad of [
    'x'.repeat(30_000),
    'localhost:7000',
    '127.0.0.1',
    '127.0.0.1:0',
    '127.0.0.1:70000',
    '::1:7000',
    '0.0.0.0:7000',
    '[::]:7000',
    '255.255.255.255:9',
    '224.0.0.1:9',
    '[ff02::1]:9',
    ' 127.0.0.1:7000',
  ]) {
    t.not(addressProblem(bad), null, `refused: ${bad.slice(0, 40)}`);
  }
  t.equal(ipCapKey({ host: '10.0.0.1', port: 1 }), '10.0.0.1');
  t.equal(ipCapKey({ host: '2001:db8::1', port: 1 }), ipCapKey({ host: '2001:0db8:0:0:ffff::2', port: 9 }), 'one /64');
  t.not(ipCapKey({ host: '2001:db8:0:1::1', port: 1 }), ipCapKey({ host: '2001:db8::1', port: 1 }), 'another /64');
  t.equal(ipCapKey({ host: '::ffff:10.0.0.1', port: 1 }), '0:0:0:0::/64');
});

function node(keys: Array<{ epoch: number; publicKey: Uint8Array }>, address = '127.0.0.1:7001'): NodeDescriptor {
  return { identityKey: crypto.randomBytes(32), address, mixKeys: keys, timestampMs: 0 };
}
const key = () => crypto.x25519Base(crypto.randomBytes(32));

t.test('nodeProblem: bounded key count, distinct epochs, usable keys and address', async (t) => {
  t.equal(nodeProblem(crypto, node([{ epoch: 1, publicKey: key() }])), null);
  t.match(nodeProblem(crypto, node([])), /no mix key/);
  t.match(nodeProblem(crypto, node([1, 2, 3, 4].map((epoch) => ({ epoch, publicKey: key() })))), /more than 3/);
  t.match(
    nodeProblem(
      crypto,
      node([
        { epoch: 1, publicKey: key() },
        { epoch: 1, publicKey: key() },
      ]),
    ),
    /two mix keys/,
  );
  t.match(nodeProblem(crypto, node([{ epoch: 1, publicKey: LOW_ORDER_X25519 }])), /not a usable X25519 key/);
  t.match(nodeProblem(crypto, node([{ epoch: 1, publicKey: key() }], 'nowhere')), /not IP:PORT/);
});

t.test('routedPacket: a low-order key on the route is NoRoute, never a CryptoFailure (F1)', async (t) => {
  const params = {
    packetSize: 2048,
    maxHops: 5,
    meanDelayMs: 20,
    maxDelayMs: 200,
    epochSeconds: 3600,
    graceSeconds: 60,
    lambdaPerSecond: 0,
    loopPerSecond: 0,
    mixLoopPerSecond: 0,
    deliveryPerSecond: 0,
  };
  const good = node([{ epoch: 5, publicKey: key() }]);
  const bad = node([{ epoch: 5, publicKey: LOW_ORDER_X25519 }], '127.0.0.1:7002');
  const central = node([{ epoch: 5, publicKey: key() }], '127.0.0.1:7000');
  const d: Directory = { issuedAtMs: 0, epoch: 5, params, central, proxies: [good, bad] };
  const dir = indexDirectory(crypto, d);
  const rng = systemRng(crypto);
  const build = (mixes: NodeDescriptor[]) =>
    routedPacket(crypto, DEFAULT_GEOMETRY, dir, mixes, central, { kind: 'drop' }, new Uint8Array(0), 5, rng);
  t.equal(build([good, good]).packet.length, 2048, 'a good route builds');
  t.throws(() => build([good, bad]), NoRoute, 'a low-order key in the middle');
  t.throws(() => build([bad]), NoRoute, 'a low-order key first');
});

/**
 * F6 and F7 (issue 10), against a real CS over loopback UDP:
 * - F6: CS kept one table of 10,000 challenges: ~333 hellos/s blocked all registration, and a
 *   `hello(victimKey)` from anywhere replaced the victim's challenge so that its `register` failed.
 *   Here strangers flood hellos, and one sends hello(victimKey) between the victim's hello and its
 *   register: the victim (a client speaking the wire protocol, so the test controls the timing)
 *   still registers.
 * - F7: CS created an account for an identity key of mixed order (a signature under it verifies in
 *   libsodium), and every replay of one signed keepalive then raised an untyped exception logged
 *   with a stack. Here the stranger's hello, register and keepalives under such a key are refused
 *   as bad_identity_key, and CS counts no internal error.
 */
import t from 'tap';
import { openControl } from '../../../src/node/boxedControl.js';
import { Writer } from '../../../src/node/codec.js';
import { fromHex } from '../../../src/node/ids.js';
import { padControl, signedBytes } from '../../../src/node/wire.js';
import { getCrypto } from '../../../src/scramble/crypto/index.js';
import { startCluster } from '../../../src/sim/processCluster.js';
import { waitFor } from '../../../src/sim/processes.js';
import { decodeOrNull, type Received, Stranger } from '../../../src/sim/stranger.js';
import { FAST_TEST_NETWORK } from '../../../src/sim/testnet.js';
import { LINK_BYTES, linkFrame, mixedOrderSigner } from './fixtures.js';

type Status = { metrics: { drops: Record<string, number>; packetsIn: Record<string, number> } };

t.test('registration survives hello floods and hello(victimKey); mixed-order keys are refused', async (t) => {
  const crypto = getCrypto('sodium');
  const cluster = await startCluster(0, 0, [], { ...FAST_TEST_NETWORK }, { insecureNoCover: true });
  t.teardown(() => cluster.stop());
  const csPort = cluster.central.ready.listen.port;
  const csKey = fromHex(cluster.centralKey);
  const csX25519 = crypto.ed25519PublicToX25519(csKey);
  const sockets: Stranger[] = [];
  const open = async () => {
    const s = await Stranger.open();
    sockets.push(s);
    return s;
  };
  t.teardown(() => Promise.all(sockets.map((s) => s.close())));

  await t.test('F6: a hello flood and hello(victimKey) do not stop the victim registering', async (t) => {
    // A flood of 12,000 hellos for fresh keys, from 20 addresses (more than the old table held).
    const flooders = await Promise.all(Array.from({ length: 20 }, open));
    const hellos = Array.from({ length: 50 }, () =>
      linkFrame({ type: 'hello', identityKey: crypto.ed25519PublicKey(crypto.randomBytes(32)) }),
    );
    for (let i = 0; i < 12_000; i++) (flooders[i % 20] as Stranger).send(hellos[i % 50] as Uint8Array, csPort);

    // The victim: hello, then (the attacker's hello for the victim's key lands in between) register.
    const seed = crypto.randomBytes(32);
    const victimKey = crypto.ed25519PublicKey(seed);
    const keys = { peerPublicKey: csX25519, secretKey: crypto.ed25519SeedToX25519(seed) };
    const opened = (r: Received) => {
      const m = decodeOrNull(r.bytes);
      // (Before the F13 fix CS sent these unboxed: accept that too, so that the old failure is F6's.)
      if (m?.type === 'challenge' || m?.type === 'registered') return m;
      if (m?.type !== 'boxed') return null;
      try {
        return openControl(crypto, keys, m.sealed).msg;
      } catch {
        return null;
      }
    };
    const victim = await open();
    const attacker = await open();
    // A source says hello again until it is answered (here every 200 ms).
    const retry = setInterval(() => victim.send(linkFrame({ type: 'hello', identityKey: victimKey }), csPort), 200);
    victim.send(linkFrame({ type: 'hello', identityKey: victimKey }), csPort);
    const challenge = await victim
      .next((r) => opened(r)?.type === 'challenge', 20_000)
      .finally(() => clearInterval(retry));
    attacker.send(linkFrame({ type: 'hello', identityKey: victimKey }), csPort);
    await attacker.next(() => true, 10_000);
    const msg = opened(challenge);
    if (msg?.type !== 'challenge') throw new Error('no challenge');
    const signature = crypto.ed25519Sign(seed, signedBytes('register', csKey, msg.nonce, victimKey));
    victim.send(linkFrame({ type: 'register', identityKey: victimKey, nonce: msg.nonce, signature }), csPort);
    const registered = await victim.next((r) => opened(r)?.type === 'registered', 10_000);
    t.ok(registered, 'the victim registers although a stranger said hello with its key in between');
  });

  await t.test('F7: a mixed-order identity key is refused, never an internal error', async (t) => {
    // A key of mixed order, with signatures libsodium accepts.
    const mixed = mixedOrderSigner();
    const f7 = await open();
    f7.send(linkFrame({ type: 'hello', identityKey: mixed.publicKey }), csPort);
    // Before this fix CS answered with a plain challenge; follow through with register and keepalive replays.
    const plain = await f7.next(() => true, 2000).catch(() => null);
    const plainMsg = plain ? decodeOrNull(plain.bytes) : null;
    if (plainMsg?.type === 'challenge') {
      const sig = mixed.sign(signedBytes('register', csKey, plainMsg.nonce, mixed.publicKey));
      f7.send(
        linkFrame({ type: 'register', identityKey: mixed.publicKey, nonce: plainMsg.nonce, signature: sig }),
        csPort,
      );
      await f7.next((r) => decodeOrNull(r.bytes)?.type === 'registered', 5000);
    }
    const timeMs = Date.now();
    const cookie = new Uint8Array(16);
    const kaSig = mixed.sign(signedBytes('keepalive', csKey, mixed.publicKey, timeMs, cookie));
    const oldSig = mixed.sign(signedBytes('keepalive', csKey, mixed.publicKey, timeMs));
    for (let i = 0; i < 20; i++) {
      f7.send(linkFrame({ type: 'keepalive', identityKey: mixed.publicKey, timeMs, cookie, signature: kaSig }), csPort);
      // The keepalive as it was before cookies existed (type 9 without the cookie field).
      const old = new Writer().u8(2).u8(1).u8(9).fixed(mixed.publicKey).u64(timeMs).fixed(oldSig).finish();
      f7.send(padControl(old, LINK_BYTES), csPort);
    }
    const st = await waitFor('CS to handle the keepalives', async () => {
      const s = await cluster.central.call<Status>('status');
      const seen = (s.metrics.packetsIn.keepalive ?? 0) + (s.metrics.drops.control_truncated ?? 0);
      return seen >= 40 ? s : undefined;
    });
    t.equal(st.metrics.drops.internal_error ?? 0, 0, 'no internal error at CS');
    t.ok(
      (st.metrics.drops.bad_identity_key ?? 0) >= 21,
      `mixed-order key refused (${st.metrics.drops.bad_identity_key})`,
    );

    t.notMatch(cluster.central.stderr(), /"level":50/, 'nothing logged at error level');
    t.equal(cluster.central.proc.exitCode, null, 'CS is running');
  });
});

/**
 * Stateless registration challenges and address cookies (src/central/registration.ts, F6/F13), the
 * identity-key check (F7), and CS's boxed control frames (src/node/boxedControl.ts, F13).
 */
import { ED25519_TORSION_SUBGROUP, ed25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import t from 'tap';
import { Registration, validIdentityKey } from '../../src/central/registration.js';
import { boxControl, openControl } from '../../src/node/boxedControl.js';
import { MalformedMessage } from '../../src/node/codec.js';
import { encodeControl } from '../../src/node/wire.js';
import { getCrypto } from '../../src/scramble/crypto/index.js';
import { systemRng } from '../../src/scramble/rng.js';
import { FUZZ_SEED } from '../node/fuzzHelpers.js';

const crypto = getCrypto('sodium');
const NOW = 1_700_000_000_000;

t.test('a challenge is good for its key, its address and 30 s, and nothing is stored', async (t) => {
  const r = new Registration(crypto);
  const k = crypto.ed25519PublicKey(crypto.randomBytes(32));
  const c = r.challenge(k, '1.2.3.4:5', NOW);
  t.equal(c.length, 32);
  t.ok(r.checkChallenge(k, '1.2.3.4:5', c, NOW + 29_000));
  t.notOk(r.checkChallenge(k, '1.2.3.4:6', c, NOW), 'another address');
  t.notOk(r.checkChallenge(crypto.randomBytes(32), '1.2.3.4:5', c, NOW), 'another key');
  t.notOk(r.checkChallenge(k, '1.2.3.4:5', c, NOW + 31_000), 'expired');
  t.notOk(r.checkChallenge(k, '1.2.3.4:5', c, NOW - 1), 'from the future');
  const forged = c.slice();
  forged[7] = (forged[7] as number) ^ 1;
  t.notOk(r.checkChallenge(k, '1.2.3.4:5', forged, NOW + 1), 'a changed time does not verify');
  t.notOk(new Registration(crypto).checkChallenge(k, '1.2.3.4:5', c, NOW), 'another CS (or a restart)');
  // F6: a hello(victimKey) from anywhere makes another challenge; the victim's own still verifies.
  const attackers = r.challenge(k, '6.6.6.6:6', NOW + 1);
  t.ok(r.checkChallenge(k, '1.2.3.4:5', c, NOW + 2), "the victim's challenge survives the attacker's");
  t.notOk(r.checkChallenge(k, '1.2.3.4:5', attackers, NOW + 2), "the attacker's is useless at the victim's address");
  t.ok(r.checkCookie(k, '1.2.3.4:5', r.cookie(k, '1.2.3.4:5')));
  t.notOk(r.checkCookie(k, '1.2.3.4:6', r.cookie(k, '1.2.3.4:5')), 'a cookie is for one address');
  t.notOk(r.checkCookie(k, '1.2.3.4:5', new Uint8Array(15)));
});

/** An Ed25519 key with a torsion component: A + T for T of order 8. */
function mixedOrderKey(): Uint8Array {
  const a = ed25519.Point.fromBytes(crypto.ed25519PublicKey(crypto.randomBytes(32)));
  return a.add(ed25519.Point.fromHex(ED25519_TORSION_SUBGROUP[1] as string)).toBytes();
}

for (const name of ['sodium', 'noble'] as const) {
  const c = getCrypto(name);
  t.test(`validIdentityKey (${name}): prime order only (F7)`, async (t) => {
    t.ok(validIdentityKey(c, c.ed25519PublicKey(c.randomBytes(32))));
    t.notOk(validIdentityKey(c, mixedOrderKey()), 'mixed order');
    for (const torsion of ED25519_TORSION_SUBGROUP) {
      t.notOk(validIdentityKey(c, Uint8Array.from(Buffer.from(torsion, 'hex'))), `small order ${torsion.slice(0, 8)}`);
    }
    t.notOk(validIdentityKey(c, new Uint8Array(31)), 'short');
    let valid = 0;
    for (let i = 0; i < 200; i++) if (validIdentityKey(c, c.randomBytes(32))) valid++;
    t.ok(valid < 200, `random bytes are mostly not keys (${valid} of 200 passed)`);
  });
}

t.test('boxed control frames: only the source opens them, and only when CS boxed them', async (t) => {
  const cs = crypto.randomBytes(32);
  const src = crypto.randomBytes(32);
  const csPub = crypto.x25519Base(cs);
  const srcPub = crypto.x25519Base(src);
  const rng = systemRng(crypto);
  const boxed = boxControl(
    crypto,
    { peerPublicKey: srcPub, secretKey: cs },
    { type: 'cookie', cookie: new Uint8Array(16).fill(7) },
    42,
    rng,
  );
  if (boxed.type !== 'boxed') throw new Error('not boxed');
  const opened = openControl(crypto, { peerPublicKey: csPub, secretKey: src }, boxed.sealed);
  t.same(opened, { replyTo: 42, msg: { type: 'cookie', cookie: new Uint8Array(16).fill(7) } });
  const mallory = crypto.randomBytes(32);
  const forged = boxControl(
    crypto,
    { peerPublicKey: srcPub, secretKey: mallory },
    { type: 'error', code: 'not_registered', text: '' },
    1,
    rng,
  );
  if (forged.type !== 'boxed') throw new Error('not boxed');
  t.throws(
    () => openControl(crypto, { peerPublicKey: csPub, secretKey: src }, forged.sealed),
    MalformedMessage,
    'not from CS',
  );
  // A box around a frame that is never boxed (here a dirResponse) is refused after opening.
  const inner = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, ...encodeControl({ type: 'descriptorAck', ok: true })]);
  const nonce = crypto.randomBytes(24);
  const sealed = new Uint8Array([...nonce, ...crypto.boxEasy(inner, nonce, srcPub, cs)]);
  t.throws(() => openControl(crypto, { peerPublicKey: csPub, secretKey: src }, sealed), MalformedMessage);
  // Hostile bytes: MalformedMessage only.
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      try {
        openControl(crypto, { peerPublicKey: csPub, secretKey: src }, bytes);
      } catch (err) {
        if (!(err instanceof MalformedMessage)) throw err;
      }
    }),
    { seed: FUZZ_SEED, numRuns: 2000 },
  );
});

/**
 * The per-hop key schedule is exactly what docs/protocol.md §2 says, recomputed here from the
 * @noble primitives directly (not through a backend), for both backends' deriveHopKeys.
 */
import { chacha20 } from '@noble/ciphers/chacha.js';
import { blake2b } from '@noble/hashes/blake2.js';
import fc from 'fast-check';
import t from 'tap';
import { deriveHopKeys, HOP_KEY_MATERIAL, wipeHopKeys } from '../../src/scramble/kdf.js';
import { BACKENDS, hex, isAllZero } from './helpers.js';

const ascii = (s: string) => new TextEncoder().encode(s);

/** docs/protocol.md §2, written from the text. */
function specKeys(shared: Uint8Array) {
  const label = ascii('mixd/sphinx/v2/extract//////////');
  const nonce = ascii('mixd/hopkeys');
  const prk = blake2b(shared, { dkLen: 32, key: label });
  const m = chacha20(prk, nonce, new Uint8Array(256));
  return {
    headerKey: hex(m.subarray(0, 32)),
    macKey: hex(m.subarray(32, 64)),
    payloadKey: hex(m.subarray(64, 192)),
    blinding: hex(m.subarray(192, 224)),
    replayTag: hex(m.subarray(224, 256)),
  };
}

t.test('labels have the sizes the spec gives them', async (t) => {
  t.equal(ascii('mixd/sphinx/v2/extract//////////').length, 32);
  t.equal(ascii('mixd/hopkeys').length, 12);
  t.equal(HOP_KEY_MATERIAL, 256);
});

for (const crypto of BACKENDS) {
  t.test(`deriveHopKeys matches the spec (${crypto.name})`, async (t) => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (shared) => {
        const k = deriveHopKeys(crypto, shared);
        const got = {
          headerKey: hex(k.headerKey),
          macKey: hex(k.macKey),
          payloadKey: hex(k.payloadKey),
          blinding: hex(k.blinding),
          replayTag: hex(k.replayTag),
        };
        return JSON.stringify(got) === JSON.stringify(specKeys(shared));
      }),
      { numRuns: 100, seed: 0xd1f },
    );
    t.pass('100 random shared secrets');
  });
}

t.test('wipeHopKeys clears every field (they share one buffer)', async (t) => {
  const k = deriveHopKeys(BACKENDS[0]!, new Uint8Array(32).fill(7));
  t.notOk(isAllZero(k.material));
  wipeHopKeys(k);
  t.ok([k.headerKey, k.macKey, k.payloadKey, k.blinding, k.replayTag].every(isAllZero));
});

import type { CryptoBackend } from './crypto/backend.js';

/** Source of randomness passed into the pure codec: real in daemons, seeded in vectors. */
export type Rng = (n: number) => Uint8Array;

export function systemRng(crypto: CryptoBackend): Rng {
  return (n) => crypto.randomBytes(n);
}

/**
 * Deterministic randomness for test vectors only: the ChaCha20 keystream of a
 * 32-byte seed, consumed sequentially. Never used for real packets.
 */
export function seededRng(crypto: CryptoBackend, seed: Uint8Array): Rng {
  const key = crypto.blake2b(seed, 32);
  let block = 0;
  let buf: Uint8Array = new Uint8Array(0);
  let pos = 0;
  return (n) => {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (pos === buf.length) {
        const nonce = new Uint8Array(12);
        new DataView(nonce.buffer).setUint32(0, block++, true);
        buf = crypto.chacha20Xor(key, nonce, new Uint8Array(4096));
        pos = 0;
      }
      const take = Math.min(n - filled, buf.length - pos);
      out.set(buf.subarray(pos, pos + take), filled);
      pos += take;
      filled += take;
    }
    return out;
  };
}

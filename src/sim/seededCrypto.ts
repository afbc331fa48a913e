import type { CryptoBackend } from '../scramble/crypto/backend.js';
import { seededRng } from '../scramble/rng.js';

/**
 * `backend` with its randomBytes replaced by a seeded ChaCha20 DRBG (the
 * keystream of BLAKE2b(seed), src/scramble/rng.ts), so a virtual-time network
 * given one seed makes the same keys, packets and delays in every run. Every
 * other primitive is the real one.
 *
 * SIMULATION ONLY. Anyone who knows the seed knows every key: this lives in
 * src/sim, which no daemon imports (test/layering.test.ts enforces that).
 */
export function seededCrypto(backend: CryptoBackend, seed: string | Uint8Array): CryptoBackend {
  const bytes = typeof seed === 'string' ? new TextEncoder().encode(seed) : seed;
  return { ...backend, randomBytes: seededRng(backend, bytes) };
}

import { InvalidArgument } from '../errors.js';
import type { BackendName, CryptoBackend } from './backend.js';
import { loadNobleBackend } from './noble.js';
import { loadSodiumBackend } from './sodium.js';

export type { BackendName, CryptoBackend } from './backend.js';

const cache = new Map<BackendName, CryptoBackend>();

/**
 * The backend named by `name`, else by MIXD_CRYPTO, else sodium. If the
 * native module cannot load and nobody asked for it explicitly, fall back to
 * noble: slower, but the same bytes.
 */
export function getCrypto(name?: string): CryptoBackend {
  const wanted = name ?? process.env.MIXD_CRYPTO ?? 'sodium';
  if (wanted !== 'sodium' && wanted !== 'noble') {
    throw new InvalidArgument(`crypto backend "${wanted}" is unknown: use "sodium" or "noble" (MIXD_CRYPTO)`);
  }
  const hit = cache.get(wanted);
  if (hit) return hit;
  let backend: CryptoBackend;
  if (wanted === 'noble') backend = loadNobleBackend();
  else {
    try {
      backend = loadSodiumBackend();
    } catch (err) {
      if (name === 'sodium' || process.env.MIXD_CRYPTO === 'sodium') throw err;
      backend = loadNobleBackend();
    }
  }
  cache.set(wanted, backend);
  return backend;
}

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CryptoBackend } from '../scramble/crypto/backend.js';
import type { Identity } from './context.js';
import { readSecretFile, writePublicFile, writeSecretFile } from './keyFiles.js';

/** keys/identity.key holds the Ed25519 seed (0600); keys/identity.pub the public key. */
export function identityPaths(dataDir: string): { secret: string; public: string } {
  return { secret: join(dataDir, 'keys', 'identity.key'), public: join(dataDir, 'keys', 'identity.pub') };
}

export function loadOrCreateIdentity(crypto: CryptoBackend, dataDir: string): Identity {
  const p = identityPaths(dataDir);
  let seed: Uint8Array;
  if (existsSync(p.secret)) seed = readSecretFile(p.secret);
  else {
    seed = crypto.randomBytes(32);
    writeSecretFile(p.secret, seed);
  }
  const publicKey = crypto.ed25519PublicKey(seed);
  writePublicFile(p.public, publicKey);
  return { seed, publicKey };
}

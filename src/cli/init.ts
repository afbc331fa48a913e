import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { encodeAddress } from '../group/address.js';
import { parseHostPort } from '../node/config.js';
import { loadOrCreateIdentity } from '../node/identity.js';
import { centralIdOf, fromHex, hex } from '../node/ids.js';
import { getCrypto } from '../scramble/crypto/index.js';
import { UsageError } from './usage.js';

interface InitArgs {
  role: 'central' | 'proxy' | 'source';
  dir: string;
  listen?: string;
  central?: string;
  'central-key'?: string;
  force: boolean;
}

/** Writes DIR/mixd.json and DIR/keys/identity.{key,pub}; prints what others need to know. */
export function initCommand(argv: InitArgs): void {
  const dir = resolve(argv.dir);
  const configPath = join(dir, 'mixd.json');
  if (existsSync(configPath) && !argv.force) {
    throw new UsageError(`${configPath} exists: pass --force to overwrite it (keys are kept)`);
  }
  const listen = argv.listen ?? (argv.role === 'central' ? '127.0.0.1:7000' : '127.0.0.1:0');
  parseHostPort(listen, 'listen', { allowPortZero: true });
  const config: Record<string, unknown> = { role: argv.role, listen, dataDir: '.' };
  let centralKey: Uint8Array | null = null;
  if (argv.role !== 'central') {
    if (!argv.central || !argv['central-key']) {
      throw new UsageError(
        `--central HOST:PORT and --central-key KEY are required for a ${argv.role}: ask the central's operator`,
      );
    }
    parseHostPort(argv.central, 'central');
    if (!/^[0-9a-fA-F]{64}$/.test(argv['central-key'])) {
      throw new UsageError('--central-key must be the 64 hex characters `mixd init --role central` printed');
    }
    centralKey = fromHex(argv['central-key']);
    config.central = { address: argv.central, key: argv['central-key'].toLowerCase() };
  } else {
    config.network = {};
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const crypto = getCrypto();
  const identity = loadOrCreateIdentity(crypto, dir);
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  const out: Record<string, string> = { config: configPath, role: argv.role, publicKey: hex(identity.publicKey) };
  if (centralKey) {
    if (argv.role === 'source')
      out.address = encodeAddress({ identityKey: identity.publicKey, centralId: centralIdOf(crypto, centralKey) });
  }
  for (const [k, v] of Object.entries(out)) process.stdout.write(`${k}: ${v}\n`);
}

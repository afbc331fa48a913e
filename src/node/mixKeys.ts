import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { CryptoBackend } from '../scramble/crypto/backend.js';
import { readSecretFile, writeSecretFile } from './keyFiles.js';

/**
 * Per-epoch X25519 mix keys. Epoch e covers [e·len, (e+1)·len) of Unix time.
 * A node publishes the keys of the current and the next epoch (so senders near
 * a boundary can already use the next one) and erases the private key of epoch
 * e once e+1 is `grace` old: captured traffic of epoch e can then no longer be
 * decrypted, even by someone who later seizes the node (forward secrecy).
 */
export interface EpochClock {
  epochMs: number;
  graceMs: number;
}

export function epochAt(clock: EpochClock, nowMs: number): number {
  return Math.floor(nowMs / clock.epochMs);
}

/** When the private key of `epoch` must be gone. */
export function keyExpiryMs(clock: EpochClock, epoch: number): number {
  return (epoch + 1) * clock.epochMs + clock.graceMs;
}

export interface MixKeyPair {
  epoch: number;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export class MixKeyRing {
  private readonly keys = new Map<number, MixKeyPair>();

  constructor(
    private readonly crypto: CryptoBackend,
    private readonly dir: string,
    private readonly clock: EpochClock,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  private path(epoch: number): string {
    return join(this.dir, `mix-${epoch}.key`);
  }

  /** Loads or creates the keys for now's epoch and the next; erases expired ones. Returns erased epochs. */
  refresh(nowMs: number): number[] {
    const current = epochAt(this.clock, nowMs);
    for (const e of [current, current + 1]) {
      if (this.keys.has(e)) continue;
      const p = this.path(e);
      let secretKey: Uint8Array;
      if (existsSync(p)) secretKey = readSecretFile(p);
      else {
        secretKey = this.crypto.randomBytes(32);
        writeSecretFile(p, secretKey);
      }
      this.keys.set(e, { epoch: e, secretKey, publicKey: this.crypto.x25519Base(secretKey) });
    }
    const erased: number[] = [];
    for (const name of readdirSync(this.dir)) {
      const m = /^mix-(\d+)\.key$/.exec(name);
      if (!m) continue;
      const e = Number(m[1]);
      if (keyExpiryMs(this.clock, e) <= nowMs) {
        rmSync(join(this.dir, name), { force: true });
        const k = this.keys.get(e);
        k?.secretKey.fill(0);
        this.keys.delete(e);
        erased.push(e);
      }
    }
    return erased;
  }

  /** Keys to try for an incoming packet: the current epoch first, then the others still held. */
  candidates(nowMs: number): MixKeyPair[] {
    const current = epochAt(this.clock, nowMs);
    const first = this.keys.get(current);
    const rest = [...this.keys.values()].filter((k) => k.epoch !== current).sort((a, b) => b.epoch - a.epoch);
    return first ? [first, ...rest] : rest;
  }

  published(nowMs: number): Array<{ epoch: number; publicKey: Uint8Array }> {
    const current = epochAt(this.clock, nowMs);
    return [...this.keys.values()]
      .filter((k) => k.epoch >= current)
      .sort((a, b) => a.epoch - b.epoch)
      .map((k) => ({ epoch: k.epoch, publicKey: k.publicKey }));
  }
}

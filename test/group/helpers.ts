import fc from 'fast-check';
import type { Test } from 'tap';
import { encodeAddress } from '../../src/group/address.js';
import { GroupError } from '../../src/group/errors.js';
import type { LocalIdentity } from '../../src/group/groupState.js';
import { centralIdOf, mailboxIdOf } from '../../src/node/ids.js';
import type { CryptoBackend } from '../../src/scramble/crypto/backend.js';
import { getCrypto } from '../../src/scramble/crypto/index.js';
import { type Rng, seededRng, systemRng } from '../../src/scramble/rng.js';

export const sodium: CryptoBackend = getCrypto('sodium');
export const noble: CryptoBackend = getCrypto('noble');
export const crypto = sodium;
export const rng: Rng = systemRng(sodium);

/** Small KDF params so tests stay fast (the defaults cost ~64 MiB per try). */
export const TEST_KDF = { opsLimit: 1, memLimitBytes: 8 * 1024 * 1024 } as const;
export const TINY_KDF = { opsLimit: 1, memLimitBytes: 64 * 1024 } as const;

export const CENTRAL = centralIdOf(sodium, new Uint8Array(32).fill(7));
export const NOW = 1_700_000_000_000;

export function identity(c: CryptoBackend = crypto, seed?: Uint8Array): LocalIdentity {
  const identitySeed = seed ?? c.randomBytes(32);
  return { identitySeed, identityKey: c.ed25519PublicKey(identitySeed), centralId: CENTRAL };
}

export function addressOf(id: LocalIdentity): string {
  return encodeAddress({ identityKey: id.identityKey, centralId: id.centralId });
}

export function seeded(label: string, c: CryptoBackend = crypto): Rng {
  return seededRng(c, new TextEncoder().encode(label));
}

export function mailbox(id: LocalIdentity): Uint8Array {
  return mailboxIdOf(crypto, id.identityKey);
}

export const pass = (s: string): Uint8Array => new TextEncoder().encode(s);

/**
 * Runs `f`; passes if it returns or throws a GroupError. Anything else (a
 * TypeError, RangeError, a CryptoFailure leaking out) fails the property.
 */
export function onlyTyped(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch (err) {
    if (err instanceof GroupError) return true;
    throw err;
  }
}

/** Mutations of a valid encoding: truncations, bit flips, random bytes spliced in, extensions. */
export function mutated(valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  const n = valid.length;
  return fc.oneof(
    fc.nat({ max: Math.max(0, n - 1) }).map((k) => valid.slice(0, k)),
    fc
      .array(fc.tuple(fc.nat({ max: Math.max(0, n - 1) }), fc.integer({ min: 0, max: 7 })), {
        minLength: 1,
        maxLength: 4,
      })
      .map((flips) => {
        const out = valid.slice();
        for (const [i, b] of flips) out[i] = (out[i] as number) ^ (1 << b);
        return out;
      }),
    fc.tuple(fc.nat({ max: n }), fc.uint8Array({ minLength: 1, maxLength: 40 })).map(([i, extra]) => {
      const out = new Uint8Array(n + extra.length);
      out.set(valid.subarray(0, i), 0);
      out.set(extra, i);
      out.set(valid.subarray(i), i + extra.length);
      return out;
    }),
    fc.tuple(fc.nat({ max: Math.max(0, n - 1) }), fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([i, over]) => {
      const out = valid.slice();
      out.set(over.subarray(0, Math.max(0, n - i)), i);
      return out;
    }),
    fc.uint8Array({ maxLength: n + 16 }),
  );
}

/** Asserts `f` throws an instance of `cls` (subclasses included), optionally with a message match. */
export function throwsA(
  t: Test,
  f: () => unknown,
  cls: abstract new (...args: never[]) => Error,
  message?: RegExp,
  label?: string,
): void {
  try {
    f();
  } catch (err) {
    t.ok(err instanceof cls, label ?? `throws ${cls.name}`, { got: String(err) });
    if (message) t.match((err as Error).message, message, label ?? `message matches ${message}`);
    return;
  }
  t.fail(label ?? `expected ${cls.name} to be thrown`);
}

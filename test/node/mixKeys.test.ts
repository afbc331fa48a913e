import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { epochAt, keyExpiryMs, MixKeyRing } from '../../src/node/mixKeys.js';
import { getCrypto } from '../../src/scramble/crypto/index.js';
import { tempDir } from './fixtures/tempDir.js';

const crypto = getCrypto('sodium');
const clock = { epochMs: 10_000, graceMs: 2_000 };

t.test('current and next epoch keys exist, are published, and survive a restart', async (t) => {
  const dir = tempDir(t, 'mixkeys');
  const now = 5 * clock.epochMs + 100;
  const ring = new MixKeyRing(crypto, dir, clock);
  t.same(ring.refresh(now), []);
  const published = ring.published(now);
  t.same(
    published.map((k) => k.epoch),
    [5, 6],
    'publishes this epoch and the next, ahead of time',
  );
  for (const e of [5, 6]) {
    const st = statSync(join(dir, `mix-${e}.key`));
    t.equal(st.mode & 0o777, 0o600, `mix-${e}.key is 0600`);
  }
  t.equal(ring.candidates(now)[0]?.epoch, 5, 'the current epoch is tried first');
  const again = new MixKeyRing(crypto, dir, clock);
  again.refresh(now);
  t.ok(
    crypto.equal(again.published(now)[0]?.publicKey as Uint8Array, published[0]?.publicKey as Uint8Array),
    'same key after restart',
  );
});

t.test('a key is erased exactly when its grace window ends', async (t) => {
  const dir = tempDir(t, 'mixkeys');
  const ring = new MixKeyRing(crypto, dir, clock);
  ring.refresh(5 * clock.epochMs);
  const boundary = 6 * clock.epochMs;
  ring.refresh(boundary + 1);
  t.ok(existsSync(join(dir, 'mix-5.key')), 'epoch 5 is still held inside the grace window');
  t.same(
    ring.candidates(boundary + 1).map((k) => k.epoch),
    [6, 7, 5],
    'current first, then the others',
  );
  t.equal(keyExpiryMs(clock, 5), boundary + clock.graceMs);
  t.same(ring.refresh(boundary + clock.graceMs - 1), [], 'not yet');
  t.same(ring.refresh(boundary + clock.graceMs), [5], 'erased at the end of the grace window');
  t.notOk(existsSync(join(dir, 'mix-5.key')), 'the file is gone');
  t.notOk(
    ring.candidates(boundary + clock.graceMs).some((k) => k.epoch === 5),
    'and the key is no longer tried',
  );
  t.equal(epochAt(clock, boundary - 1), 5);
  t.equal(epochAt(clock, boundary), 6);
});

import fc from 'fast-check';
import t from 'tap';
import { DuplicateMessage, MessageTooFarAhead } from '../../src/group/errors.js';
import {
  decodeReceiveChain,
  encodeReceiveChain,
  initialChainKey,
  MAX_SKIP,
  MAX_SKIPPED_KEYS,
  nextSendKey,
  type ReceiveChain,
  receiveChainFrom,
  receiveKey,
  type SendChain,
} from '../../src/group/senderChain.js';
import { crypto, mutated, noble, onlyTyped, rng, sodium, throwsA } from './helpers.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function sendKeys(start: SendChain, n: number): { keys: Uint8Array[]; chain: SendChain } {
  const keys: Uint8Array[] = [];
  let chain = start;
  for (let i = 0; i < n; i++) {
    const s = nextSendKey(crypto, chain);
    keys.push(s.messageKey);
    chain = s.chain;
  }
  return { keys, chain };
}

t.test('sender and receiver derive the same message keys; chain and message keys differ', async (t) => {
  const ck = rng(32);
  const { keys } = sendKeys({ chainKey: ck, index: 0 }, 20);
  let rx: ReceiveChain = receiveChainFrom(ck, 0);
  for (let i = 0; i < 20; i++) {
    const r = receiveKey(crypto, rx, i);
    t.same(r.messageKey, keys[i], `key ${i}`);
    t.not(hex(r.chain.chainKey), hex(r.messageKey));
    rx = r.chain;
  }
  t.equal(new Set(keys.map(hex)).size, 20, 'every message key is distinct');
  t.equal(rx.skipped.size, 0);
});

t.test('the key schedule is the same on both backends', async (t) => {
  const seed = rng(32);
  const gid = rng(16);
  const member = rng(32);
  t.same(initialChainKey(sodium, seed, gid, 3, member), initialChainKey(noble, seed, gid, 3, member));
  t.notSame(initialChainKey(sodium, seed, gid, 3, member), initialChainKey(sodium, seed, gid, 4, member));
  const ck = rng(32);
  const a = nextSendKey(sodium, { chainKey: ck, index: 0 });
  const b = nextSendKey(noble, { chainKey: ck, index: 0 });
  t.same(a.messageKey, b.messageKey);
  t.same(a.chain.chainKey, b.chain.chainKey);
});

t.test('out of order inside the window; each key works once; replays and old keys are refused', async (t) => {
  const ck = rng(32);
  const { keys } = sendKeys({ chainKey: ck, index: 0 }, 10);
  let rx = receiveChainFrom(ck, 0);
  const r7 = receiveKey(crypto, rx, 7);
  t.same(r7.messageKey, keys[7]);
  t.equal(r7.chain.skipped.size, 7, 'keys 0..6 kept as skipped');
  t.same(receiveKey(crypto, rx, 7).messageKey, keys[7], 'the input chain is unchanged (a forgery leaves no trace)');
  rx = r7.chain;
  const r3 = receiveKey(crypto, rx, 3);
  t.same(r3.messageKey, keys[3]);
  rx = r3.chain;
  t.equal(rx.skipped.size, 6, 'a used skipped key is deleted');
  throwsA(t, () => receiveKey(crypto, rx, 3), DuplicateMessage, /already read/);
  throwsA(t, () => receiveKey(crypto, rx, 7), DuplicateMessage, /already read/);
  throwsA(t, () => receiveKey(crypto, rx, 8 + MAX_SKIP + 1), MessageTooFarAhead);
  t.equal(receiveKey(crypto, rx, 8 + MAX_SKIP).chain.index, 9 + MAX_SKIP, 'exactly MAX_SKIP ahead is fine');
});

t.test('skipped keys are capped: the oldest go first', async (t) => {
  const ck = rng(32);
  let rx = receiveChainFrom(ck, 0);
  rx = receiveKey(crypto, rx, MAX_SKIP).chain;
  rx = receiveKey(crypto, rx, MAX_SKIP * 2).chain;
  t.equal(rx.skipped.size, MAX_SKIPPED_KEYS);
  throwsA(t, () => receiveKey(crypto, rx, 0), DuplicateMessage, /expired/);
  t.ok(receiveKey(crypto, rx, MAX_SKIP * 2 - 1), 'the newest skipped key is still there');
});

t.test('forward secrecy: a state captured after message k holds nothing that opens messages <= k', async (t) => {
  const ck = rng(32);
  const { keys } = sendKeys({ chainKey: ck, index: 0 }, 40);
  let rx = receiveChainFrom(ck, 0);
  // Messages 0..29 arrive, except 12, which is still in flight when the device is captured.
  for (let i = 0; i < 30; i++) if (i !== 12) rx = receiveKey(crypto, rx, i).chain;
  const captured = decodeReceiveChain(encodeReceiveChain(rx), (m) => new Error(m));
  // What the captor holds: one chain key and the skipped key of message 12. None of the other past keys.
  const held = new Set([hex(captured.chainKey), ...[...captured.skipped.values()].map(hex)]);
  for (let i = 0; i < 30; i++) {
    if (i === 12) continue;
    t.notOk(held.has(hex(keys[i]!)), `message key ${i} is not in the captured state`);
    throwsA(t, () => receiveKey(crypto, captured, i), DuplicateMessage, undefined, `message ${i} cannot be re-derived`);
  }
  // Running the captured chain forward (the only direction the hash chain goes) never meets a past key.
  let probe = captured;
  for (let i = 30; i < 30 + 64; i++) {
    const r = receiveKey(crypto, probe, i);
    t.notOk(
      keys.slice(0, 30).some((k) => hex(k) === hex(r.messageKey)),
      `forward key ${i} is none of the past keys`,
    );
    probe = r.chain;
  }
  t.same(receiveKey(crypto, captured, 12).messageKey, keys[12], 'only the message not yet read stays readable');
  t.same(
    receiveKey(crypto, captured, 35).messageKey,
    keys[35],
    'later messages stay readable (no post-compromise security)',
  );
});

t.test('fuzz: decodeReceiveChain throws only its own error', async () => {
  let rx = receiveChainFrom(rng(32), 0);
  rx = receiveKey(crypto, rx, 5).chain;
  const valid = encodeReceiveChain(rx);
  class ChainError extends Error {}
  fc.assert(
    fc.property(mutated(valid), (b) => {
      try {
        decodeReceiveChain(b, (m) => new ChainError(m));
        return true;
      } catch (err) {
        if (err instanceof ChainError) return true;
        throw err;
      }
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(fc.nat({ max: 2 ** 32 + 5 }), (i) => onlyTyped(() => receiveKey(crypto, rx, i - 5))),
    { numRuns: 300 },
  );
});

/**
 * The signed directory (src/node/directory.ts): codec round trips and fuzz (only MalformedMessage),
 * openDirectory against the pinned CS key, indexDirectory.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import t from 'tap';
import { Writer } from '../../src/node/codec.js';
import {
  assemblePages,
  BadSignature,
  type Directory,
  type DirectoryPage,
  decodeDescriptor,
  decodePage,
  encodeDescriptor,
  encodeDirectoryPages,
  encodePage,
  indexDirectory,
  type MixKey,
  mixKeyFor,
  type NetworkParams,
  type NodeDescriptor,
  nodeEntryBytes,
  openDirectoryPage,
  signDocument,
} from '../../src/node/directory.js';
import { hex, nodeIdOf } from '../../src/node/ids.js';
import { MAX_PROXIES } from '../../src/node/limits.js';
import { signedBytes } from '../../src/node/wire.js';
import { getCrypto } from '../../src/scramble/crypto/index.js';
import { InvalidArgument } from '../../src/scramble/errors.js';
import { bytesEqual, FUZZ_SEED, fuzzDecoder, malformedReason } from './fuzzHelpers.js';

const crypto = getCrypto('sodium');

const rec = <T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> =>
  fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
const bytesN = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
/** A leading U+FEFF does not survive decoding (Reader.string, see test/node/wire.test.ts). */
const address = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.startsWith('\uFEFF'));
const finite = fc.double({ noNaN: true, noDefaultInfinity: true });

const mixKey: fc.Arbitrary<MixKey> = rec({ epoch: fc.nat({ max: 0xffffffff }), publicKey: bytesN(32) });
const descriptor: fc.Arbitrary<NodeDescriptor> = rec({
  identityKey: bytesN(32),
  address,
  mixKeys: fc.array(mixKey, { maxLength: 8 }),
  timestampMs: fc.maxSafeNat(),
});
const params: fc.Arbitrary<NetworkParams> = rec({
  packetSize: finite,
  maxHops: finite,
  meanDelayMs: finite,
  maxDelayMs: finite,
  epochSeconds: finite,
  graceSeconds: finite,
  lambdaPerSecond: finite,
  loopPerSecond: finite,
  mixLoopPerSecond: finite,
  deliveryPerSecond: finite,
});
const directory: fc.Arbitrary<DirectoryPage> = fc
  .record(
    {
      issuedAtMs: fc.maxSafeNat(),
      epoch: fc.nat({ max: 0xffffffff }),
      params,
      central: descriptor,
      proxies: fc.array(descriptor, { maxLength: 12 }),
      pageCount: fc.integer({ min: 1, max: MAX_PROXIES }),
      pageSeed: fc.nat(),
    },
    { noNullPrototype: true },
  )
  .map(({ pageSeed, ...d }) => ({ ...d, page: pageSeed % d.pageCount }));

t.test('descriptors and directories round-trip canonically', async (t) => {
  fc.assert(
    fc.property(descriptor, (d) => {
      const bytes = encodeDescriptor(d);
      const back = decodeDescriptor(bytes);
      if (!isDeepStrictEqual(back, d)) throw new Error('descriptor did not round-trip');
      if (!bytesEqual(encodeDescriptor(back), bytes)) throw new Error('descriptor re-encodes differently');
    }),
    { seed: FUZZ_SEED, numRuns: 500 },
  );
  fc.assert(
    fc.property(directory, (d) => {
      const bytes = encodePage(d);
      const back = decodePage(bytes);
      // -0 survives too: f64 carries the sign bit and isDeepStrictEqual tells -0 from 0.
      if (!isDeepStrictEqual(back, d)) throw new Error('directory did not round-trip');
      if (!bytesEqual(encodePage(back), bytes)) throw new Error('directory re-encodes differently');
    }),
    { seed: FUZZ_SEED, numRuns: 300 },
  );
  t.pass('500 descriptors and 300 directories');
});

const descriptorPool = fc.sample(descriptor, { seed: FUZZ_SEED, numRuns: 300 }).map(encodeDescriptor);
const directoryPool = fc
  .sample(directory, { seed: FUZZ_SEED, numRuns: 120 })
  .map((d) => ({ ...d, proxies: d.proxies.slice(0, 4) }))
  .map(encodePage);

t.test('hostile descriptors: only MalformedMessage, accepted ones re-encode to the same bytes', async (t) => {
  const stats = fuzzDecoder(t, {
    label: 'descriptor',
    pool: descriptorPool,
    total: 30_000,
    decode: decodeDescriptor,
    check: (d, input) => (bytesEqual(encodeDescriptor(d), input) ? null : 're-encodes to different bytes'),
  });
  t.ok(stats.accepted > 100 && stats.rejected > 20_000, `accepted ${stats.accepted}, rejected ${stats.rejected}`);
  t.comment(JSON.stringify(stats.reasons));
});

t.test('hostile directories: only MalformedMessage, accepted ones re-encode to the same bytes', async (t) => {
  const stats = fuzzDecoder(t, {
    label: 'directory',
    pool: directoryPool,
    total: 30_000,
    maxRandom: 600,
    decode: decodePage,
    check: (d, input) => (bytesEqual(encodePage(d), input) ? null : 're-encodes to different bytes'),
  });
  t.ok(stats.accepted > 100 && stats.rejected > 20_000, `accepted ${stats.accepted}, rejected ${stats.rejected}`);
  for (const reason of ['truncated', 'trailing', 'bad_version', 'range']) {
    t.ok((stats.reasons[reason] ?? 0) > 0, `reason ${reason} seen`);
  }
  t.comment(JSON.stringify(stats.reasons));
});

const PARAMS: NetworkParams = {
  packetSize: 2048,
  maxHops: 5,
  meanDelayMs: 50,
  maxDelayMs: 2000,
  epochSeconds: 3600,
  graceSeconds: 600,
  lambdaPerSecond: 0,
  loopPerSecond: 0,
  mixLoopPerSecond: 0,
  deliveryPerSecond: 0,
};

function node(identityKey: Uint8Array, port: number, epochs: number[]): NodeDescriptor {
  return {
    identityKey,
    address: `127.0.0.1:${port}`,
    mixKeys: epochs.map((epoch) => ({ epoch, publicKey: crypto.x25519Base(crypto.randomBytes(32)) })),
    timestampMs: 1_700_000_000_000,
  };
}

t.test('field limits and bad values', async (t) => {
  const n = node(new Uint8Array(32).fill(3), 7000, [1]);
  const bad = encodeDescriptor(n);
  bad[0] = 2;
  t.equal(
    malformedReason(() => decodeDescriptor(bad)),
    'bad_version',
    'descriptor version 2',
  );
  const eight = { ...n, mixKeys: Array.from({ length: 8 }, (_, i) => ({ epoch: i, publicKey: new Uint8Array(32) })) };
  t.same(decodeDescriptor(encodeDescriptor(eight)), eight, '8 mix keys accepted');
  const nine = { ...n, mixKeys: [...eight.mixKeys, { epoch: 9, publicKey: new Uint8Array(32) }] };
  t.equal(
    malformedReason(() => decodeDescriptor(encodeDescriptor(nine))),
    'bad_field',
    '9 mix keys rejected',
  );

  const dir: DirectoryPage = {
    issuedAtMs: 1,
    epoch: 2,
    params: PARAMS,
    central: n,
    proxies: [],
    page: 0,
    pageCount: 1,
  };
  const docBad = encodePage(dir);
  docBad[0] = 1;
  t.equal(
    malformedReason(() => decodePage(docBad)),
    'bad_version',
    'directory version 1 (a single document, before pages)',
  );
  // A proxy count above 1000 is refused before any attempt to read that many.
  const head = encodePage(dir);
  const many = head.slice();
  new DataView(many.buffer).setUint16(many.length - 2, 1001, false);
  t.equal(
    malformedReason(() => decodePage(many)),
    'bad_field',
    '1001 proxies rejected',
  );
  new DataView(many.buffer).setUint16(many.length - 2, 1000, false);
  t.equal(
    malformedReason(() => decodePage(many)),
    'truncated',
    '1000 proxies announced, none present',
  );
  // Page index and count: 1..1000 pages, index below the count.
  for (const [page, pageCount] of [
    [0, 0],
    [1, 1],
    [5, 3],
    [0, 1001],
  ] as const) {
    const bad = encodePage({ ...dir, page: 0, pageCount: 1 });
    new DataView(bad.buffer).setUint16(13, page, false);
    new DataView(bad.buffer).setUint16(15, pageCount, false);
    t.equal(
      malformedReason(() => decodePage(bad)),
      'bad_field',
      `page ${page} of ${pageCount}`,
    );
  }
  // A parameter that is NaN or infinite is refused.
  for (const v of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    const doc = encodePage({ ...dir, params: { ...PARAMS, meanDelayMs: v } });
    t.equal(
      malformedReason(() => decodePage(doc)),
      'range',
      `meanDelayMs = ${v}`,
    );
  }
  const w = new Writer()
    .u8(2)
    .u64(2 ** 53)
    .u32(0);
  t.equal(
    malformedReason(() => decodePage(w.finish())),
    'range',
    'issuedAtMs = 2^53',
  );
});

t.test('openDirectoryPage verifies against the pinned CS key', async (t) => {
  const seed = crypto.randomBytes(32);
  const pinned = crypto.ed25519PublicKey(seed);
  const dir: DirectoryPage = {
    page: 0,
    pageCount: 1,
    issuedAtMs: 1_700_000_000_000,
    epoch: 472_222,
    params: PARAMS,
    central: node(pinned, 7000, [472_222, 472_223]),
    proxies: [node(crypto.randomBytes(32), 7001, [472_222])],
  };
  const doc = encodePage(dir);
  const sig = signDocument(crypto, 'directory', seed, doc);
  t.same(openDirectoryPage(crypto, pinned, doc, sig), dir, 'a good document opens');
  t.ok(crypto.ed25519Verify(pinned, signedBytes('directory', doc), sig), 'signDocument signs the labelled bytes');

  const other = crypto.ed25519PublicKey(crypto.randomBytes(32));
  t.throws(() => openDirectoryPage(crypto, other, doc, sig), BadSignature, 'another pinned key');

  let flipped = 0;
  for (let i = 0; i < doc.length; i++) {
    for (const mask of [0x01, 0x80, 0xff]) {
      const bad = doc.slice();
      bad[i] = (bad[i] as number) ^ mask;
      try {
        openDirectoryPage(crypto, pinned, bad, sig);
        t.fail(`byte ${i} ^ ${mask} was accepted`);
      } catch (err) {
        if (!(err instanceof BadSignature)) t.fail(`byte ${i} ^ ${mask}: ${String(err)}`);
        else flipped++;
      }
    }
  }
  t.equal(flipped, doc.length * 3, `every byte of the ${doc.length}-byte document, three ways, is BadSignature`);
  t.throws(() => openDirectoryPage(crypto, pinned, doc.subarray(0, doc.length - 1), sig), BadSignature, 'truncated');
  t.throws(() => openDirectoryPage(crypto, pinned, new Uint8Array([...doc, 0]), sig), BadSignature, 'extended');

  for (let bit = 0; bit < 512; bit += 37) {
    const bad = sig.slice();
    bad[bit >> 3] = (bad[bit >> 3] as number) ^ (1 << (bit & 7));
    t.throws(() => openDirectoryPage(crypto, pinned, doc, bad), BadSignature, `signature bit ${bit}`);
  }
  t.throws(() => openDirectoryPage(crypto, pinned, doc, new Uint8Array(64)), BadSignature, 'zero signature');
  t.throws(() => openDirectoryPage(crypto, pinned, doc, sig.subarray(0, 63)), BadSignature, '63-byte signature');
  t.throws(
    () => openDirectoryPage(crypto, pinned, doc, signDocument(crypto, 'descriptor', seed, doc)),
    BadSignature,
    'a signature under another label (domain separation)',
  );
  t.throws(
    () => openDirectoryPage(crypto, pinned, doc, crypto.ed25519Sign(seed, doc)),
    BadSignature,
    'a signature over the raw document',
  );

  // Signed by the pinned key, but the document names another central: still refused.
  const impostor = { ...dir, central: { ...dir.central, identityKey: other } };
  const impostorDoc = encodePage(impostor);
  t.throws(
    () => openDirectoryPage(crypto, pinned, impostorDoc, signDocument(crypto, 'directory', seed, impostorDoc)),
    BadSignature,
    'a document naming another central key',
  );
  // Signed by the pinned key but not a directory: MalformedMessage after the signature verifies.
  const junk = crypto.randomBytes(40);
  t.equal(
    malformedReason(() => openDirectoryPage(crypto, pinned, junk, signDocument(crypto, 'directory', seed, junk))),
    'bad_version',
    'a signed non-directory is MalformedMessage',
  );
});

t.test('indexDirectory maps node ids to descriptors; mixKeyFor finds epoch keys', async (t) => {
  const central = node(crypto.randomBytes(32), 7000, [10, 11]);
  const proxies = [7001, 7002, 7003].map((p) => node(crypto.randomBytes(32), p, [10]));
  const dir: Directory = { issuedAtMs: 0, epoch: 10, params: PARAMS, central, proxies };
  const indexed = indexDirectory(crypto, dir);
  t.equal(indexed.byId.size, 4, 'central and every proxy');
  for (const n of [central, ...proxies]) {
    t.equal(indexed.byId.get(hex(nodeIdOf(crypto, n.identityKey))), n, `${n.address} by its node id`);
  }
  t.equal(indexed.byId.get(hex(crypto.randomBytes(16))), undefined, 'an unknown id');
  t.equal(indexed.central, central);
  t.same(indexed.proxies, proxies);
  t.equal(indexed.epoch, 10);
  t.equal(mixKeyFor(central, 11), central.mixKeys[1]?.publicKey, 'next epoch key');
  t.equal(mixKeyFor(proxies[0] as NodeDescriptor, 11), undefined, 'no key for that epoch');
});

t.test('pages: bounded by construction, every page below the limit, reassembled in any order', async (t) => {
  const central = node(crypto.randomBytes(32), 7000, [1, 2]);
  // The largest entry CS admits: a 47-character address and three keys.
  const big = (i: number): NodeDescriptor => ({
    identityKey: crypto.randomBytes(32),
    address: `[2001:0db8:1234:5678:9abc:def0:${(i & 0xffff).toString(16).padStart(4, '0')}:0001]:65535`,
    mixKeys: [1, 2, 3].map((epoch) => ({ epoch, publicKey: crypto.randomBytes(32) })),
    timestampMs: 1,
  });
  t.equal(big(0).address.length, 47);
  const proxies = Array.from({ length: MAX_PROXIES }, (_, i) => big(i));
  const dir: Directory = { issuedAtMs: 9, epoch: 1, params: PARAMS, central, proxies };
  const limit = 1129;
  const pages = encodeDirectoryPages(dir, limit);
  t.ok(pages.length > 1, `${MAX_PROXIES} proxies take ${pages.length} pages`);
  t.ok(
    pages.every((p) => p.length <= limit),
    `every page is at most ${limit} bytes (largest ${Math.max(...pages.map((p) => p.length))})`,
  );
  const decoded = pages.map(decodePage);
  t.same(assemblePages(decoded.slice().reverse()), dir, 'reassembled from pages in reverse order');
  t.same(
    decoded.map((p) => p.page),
    [...pages.keys()],
  );

  t.throws(
    () => encodeDirectoryPages({ ...dir, proxies: [...proxies, big(1001)] }, limit),
    InvalidArgument,
    'one proxy more than MAX_PROXIES is never encoded',
  );
  const huge = { ...big(0), address: 'x'.repeat(2000) };
  t.ok(nodeEntryBytes(huge) > limit);
  t.throws(
    () => encodeDirectoryPages({ ...dir, proxies: [huge] }, limit),
    InvalidArgument,
    'an entry larger than a page',
  );

  t.equal(
    malformedReason(() => assemblePages(decoded.slice(1))),
    'truncated',
    'a page missing',
  );
  t.equal(
    malformedReason(() => assemblePages([...decoded.slice(1), decoded[1] as DirectoryPage])),
    'bad_field',
    'a page twice',
  );
  const otherIssue = decodePage(encodePage({ ...(decoded[0] as DirectoryPage), issuedAtMs: 10 }));
  t.equal(
    malformedReason(() => assemblePages([otherIssue, ...decoded.slice(1)])),
    'bad_field',
    'pages of two issues',
  );
  t.same(
    assemblePages([decodePage(encodeDirectoryPages({ ...dir, proxies: [] }, limit)[0] as Uint8Array)]).proxies,
    [],
  );
});

import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { getCrypto } from '../../src/scramble/crypto/index.js';
import {
  encodeTrace,
  encodeTraceRecord,
  LINK_HASH_HEX_CHARS,
  linkHash,
  openTraceFile,
  PACKET_KINDS,
  parseTraceLine,
  readTraceFile,
  readTraceText,
  TraceFormatError,
  type TraceRecord,
  traceRecords,
} from '../../src/sim/trace.js';
import { toyMixnet } from './adversaries/toyMixnet.js';

const id = fc.stringMatching(/^[a-z0-9:.]{1,12}$/);
const time = fc.double({ min: 0, max: 1e7, noNaN: true, noDefaultInfinity: true });
const meta: TraceRecord = {
  type: 'meta',
  version: 1,
  network: {
    mu_ms: 50,
    lambda_per_s: 20,
    loop_per_s: 4,
    mix_loop_per_s: 2,
    delivery_per_s: 0,
    packet_bytes: 2048,
    delivery_bytes: 1749,
    hops_to_fanout: 2,
    hops_after_fanout: 2,
    sender_gets_copy: false,
  },
  run: { seed: 7, duration_ms: 60_000, groups: 3, mode: 'virtual', fast: false },
  endpoints: [
    { id: 'cs', role: 'central' },
    { id: 'p0', role: 'proxy' },
    { id: 's0', role: 'source', name: 's0' },
  ],
};

const record: fc.Arbitrary<TraceRecord> = fc.oneof(
  fc.record({ type: fc.constant('link' as const), t: time, from: id, to: id, size: fc.nat(5000), hash: id }),
  fc.record(
    {
      type: fc.constant('obs' as const),
      t: time,
      node: id,
      op: id,
      in: id,
      out: fc.array(fc.record({ hash: id, to: id, delayMs: fc.nat(10_000) }, { requiredKeys: ['hash', 'to'] }), {
        maxLength: 4,
      }),
      key: id,
      owner: id,
      entry: id,
      real: fc.boolean(),
      fields: fc.dictionary(fc.stringMatching(/^[a-z]{1,6}$/), fc.oneof(fc.boolean(), fc.nat(), id)),
    },
    { requiredKeys: ['type', 't', 'node', 'op'] },
  ),
  fc.record(
    {
      type: fc.constant('attack' as const),
      t: time,
      attack: id,
      action: fc.constantFrom(
        'block-start' as const,
        'block-end' as const,
        'drop' as const,
        'hold' as const,
        'flush' as const,
      ),
      target: id,
      hash: id,
      untilMs: time,
    },
    { requiredKeys: ['type', 't', 'attack', 'action', 'target'] },
  ),
  fc.record({ type: fc.constant('alarm' as const), t: time, node: id, name: id }),
  fc.record(
    {
      type: fc.constant('truth' as const),
      what: fc.constant('packet' as const),
      id,
      kind: fc.constantFrom(...PACKET_KINDS),
      msg: id,
      recipient: id,
      hops: fc.array(fc.record({ hash: id, from: id, to: id, t: time }), { maxLength: 5 }),
    },
    { requiredKeys: ['type', 'what', 'id', 'kind', 'hops'] },
  ),
  fc.record({
    type: fc.constant('truth' as const),
    what: fc.constant('message' as const),
    id,
    group: id,
    sender: id,
    recipients: fc.array(id, { maxLength: 5 }),
    sentAt: time,
    received: fc.array(fc.record({ recipient: id, t: time }), { maxLength: 5 }),
  }),
  fc.record({
    type: fc.constant('truth' as const),
    what: fc.constant('fanout' as const),
    t: time,
    node: id,
    bundle: id,
    copies: fc.array(id),
  }),
  fc.record({
    type: fc.constant('truth' as const),
    what: fc.constant('membership' as const),
    t: time,
    group: id,
    members: fc.array(id),
  }),
);

t.test('every record survives encode → parse unchanged', async (t) => {
  fc.assert(
    fc.property(record, (r) => {
      t.same(parseTraceLine(encodeTraceRecord(r)), r);
      return true;
    }),
    { numRuns: 300 },
  );
  t.same(parseTraceLine(encodeTraceRecord(meta)), meta);
});

t.test('a whole trace survives text and file round trips, sorted by time', async (t) => {
  const net = toyMixnet({
    seed: 3,
    sources: 6,
    proxies: 3,
    durationMs: 5000,
    messagesPerS: 2,
    muMs: 20,
    lambdaPerS: 5,
  });
  const trace = readTraceText(encodeTrace(net.records));
  t.ok(trace.links.length > 50 && trace.obs.length > 50 && trace.truth.messages.length > 3);
  for (let i = 1; i < trace.links.length; i++) if (trace.links[i].t < trace.links[i - 1].t) t.fail('links not sorted');
  const again = readTraceText(encodeTrace(traceRecords(trace)));
  t.same(again, trace, 'traceRecords → text → trace is the identity');
  const dir = mkdtempSync(join(tmpdir(), 'mixd-trace-'));
  try {
    const path = join(dir, 'run.jsonl');
    const file = openTraceFile(path);
    for (const r of net.records) file.writer.write(r);
    file.close();
    t.equal(statSync(path).mode & 0o777, 0o600, 'a trace holds ground truth: 0600');
    t.same(await readTraceFile(path), trace);
    t.equal(readFileSync(path, 'utf8').split('\n').filter(Boolean).length, net.records.length, 'one record per line');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t.test('malformed lines are TraceFormatErrors naming the line and field, never another exception', async (t) => {
  const cases: Array<[string, string]> = [
    ['not json', 'line'],
    ['[1,2]', 'line'],
    ['{"type":"link","t":1,"from":"a","to":"b","size":-1,"hash":"h"}', 'size'],
    ['{"type":"link","t":"1","from":"a","to":"b","size":1,"hash":"h"}', 't'],
    ['{"type":"link","t":1,"from":"","to":"b","size":1,"hash":"h"}', 'from'],
    ['{"type":"obs","t":1,"node":"a","op":"relay","out":[{"hash":"h"}]}', 'out[0].to'],
    ['{"type":"truth","what":"packet","id":"p","kind":"weird","hops":[]}', 'kind'],
    ['{"type":"truth","what":"other"}', 'what'],
    ['{"type":"meta","version":2}', 'version'],
    ['{"type":"attack","t":1,"attack":"x","action":"nuke","target":"s"}', 'action'],
    ['{"type":"link","t":1e999,"from":"a","to":"b","size":1,"hash":"h"}', 't'],
    ['{"type":"obs","t":1,"node":"a","op":"x","fields":{"__proto__":{"polluted":true}}}', 'fields.__proto__'],
  ];
  for (const [line, field] of cases) {
    try {
      parseTraceLine(line, 7);
      t.fail(`accepted: ${line}`);
    } catch (err) {
      t.ok(err instanceof TraceFormatError, line);
      t.match((err as TraceFormatError).field, field, line);
      t.equal((err as TraceFormatError).line, 7);
    }
  }
  t.equal(parseTraceLine('{"type":"future-thing","x":1}'), null, 'unknown record types are skipped');
  t.throws(
    () => readTraceText('{"type":"link","t":1,"from":"a","to":"b","size":1,"hash":"h"}\n'),
    TraceFormatError,
    'meta missing',
  );
  const twoMetas = `${encodeTraceRecord(meta)}\n${encodeTraceRecord(meta)}\n`;
  t.throws(() => readTraceText(twoMetas), TraceFormatError, 'two metas');
  const withUnknown = `${encodeTraceRecord(meta)}\n\n{"type":"future-thing"}\n`;
  t.equal(readTraceText(withUnknown).skipped, 1);
});

t.test('fuzz: arbitrary text and mutated records only ever throw TraceFormatError', async (t) => {
  const encoded = encodeTraceRecord({
    type: 'obs',
    t: 5,
    node: 'p1',
    op: 'fanout',
    in: 'abc',
    out: [{ hash: 'x', to: 'p2', delayMs: 3 }],
    key: 'k',
  });
  let rejected = 0;
  let accepted = 0;
  const check = (line: string) => {
    try {
      parseTraceLine(line);
      accepted++;
    } catch (err) {
      if (!(err instanceof TraceFormatError)) throw err;
      rejected++;
    }
    return true;
  };
  fc.assert(fc.property(fc.string({ maxLength: 200 }), check), { numRuns: 500 });
  fc.assert(fc.property(fc.json(), check), { numRuns: 500 });
  fc.assert(
    fc.property(fc.nat(encoded.length - 1), fc.string({ minLength: 1, maxLength: 3 }), (at, junk) =>
      check(encoded.slice(0, at) + junk + encoded.slice(at + 1)),
    ),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.anything(), (v) =>
      check(JSON.stringify({ type: 'truth', what: 'packet', id: 'p', kind: 'real', hops: v }) ?? ''),
    ),
    { numRuns: 300 },
  );
  t.ok(
    rejected > 1000 && accepted > 10,
    `${rejected} rejected, ${accepted} accepted (unknown types or harmless mutations)`,
  );
});

t.test('link hashes: short, stable, different for different bytes', async (t) => {
  const crypto = getCrypto();
  const a = linkHash(new Uint8Array([1, 2, 3]), crypto);
  t.equal(a.length, LINK_HASH_HEX_CHARS);
  t.match(a, /^[0-9a-f]+$/);
  t.equal(linkHash(new Uint8Array([1, 2, 3]), getCrypto('noble')), a, 'same on both backends');
  t.not(linkHash(new Uint8Array([1, 2, 4]), crypto), a);
});

/**
 * Which proxies CS lists (src/central/proxyAdmission.ts, issue 10 F1/F2): validation, policy, caps,
 * and the reachability probe that must come back from the advertised address.
 */
import t from 'tap';
import { type AdmissionPolicy, OPEN_POLICY, ProxyAdmission } from '../../src/central/proxyAdmission.js';
import { decodeControl } from '../../src/node/wire.js';
import { getCrypto } from '../../src/scramble/crypto/index.js';
import { forgedDescriptor, LOW_ORDER_X25519 } from '../../src/sim/stranger.js';

const crypto = getCrypto('sodium');
const NOW = 1_700_000_000_000;
const key = () => crypto.x25519Base(crypto.randomBytes(32));

function descriptor(address: string, opts: { seed?: Uint8Array; keys?: Uint8Array[]; timestampMs?: number } = {}) {
  const frame = forgedDescriptor(crypto, {
    address,
    seed: opts.seed,
    timestampMs: opts.timestampMs ?? NOW,
    mixKeys: (opts.keys ?? [key(), key()]).map((publicKey, i) => ({ epoch: 100 + i, publicKey })),
  });
  const msg = decodeControl(frame);
  if (msg.type !== 'descriptor') throw new Error('not a descriptor');
  return msg;
}

function admission(policy: Partial<AdmissionPolicy> = {}) {
  return new ProxyAdmission(crypto, { ...OPEN_POLICY, ...policy }, 60_000, NOW);
}

/** Offers a descriptor and answers the probe from `from` (the advertised address unless given). */
function admit(a: ProxyAdmission, d: ReturnType<typeof descriptor>, from?: { host: string; port: number }) {
  const out = a.onDescriptor(d.descriptor, d.signature, NOW);
  if (!('probe' in out)) return out;
  return { probeReply: a.onProbeReply(out.probe.nonce, from ?? out.probe.to, NOW + 10) };
}

t.test('a valid descriptor is listed only after its address answers the probe', async (t) => {
  const a = admission();
  const d = descriptor('127.0.0.1:7001');
  const out = a.onDescriptor(d.descriptor, d.signature, NOW);
  t.ok('probe' in out, 'a probe is asked for');
  if (!('probe' in out)) return;
  t.same(out.probe.to, { host: '127.0.0.1', port: 7001 }, 'to the advertised address');
  t.equal(a.size, 0, 'not listed yet');
  t.equal(a.onProbeReply(out.probe.nonce, { host: '127.0.0.1', port: 7999 }, NOW), 'bad_probe_reply', 'from elsewhere');
  t.equal(a.onProbeReply(crypto.randomBytes(32), out.probe.to, NOW), 'bad_probe_reply', 'another nonce');
  t.equal(a.onProbeReply(out.probe.nonce, out.probe.to, NOW + 6000), 'bad_probe_reply', 'too late');
  const again = a.onDescriptor(d.descriptor, d.signature, NOW);
  t.ok('probe' in again, 'probed again');
  if (!('probe' in again)) return;
  t.equal(a.onProbeReply(again.probe.nonce, again.probe.to, NOW + 5), null);
  t.equal(a.size, 1, 'listed');
  t.ok(a.isListedAddress('127.0.0.1:7001'));
  t.equal(a.onProbeReply(again.probe.nonce, again.probe.to, NOW + 6), 'bad_probe_reply', 'a nonce is good once');
  t.same(a.onDescriptor(d.descriptor, d.signature, NOW + 20), { drop: 'stale', detail: 'descriptor' }, 'a replay');
});

t.test('a proven address is not probed again; a new address is', async (t) => {
  const a = admission();
  const seed = crypto.randomBytes(32);
  t.same(admit(a, descriptor('127.0.0.1:7001', { seed })), { probeReply: null });
  const newer = descriptor('127.0.0.1:7001', { seed, timestampMs: NOW + 1000 });
  t.same(a.onDescriptor(newer.descriptor, newer.signature, NOW + 1000), { listed: true }, 'refreshed at once');
  const moved = descriptor('127.0.0.1:7002', { seed, timestampMs: NOW + 2000 });
  const out = a.onDescriptor(moved.descriptor, moved.signature, NOW + 2000);
  t.ok('probe' in out, 'a new address must answer first');
  t.ok(a.isListedAddress('127.0.0.1:7001'), 'meanwhile the proven one stays listed');
});

t.test('refusals: bad bytes, keys, addresses, signatures, freshness', async (t) => {
  const a = admission();
  const seed = crypto.randomBytes(32);
  const cases: Array<[string, ReturnType<typeof descriptor>, string]> = [
    ['30 KB address', descriptor('x'.repeat(30_000)), 'bad_descriptor'],
    ['host name', descriptor('proxy.example:7001'), 'bad_descriptor'],
    ['low-order mix key', descriptor('127.0.0.1:7001', { keys: [LOW_ORDER_X25519] }), 'bad_descriptor'],
    ['four mix keys', descriptor('127.0.0.1:7001', { keys: [key(), key(), key(), key()] }), 'bad_descriptor'],
    ['old', descriptor('127.0.0.1:7001', { seed, timestampMs: NOW - 10 * 60_000 }), 'stale'],
  ];
  for (const [name, d, reason] of cases) {
    const out = a.onDescriptor(d.descriptor, d.signature, NOW);
    t.equal('drop' in out ? out.drop : 'accepted', reason, name);
  }
  const d = descriptor('127.0.0.1:7001');
  const forged = d.signature.slice();
  forged[0] = (forged[0] as number) ^ 1;
  const out = a.onDescriptor(d.descriptor, forged, NOW);
  t.equal('drop' in out ? out.drop : 'accepted', 'bad_signature');
  const junk = a.onDescriptor(crypto.randomBytes(50), d.signature, NOW);
  t.equal('drop' in junk ? junk.drop : 'accepted', 'bad_descriptor');
  t.equal(a.size, 0);
});

t.test('caps: per IP and in total; the allow-list', async (t) => {
  const a = admission({ maxProxiesPerIp: 2, maxProxies: 3 });
  t.same(admit(a, descriptor('10.0.0.1:1')), { probeReply: null });
  t.same(admit(a, descriptor('10.0.0.1:2')), { probeReply: null });
  t.same(a.onDescriptor(...args(descriptor('10.0.0.1:3'))), { drop: 'proxy_ip_cap' }, 'a third on one IP');
  t.same(admit(a, descriptor('10.0.0.2:1')), { probeReply: null });
  t.same(a.onDescriptor(...args(descriptor('10.0.0.3:1'))), { drop: 'proxy_cap' }, 'a fourth in all');
  t.equal(a.size, 3);

  const seed = crypto.randomBytes(32);
  const allowed = hexKey(seed);
  const b = admission({ allow: new Set([allowed]) });
  t.same(b.onDescriptor(...args(descriptor('10.0.0.1:1'))), { drop: 'proxy_not_allowed' }, 'not on the list');
  t.same(admit(b, descriptor('10.0.0.1:2', { seed })), { probeReply: null }, 'on the list');
  t.equal(b.size, 1);

  const c = admission({ maxProxiesPerIp: 1 });
  const v6 = descriptor('[2001:db8::1]:7001');
  t.same(admit(c, v6), { probeReply: null });
  t.same(c.onDescriptor(...args(descriptor('[2001:db8::2]:7001'))), { drop: 'proxy_ip_cap' }, 'IPv6 counted per /64');
  t.ok('probe' in c.onDescriptor(...args(descriptor('[2001:db8:0:1::2]:7001'))), 'another /64 is another IP');

  // Stale proxies leave; probes cost an IP at most its budget.
  t.equal(a.expire(NOW + 61_000), true);
  t.equal(a.size, 0);
  const many = admission();
  let limited = 0;
  for (let i = 0; i < 40; i++) {
    const out = many.onDescriptor(...args(descriptor(`10.9.9.9:${1000 + i}`)));
    if ('drop' in out && out.drop === 'rate_limited') limited++;
  }
  t.ok(limited >= 15, `probes to one IP are rate limited (${limited} of 40 refused)`);
});

function args(d: ReturnType<typeof descriptor>): [Uint8Array, Uint8Array, number] {
  return [d.descriptor, d.signature, NOW];
}
function hexKey(seed: Uint8Array): string {
  return Buffer.from(crypto.ed25519PublicKey(seed)).toString('hex');
}

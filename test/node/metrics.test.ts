import http from 'node:http';
import t from 'tap';
import { createMetrics, serveMetrics } from '../../src/node/metrics.js';

function get(port: number, urlPath: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (s: string) => {
          body += s;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
      })
      .on('error', reject);
  });
}

t.test('GET /metrics over real HTTP shows counters with the role label', async (t) => {
  const m = createMetrics('proxy');
  m.packetsIn.inc({ kind: 'relay' }, 3);
  m.packetsOut.inc({ kind: 'relay' }, 2);
  m.drops.inc({ reason: 'bad_mac' });
  m.replayHits.inc();
  m.queueDepth.set(7);
  m.delayMs.observe(42);
  m.mailboxEntries.set(5);

  const server = await serveMetrics(m, '127.0.0.1', 0);
  t.teardown(() => server.close());
  t.ok(server.port > 0, 'ephemeral port reported');

  const res = await get(server.port, '/metrics');
  t.equal(res.status, 200);
  t.equal(res.type, m.registry.contentType);
  t.match(res.body, /mixd_packets_in_total\{kind="relay",role="proxy"\} 3/);
  t.match(res.body, /mixd_packets_out_total\{kind="relay",role="proxy"\} 2/);
  t.match(res.body, /mixd_drops_total\{reason="bad_mac",role="proxy"\} 1/);
  t.match(res.body, /mixd_replay_hits_total\{role="proxy"\} 1/);
  t.match(res.body, /mixd_queue_depth\{role="proxy"\} 7/);
  t.match(res.body, /mixd_delay_milliseconds_bucket\{le="50",role="proxy"\} 1/);
  t.match(res.body, /mixd_delay_milliseconds_bucket\{le="25",role="proxy"\} 0/);
  t.match(res.body, /mixd_mailbox_entries\{role="proxy"\} 5/);

  m.packetsIn.inc({ kind: 'relay' });
  t.match((await get(server.port, '/metrics')).body, /mixd_packets_in_total\{kind="relay",role="proxy"\} 4/, 'live');
  t.equal((await get(server.port, '/')).status, 404);
  t.equal((await get(server.port, '/metrics/x')).status, 404);
});

t.test('two daemons in one process keep separate registries', async (t) => {
  const a = createMetrics('central');
  const b = createMetrics('source');
  a.replayHits.inc(2);
  t.equal((await a.snapshot()).replayHits, 2);
  t.equal((await b.snapshot()).replayHits, 0);
});

t.test('snapshot sums counters by label into plain numbers', async (t) => {
  const m = createMetrics('central');
  m.packetsIn.inc({ kind: 'relay' }, 2);
  m.packetsIn.inc({ kind: 'cover' });
  m.drops.inc({ reason: 'replay' }, 4);
  m.queueDepth.set(3);
  m.delayMs.observe(10);
  m.delayMs.observe(30);
  m.internalErrors.inc({ where: 'timer' });
  const snap = await m.snapshot();
  t.same(snap, {
    packetsIn: { relay: 2, cover: 1 },
    packetsOut: {},
    drops: { replay: 4 },
    replayHits: 0,
    queueDepth: 3,
    delayMs: { count: 2, sum: 40 },
    mailboxEntries: 0,
    internalErrors: { timer: 1 },
  });
  t.same(JSON.parse(JSON.stringify(snap)), snap, 'JSON-safe');
});

t.test('serveMetrics rejects when the port is taken', async (t) => {
  const m = createMetrics('proxy');
  const first = await serveMetrics(m, '127.0.0.1', 0);
  t.teardown(() => first.close());
  await t.rejects(serveMetrics(m, '127.0.0.1', first.port), { code: 'EADDRINUSE' });
});

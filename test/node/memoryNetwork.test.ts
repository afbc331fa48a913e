import t from 'tap';
import { AddressInUse, FIRST_EPHEMERAL_PORT, MemoryNetwork } from '../../src/node/memoryNetwork.js';
import type { Peer, SentDatagram, Transport } from '../../src/node/transport.js';
import { VIRTUAL_START_MS, VirtualClock } from '../../src/node/virtualClock.js';

interface Endpoint {
  t: Transport;
  got: Array<{ text: string; from: Peer; at: number }>;
}

async function world(options: ConstructorParameters<typeof MemoryNetwork>[1] = {}) {
  const clock = new VirtualClock();
  const net = new MemoryNetwork(clock, options);
  const endpoint = async (host = '127.0.0.1', port = 0): Promise<Endpoint> => {
    const got: Endpoint['got'] = [];
    const tr = await net.bind({ host, port }, (bytes, from) =>
      got.push({ text: Buffer.from(bytes).toString(), from, at: clock.preciseNow() - VIRTUAL_START_MS }),
    );
    return { t: tr, got };
  };
  return { clock, net, endpoint };
}

const bytes = (s: string) => new Uint8Array(Buffer.from(s));

t.test('binding: port 0 gets the next free port; a taken address is refused', async (t) => {
  const { net, endpoint } = await world();
  const a = await endpoint();
  const b = await endpoint();
  const fixed = await endpoint('127.0.0.1', FIRST_EPHEMERAL_PORT + 2);
  const c = await endpoint();
  t.same(
    [a, b, fixed, c].map((e) => e.t.local.port),
    [FIRST_EPHEMERAL_PORT, FIRST_EPHEMERAL_PORT + 1, FIRST_EPHEMERAL_PORT + 2, FIRST_EPHEMERAL_PORT + 3],
  );
  t.equal((await endpoint('::1')).t.local.port, FIRST_EPHEMERAL_PORT, 'ports are per host');
  await t.rejects(
    net.bind(a.t.local, () => {}),
    AddressInUse,
  );
  await a.t.close();
  const again = await net.bind(a.t.local, () => {});
  t.same(again.local, a.t.local, 'a closed address can be bound again (a restarted node)');
  t.equal(net.addresses().length, 5);
});

t.test('delivery: after the link latency, with the sender as `from`, as a copy', async (t) => {
  const { clock, net, endpoint } = await world({ latencyMs: 7 });
  const a = await endpoint();
  const b = await endpoint();
  const buf = bytes('hello');
  a.t.send(b.t.local, buf);
  buf.fill(0);
  await clock.advance(6);
  t.same(b.got, [], 'not before the latency');
  await clock.advance(1);
  t.same(
    b.got,
    [{ text: 'hello', from: a.t.local, at: 7 }],
    'the bytes as sent, even though the sender reused its buffer',
  );
  net.setLink(a.t.local, b.t.local, { latencyMs: 50 });
  a.t.send(b.t.local, bytes('slow'));
  b.t.send(a.t.local, bytes('fast back'));
  await clock.advance(100);
  t.same([b.got.at(-1)?.at, a.got.at(-1)?.at], [57, 14], 'a link setting applies in one direction only');
  a.t.send({ host: '127.0.0.1', port: 9 }, bytes('to nobody'));
  await b.t.close();
  a.t.send(b.t.local, bytes('to a closed transport'));
  b.t.send(a.t.local, bytes('from a closed transport'));
  await clock.advance(100);
  t.equal(net.stats.unroutable, 2, 'datagrams to nobody vanish, counted');
  t.equal(a.got.length, 1, 'a closed transport sends nothing');
  t.equal(net.stats.sent, 5);
  t.equal(net.stats.delivered, 3);
});

t.test('loss and jitter come from the seeded generator: same seed, same fate', async (t) => {
  const run = async (seed: number) => {
    const { clock, endpoint } = await world({ latencyMs: 10, jitterMs: 20, loss: 0.3, seed });
    const a = await endpoint();
    const b = await endpoint();
    for (let i = 0; i < 1000; i++) a.t.send(b.t.local, bytes(String(i)));
    await clock.advance(1000);
    return b.got.map((g) => `${g.text}@${g.at.toFixed(6)}`);
  };
  const first = await run(1);
  t.ok(first.length > 620 && first.length < 780, `${first.length} of 1000 arrived at 30% loss`);
  const times = first.map((s) => Number(s.split('@')[1]));
  t.ok(
    times.every((x) => x >= 10 && x < 30),
    'every delay within latency + [0, jitter)',
  );
  t.ok(new Set(times).size > 600, 'jitter varies');
  t.ok(
    first.some((s, i) => i > 0 && Number(s.split('@')[0]) < Number((first[i - 1] as string).split('@')[0])),
    'jitter reorders, as UDP may',
  );
  t.same(await run(1), first, 'the same seed gives the same arrivals');
  t.not((await run(2)).join(), first.join(), 'another seed gives others');
  t.throws(() => new MemoryNetwork(new VirtualClock(), { loss: 2 }), RangeError);
});

t.test('tap: sees every datagram sent, when it is sent, whatever happens to it', async (t) => {
  const { clock, net, endpoint } = await world({ latencyMs: 5, loss: 1 });
  const a = await endpoint();
  const b = await endpoint();
  const seen: SentDatagram[] = [];
  const off = net.tap((d) => seen.push(d));
  await clock.advance(3);
  a.t.send(b.t.local, bytes('lost anyway'));
  t.equal(seen.length, 1);
  t.same(
    { time: (seen[0] as SentDatagram).timeMs - VIRTUAL_START_MS, from: seen[0]?.from, to: seen[0]?.to },
    { time: 3, from: a.t.local, to: b.t.local },
  );
  t.equal(Buffer.from((seen[0] as SentDatagram).bytes).toString(), 'lost anyway');
  off();
  net.setLink(a.t.local, b.t.local, { loss: 0, jitterMs: 2 });
  const arrived: SentDatagram[] = [];
  const offArrivals = net.arrivals((d) => arrived.push(d));
  a.t.send(b.t.local, bytes('arrives'));
  await clock.advance(10);
  t.equal(arrived.length, 1, 'arrivals: the delivered datagram, not the lost ones');
  const at = (arrived[0] as SentDatagram).timeMs - VIRTUAL_START_MS;
  t.ok(at >= 3 + 5 && at < 3 + 5 + 2, `stamped with its arrival time ${at} (sent at 3, latency 5, jitter < 2)`);
  t.same(arrived[0]?.to, b.t.local);
  offArrivals();
  a.t.send(b.t.local, bytes('unobserved'));
  await clock.advance(10);
  t.equal(seen.length, 1, 'unsubscribed');
  t.equal(arrived.length, 1, 'arrivals unsubscribed');
  t.equal(b.got.length, 2);
  t.equal(net.stats.lost, 1);
});

t.test('intercept: drop, delay (reorder), hold and release (hold-and-flush)', async (t) => {
  const { clock, net, endpoint } = await world({ latencyMs: 1 });
  const a = await endpoint();
  const b = await endpoint();
  const c = await endpoint();
  const remove = net.intercept((d) => {
    const text = Buffer.from(d.bytes).toString();
    if (text.startsWith('drop')) return 'drop';
    if (text.startsWith('slow')) return { delayMs: 100 };
    if (d.from.port === c.t.local.port) return 'hold';
    return 'pass';
  });
  a.t.send(b.t.local, bytes('slow first'));
  a.t.send(b.t.local, bytes('fast second'));
  a.t.send(b.t.local, bytes('drop me'));
  for (let i = 0; i < 3; i++) c.t.send(b.t.local, bytes(`held ${i}`));
  await clock.advance(500);
  t.same(
    b.got.map((g) => g.text),
    ['fast second', 'slow first'],
    'dropped and held ones do not arrive; a delay reorders',
  );
  t.equal(net.stats.dropped, 1);
  t.same(
    net.held().map((d) => Buffer.from(d.bytes).toString()),
    ['held 0', 'held 1', 'held 2'],
  );
  t.equal(
    net.release((d) => Buffer.from(d.bytes).toString() !== 'held 1'),
    2,
  );
  await clock.advance(1);
  t.same(
    b.got.slice(2).map((g) => [g.text, g.at]),
    [
      ['held 0', 501],
      ['held 2', 501],
    ],
    'released together, in the order held, one link latency after the release',
  );
  remove();
  c.t.send(b.t.local, bytes('after removal'));
  t.equal(net.release(), 1, 'the last held one');
  await clock.advance(5);
  t.same(
    b.got.slice(4).map((g) => g.text),
    ['after removal', 'held 1'],
    'without the interceptor datagrams pass; the released one is behind what was sent before its release',
  );
});

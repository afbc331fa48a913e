/**
 * One test body, two worlds (model: wireguard-go device_test genTestPair): the same scenario on
 * the memory network in virtual time and on real UDP sockets in real time. If the roles behaved
 * differently on either, one of the two would fail.
 */
import t from 'tap';
import { NO_COVER } from '../../src/node/securityFloor.js';
import { createTestnet, type World } from '../../src/sim/testnet.js';
import type { ReceivedDatagram } from '../../src/source/sourceNode.js';

const text = (d: ReceivedDatagram) => Buffer.from(d.data).toString();

for (const world of ['virtual', 'real'] as World[]) {
  t.test(`${world} world: a unicast and a group datagram, each delivered exactly once`, async (t) => {
    const net = await createTestnet(t, {
      world,
      proxies: 3,
      sources: 4,
      network: { ...NO_COVER, meanDelayMs: 10, maxDelayMs: 200 },
      insecureNoCover: true,
    });
    const got = net.sources.map(() => [] as ReceivedDatagram[]);
    for (const [i, d] of net.sources.entries()) d.source?.subscribe((x) => got[i]?.push(x));
    const allAcked = async () =>
      net.until(async () => (await net.central.ctx.metrics.snapshot()).mailboxEntries === 0, {
        limitMs: 60_000,
        what: 'every delivery acknowledged',
      });

    net.source(0).sendUnicast(net.source(1).address, Buffer.from('one to one'));
    await net.until(() => got[1]?.some((d) => text(d) === 'one to one') ?? false, {
      limitMs: 60_000,
      what: 'the unicast datagram',
    });

    await net.formGroups([{ name: 'trio', members: [0, 1, 2] }], 120_000);
    const sent = net.source(2).groups.send('trio', Buffer.from('one to the group'));
    t.same(sent, { packets: 1, recipients: 2 }, 'one fan-out packet for two recipients');
    await net.until(() => [0, 1].every((i) => got[i]?.some((d) => text(d) === 'one to the group')), {
      limitMs: 60_000,
      what: 'the group datagram at members 0 and 1',
    });
    // With nothing left unacknowledged at CS, nothing more can arrive anywhere: the counts are final.
    await allAcked();
    const copies = (i: number, s: string) => got[i]?.filter((d) => text(d) === s) ?? [];
    t.equal(copies(1, 'one to one').length, 1, 'unicast: exactly once');
    t.equal(copies(1, 'one to one')[0]?.kind, 'unicast');
    for (const i of [0, 1]) {
      t.equal(copies(i, 'one to the group').length, 1, `group: member ${i} exactly once`);
      t.equal(copies(i, 'one to the group')[0]?.from, net.source(2).address, 'from the sender');
    }
    t.equal(copies(2, 'one to the group').length, 0, 'the sender does not get its own datagram');
    t.equal(got[3]?.length, 0, 'the outsider got nothing at all');
    t.equal(net.internalErrors.length, 0, 'no internal error anywhere');
  });
}

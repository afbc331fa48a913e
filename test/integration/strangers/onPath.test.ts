/**
 * F13 and F12 (issue 10): an attacker on the path between a source and CS (here a UDP relay the
 * source is configured to reach CS through, like a NAT box the attacker owns).
 * - F13: a spoofed `error` used to force re-registration, and forwarding a copy of a fresh keepalive
 *   from another address before the original moved the source's session (and its deliveries) there.
 *   Now CS's control frames are boxed, and keepalives carry the cookie of the address CS saw.
 * - F12: after a restart a node accepted any old signed directory, and nothing stopped a directory
 *   that switched cover and delays off. A source that reaches "CS" through the attacker is offered
 *   a correctly signed directory issued 11 minutes ago, then a fresh one without cover: it refuses both.
 * Real daemons with real sockets, in this process.
 */
import t from 'tap';
import type { Daemon } from '../../../src/daemon/startDaemon.js';
import { decodePage, encodePage, signDocument } from '../../../src/node/directory.js';
import { NO_COVER } from '../../../src/node/securityFloor.js';
import { directoryRequestFrame, encodeControl } from '../../../src/node/wire.js';
import { getCrypto } from '../../../src/scramble/crypto/index.js';
import { waitFor } from '../../../src/sim/processes.js';
import { decodeOrNull, Stranger } from '../../../src/sim/stranger.js';
import { controlled, createTestnet, FAST_TEST_NETWORK } from '../../../src/sim/testnet.js';
import type { SourceNode } from '../../../src/source/sourceNode.js';
import { linkFrame } from './fixtures.js';

type Status = { registered: boolean; proxies: number; metrics: { drops: Record<string, number> } };

t.test('an on-path attacker cannot force re-registration, move a session, or feed an old directory', async (t) => {
  const crypto = getCrypto('sodium');
  const net = await createTestnet(null, {
    world: 'real',
    controlSockets: true,
    proxies: 2,
    sources: 1,
    network: FAST_TEST_NETWORK,
    insecureNoCover: true,
  });
  t.teardown(() => net.stop());
  const csPort = net.central.ctx.transport.local.port;

  // The relay: everything the victim sends "CS" goes on to CS, and back; the attacker sees it all.
  const relay = await Stranger.open();
  const copier = await Stranger.open();
  t.teardown(() => Promise.all([relay.close(), copier.close()]));
  let victimPort = 0;
  let hijack: 'off' | 'next' | 'dropping' = 'off';
  const fromVictim: Array<{ type: string; atMs: number }> = [];
  relay.onMessage((r) => {
    if (r.from.port === csPort) {
      if (victimPort) relay.send(r.bytes, victimPort);
      return;
    }
    victimPort = r.from.port;
    const type = decodeOrNull(r.bytes)?.type ?? 'other';
    fromVictim.push({ type, atMs: Date.now() });
    if (type === 'keepalive' && hijack === 'next') {
      // Forward a copy from another address first, then the original; then hold keepalives back a while.
      copier.send(r.bytes, csPort);
      hijack = 'dropping';
      setTimeout(() => {
        hijack = 'off';
      }, 1500);
    } else if (type === 'keepalive' && hijack === 'dropping') return;
    relay.send(r.bytes, csPort);
  });
  const victimDaemon = await net.addSource('victim', { central: { host: '127.0.0.1', port: relay.port } });
  const victim = controlled(victimDaemon);
  await waitFor('the victim to register through the relay', async () => {
    const s = await victim.call<Status>('status');
    return s.registered && s.proxies === 2;
  });

  await t.test('F13: a spoofed error does not make the source register again', async (t) => {
    const injectedAt = Date.now();
    relay.send(linkFrame({ type: 'error', code: 'not_registered', text: 'register first' }), victimPort);
    await waitFor('the victim to refuse the error (or register again)', async () => {
      const s = await victim.call<Status>('status');
      return (
        (s.metrics.drops.unauthenticated_control ?? 0) >= 1 ||
        fromVictim.some((m) => m.type === 'hello' && m.atMs >= injectedAt)
      );
    });
    t.same(
      fromVictim.filter((m) => m.atMs >= injectedAt && m.type === 'hello'),
      [],
      'no hello after the spoofed error',
    );
    t.ok((await victim.call<Status>('status')).registered, 'still registered');
  });

  await t.test('F13: a keepalive forwarded first from elsewhere does not move the session', async (t) => {
    const got: string[] = [];
    const target = victimDaemon.source as SourceNode;
    target.subscribe((d) => got.push(Buffer.from(d.data).toString()));
    hijack = 'next';
    await waitFor('the relay to copy a keepalive', () => hijack === 'dropping');
    const sender = (net.sources[0] as Daemon).source as SourceNode;
    sender.sendUnicast(target.address, Buffer.from('for the victim only'));
    await waitFor('the message to reach the victim', () => got.includes('for the victim only'), 20_000);
    const atCopier = copier.controls().map((c) => c.msg.type);
    t.notOk(atCopier.includes('delivery'), `the copier got no delivery (got: ${atCopier.join(', ') || 'nothing'})`);
    const cs = await controlled(net.central).call<Status>('status');
    t.ok((cs.metrics.drops.bad_cookie ?? 0) >= 1, 'CS saw a keepalive with the cookie of another address');
  });

  await t.test('F12: an old signed directory, and a fresh one without cover, are refused', async (t) => {
    // A real page from CS, re-signed with CS's own key (as if recorded long ago, or made by a bad CS).
    const asker = await Stranger.open();
    t.teardown(() => asker.close());
    asker.send(directoryRequestFrame(0, 0), csPort);
    const answer = decodeOrNull((await asker.next(() => true)).bytes);
    if (answer?.type !== 'dirResponse') throw new Error('no directory page');
    const seed = net.central.ctx.identity.seed;
    const page = decodePage(answer.document);
    const signed = (p: typeof page) => {
      const document = encodePage(p);
      return encodeControl({
        type: 'dirResponse',
        document,
        signature: signDocument(crypto, 'directory', seed, document),
      });
    };
    const old = signed({ ...page, issuedAtMs: Date.now() - 11 * 60_000 });
    const noCover = signed({
      ...page,
      issuedAtMs: Date.now(),
      params: { ...page.params, ...NO_COVER, meanDelayMs: 0 },
    });

    const fakeCs = await Stranger.open();
    t.teardown(() => fakeCs.close());
    let offer = old;
    fakeCs.onMessage((r) => {
      const m = decodeOrNull(r.bytes);
      if (m?.type === 'dirRequest') fakeCs.send(offer, r.from.port);
    });
    // This source has not opted out of the security floor.
    const fresh: Daemon = await net.addSource('fresh', {
      central: { host: '127.0.0.1', port: fakeCs.port },
      insecureNoCover: false,
    });
    const freshNode = controlled(fresh);
    const accepted = () => fakeCs.controls().some((c) => c.msg.type === 'hello');
    await waitFor('the old directory to be refused (or accepted)', async () => {
      const s = await freshNode.call<Status>('status');
      return (s.metrics.drops.directory_too_old ?? 0) >= 1 || accepted();
    });
    offer = noCover;
    await waitFor('the directory without cover to be refused (or accepted)', async () => {
      const s = await freshNode.call<Status>('status');
      return (s.metrics.drops.insecure_directory ?? 0) >= 1 || accepted();
    });
    t.notOk(accepted(), 'the source never said hello: it accepted neither directory');
    t.equal((await freshNode.call<Status>('status')).proxies, 0, 'it knows no proxy');
  });
});

/**
 * F2 (issue 10): three forged descriptors with 30 KB addresses used to push the signed directory past
 * the UDP limit, so that CS answered no directory request and nobody could join; the proxy count was
 * uncapped; and a 3-byte dirRequest drew a 60 KB answer. Here a stranger speaks the wire protocol to a
 * real CS (in this process, real sockets): oversized and unreachable descriptors are never listed,
 * one IP is capped, a directory of several pages is assembled by a source that joins afterwards, and
 * short directory requests get nothing back.
 */
import t from 'tap';
import { DIRECTORY_FRAME_BYTES } from '../../../src/node/limits.js';
import { directoryRequestFrame, encodeControl } from '../../../src/node/wire.js';
import { getCrypto } from '../../../src/scramble/crypto/index.js';
import { freePort, waitFor } from '../../../src/sim/processes.js';
import { forgedDescriptor, Stranger } from '../../../src/sim/stranger.js';
import { controlled, createTestnet, FAST_TEST_NETWORK } from '../../../src/sim/testnet.js';

type Status = {
  proxies: number;
  epoch: number;
  directoryPages?: number;
  registered?: boolean;
  metrics: { drops: Record<string, number> };
};

const PER_IP = 14;

t.test('a stranger cannot blind the directory or grow it past its caps', async (t) => {
  const crypto = getCrypto('sodium');
  const net = await createTestnet(null, {
    world: 'real',
    controlSockets: true,
    proxies: 1,
    sources: 0,
    network: FAST_TEST_NETWORK,
    insecureNoCover: true,
    admission: { allow: 'any', maxProxies: 1000, maxProxiesPerIp: PER_IP },
  });
  t.teardown(() => net.stop());
  const cs = controlled(net.central);
  const csPort = cs.ready.listen.port;
  await waitFor('the real proxy listed', async () => (await cs.call<Status>('status')).proxies === 1);
  const epoch = (await cs.call<Status>('status')).epoch;
  const keys = () =>
    [epoch, epoch + 1].map((e) => ({ epoch: e, publicKey: crypto.x25519Base(crypto.randomBytes(32)) }));

  // Three descriptors with 30 KB addresses (the old blinding attack), and one whose address never answers.
  const attacker = await Stranger.open();
  t.teardown(() => attacker.close());
  for (let i = 0; i < 3; i++) {
    attacker.send(forgedDescriptor(crypto, { address: `10.0.0.${i}:${'9'.repeat(30_000)}`, mixKeys: keys() }), csPort);
  }
  const silent = await freePort();
  attacker.send(forgedDescriptor(crypto, { address: `127.0.0.1:${silent}`, mixKeys: keys() }), csPort);

  // Fake proxies that do answer the probe, up to the per-IP cap (the real proxy is on 127.0.0.1 too), and one more.
  const fakes: Stranger[] = [];
  for (let i = 0; i < PER_IP; i++) {
    const s = await Stranger.open({ keepReceived: false });
    s.answerProbes();
    fakes.push(s);
  }
  t.teardown(() => Promise.all(fakes.map((f) => f.close())));
  for (const f of fakes) f.send(forgedDescriptor(crypto, { address: f.address, mixKeys: keys() }), csPort);
  await waitFor('CS to list the fakes up to the cap', async () => {
    const s = await cs.call<Status>('status');
    return s.proxies === PER_IP || s.proxies > PER_IP + 1;
  });

  // A source that joins now assembles every page and registers (before this fix, the 30 KB
  // addresses made the directory too large to send and nobody could join).
  const late = controlled(await net.addSource('late'));
  const lateStatus = await waitFor('the late source to register with the whole directory', async () => {
    const s = await late.call<Status>('status');
    return s.registered && s.proxies >= 1 ? s : undefined;
  });
  t.equal(lateStatus.proxies, PER_IP, 'it knows every listed proxy, the unreachable one not among them');
  const st = await cs.call<Status>('status');
  t.equal(st.proxies, PER_IP, 'CS lists the real proxy and the fakes up to the per-IP cap');
  t.equal(st.metrics.drops.bad_descriptor, 3, 'the three 30 KB addresses were refused');
  t.equal(st.metrics.drops.proxy_ip_cap, 1, 'the fake one past the per-IP cap was refused');
  t.ok((st.directoryPages ?? 0) >= 3, `the directory takes ${st.directoryPages} pages`);

  // Directory requests smaller than a page answer get no answer at all (a 3-byte one used to get the directory).
  const asker = await Stranger.open();
  t.teardown(() => asker.close());
  asker.send(new Uint8Array([2, 1, 1]), csPort);
  asker.send(encodeControl({ type: 'dirRequest', page: 0, issuedAtMs: 0 }), csPort);
  await waitFor('CS to count the short requests', async () => {
    const s = await cs.call<Status>('status');
    return (s.metrics.drops.short_request ?? 0) >= 1 && (s.metrics.drops.control_truncated ?? 0) >= 1;
  });
  // A padded one is answered, with no more bytes than it had.
  asker.send(directoryRequestFrame(0, 0), csPort);
  const answer = await asker.next(() => true);
  t.ok(answer.bytes.length <= DIRECTORY_FRAME_BYTES, `a page answer is ${answer.bytes.length} bytes`);
  t.equal(asker.received.length, 1, 'only the padded request was answered');
});

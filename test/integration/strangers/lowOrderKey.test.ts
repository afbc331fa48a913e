/**
 * F1 (issue 10): one datagram used to crash every source with cover on. CS listed any self-signed
 * descriptor; a mix key that is a low-order point made route building throw an untyped error inside
 * the cover timers. Here a stranger registers such a descriptor with a real CS (answering CS's
 * reachability probe, as the owner of an address can), while a real source sends cover at the secure
 * defaults: the descriptor is refused, the source keeps sending cover through directories issued
 * after the attack, and nobody counts an internal error.
 */
import t from 'tap';
import { getCrypto } from '../../../src/scramble/crypto/index.js';
import { startCluster } from '../../../src/sim/processCluster.js';
import { waitFor } from '../../../src/sim/processes.js';
import { forgedDescriptor, LOW_ORDER_X25519, Stranger } from '../../../src/sim/stranger.js';

type Status = {
  proxies: number;
  epoch?: number;
  directoryCheckedAtMs?: number;
  cover?: { drop: number; loop: number };
  metrics: { drops: Record<string, number> };
};

t.test('a low-order mix key in a descriptor crashes nobody', async (t) => {
  const crypto = getCrypto('sodium');
  // Default network parameters: delays, cover and loops on (no opt-out).
  const cluster = await startCluster(2, 1);
  t.teardown(() => cluster.stop());
  const source = cluster.sources[0] as (typeof cluster.sources)[0];
  const cs = await cluster.central.call<Status>('status');
  const before = await waitFor('the source to send cover', async () => {
    const st = await source.call<Status>('status');
    return (st.cover?.drop ?? 0) + (st.cover?.loop ?? 0) > 0 ? st : undefined;
  });

  const attacker = await Stranger.open();
  t.teardown(() => attacker.close());
  attacker.answerProbes();
  const epoch = cs.epoch as number;
  attacker.send(
    forgedDescriptor(crypto, {
      address: attacker.address,
      mixKeys: [epoch, epoch + 1].map((e) => ({ epoch: e, publicKey: LOW_ORDER_X25519 })),
    }),
    cluster.central.ready.listen.port,
  );

  // CS has dealt with the descriptor: refused it (or, as before this fix, listed it).
  const csAfter = await waitFor('CS to handle the descriptor', async () => {
    const st = await cluster.central.call<Status>('status');
    return (st.metrics.drops.bad_descriptor ?? 0) >= 1 || st.proxies > 2 ? st : undefined;
  });
  // The source checks the directory again after CS saw the descriptor, and goes on sending cover.
  const refusedAt = Date.now();
  const sentBefore = (before.cover?.drop ?? 0) + (before.cover?.loop ?? 0);
  const after = await waitFor('the source to check the directory after the attack and keep sending cover', async () => {
    const st = await source.call<Status>('status');
    const sent = (st.cover?.drop ?? 0) + (st.cover?.loop ?? 0);
    return (st.directoryCheckedAtMs ?? 0) > refusedAt && sent >= sentBefore + 3 ? st : undefined;
  });
  t.equal(after.proxies, 2, 'the source routes through the real proxies only');
  t.equal(csAfter.proxies, 2, 'CS lists only the two real proxies');
  t.equal(csAfter.metrics.drops.bad_descriptor, 1, 'CS counted the descriptor as bad');
  for (const n of [cluster.central, ...cluster.proxies, source]) {
    t.equal(n.proc.exitCode, null, `${n.ready.role} ${n.ready.listen.port} is running`);
    const st = await n.call<Status>('status');
    t.equal(st.metrics.drops.internal_error ?? 0, 0, `${n.ready.role} counted no internal error`);
  }
});

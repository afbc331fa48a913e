import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { NO_COVER } from '../../src/node/securityFloor.js';
import { startLocalNetwork } from '../../src/sim/network.js';
import { formGroups, localMember } from '../../src/sim/workload.js';
import type { SourceNode } from '../../src/source/sourceNode.js';

// Real daemons and UDP sockets in this process, with 3-second key epochs.
t.test('traffic keeps flowing across key epochs; old keys are erased; group keys rotate', async (t) => {
  const net = await startLocalNetwork({
    proxies: 3,
    sources: 3,
    network: { ...NO_COVER, epochSeconds: 3, graceSeconds: 1, meanDelayMs: 20, maxDelayMs: 400 },
    insecureNoCover: true,
    extras: { inviteKdf: { opsLimit: 1, memLimitBytes: 8 * 1024 * 1024 } },
    groupRotationSeconds: 2,
  });
  t.teardown(() => net.stop());
  const [a, b, c] = net.sources.map((d) => d.source as SourceNode) as [SourceNode, SourceNode, SourceNode];
  const got: string[] = [];
  b.subscribe((d) => got.push(Buffer.from(d.data).toString()));

  await formGroups([a, b, c].map(localMember), [{ name: 'rotating', members: [0, 1, 2] }]);
  const startEpoch = Math.floor(Date.now() / 3000);
  const sent: string[] = [];
  const until = Date.now() + 8000;
  let i = 0;
  while (Date.now() < until) {
    const text = `across-${i++}`;
    sent.push(text);
    a.sendUnicast(b.address, Buffer.from(text));
    c.groups.send('rotating', Buffer.from(`group-${text}`));
    await new Promise((r) => setTimeout(r, 400));
  }
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && sent.some((s) => !got.includes(s) || !got.includes(`group-${s}`))) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const endEpoch = Math.floor(Date.now() / 3000);
  t.ok(endEpoch - startEpoch >= 2, `crossed ${endEpoch - startEpoch} epoch boundaries`);
  t.same(
    sent.filter((s) => !got.includes(s)),
    [],
    'every unicast datagram arrived',
  );
  t.same(
    sent.filter((s) => !got.includes(`group-${s}`)),
    [],
    'every group datagram arrived, across group key rotations too',
  );

  const groupEpoch = b.groups.list()[0]?.epoch ?? 0;
  t.ok(groupEpoch >= 2, `the admin rotated the group key (epoch ${groupEpoch})`);

  for (const d of [net.central, ...net.proxies]) {
    const keys = readdirSync(join(d.ctx.dataDir, 'keys')).filter((f) => f.startsWith('mix-'));
    const epochs = keys.map((f) => Number(f.slice(4, -4)));
    t.ok(Math.min(...epochs) >= endEpoch - 1, `${d.role} holds only recent mix keys (${epochs.join(', ')})`);
    t.notOk(existsSync(join(d.ctx.dataDir, 'keys', `mix-${startEpoch - 1}.key`)), 'the oldest key is gone');
  }
});

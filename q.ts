import { startCluster } from './src/sim/processCluster.ts';
import { collect, text, waitFor } from './src/sim/processes.ts';
const cluster = await startCluster(3, 2, [], { meanDelayMs: 0 });
const [a, b] = cluster.sources as any[];
const inbox = await collect(b);
const ca = await a.control();
const out: string[] = [];
for (let i = 0; i < 15; i++) {
  const id = `lat-${i}`; const t0 = performance.now();
  const r = await ca.call('sendTo', { to: cluster.addresses[1], data: Buffer.from(id).toString('base64') });
  const t1 = performance.now();
  await waitFor('x', () => inbox.items.some((d: any) => text(d) === id), 10000);
  out.push(`${(t1-t0).toFixed(1)}/${(performance.now()-t0).toFixed(1)}`);
}
console.log(out.join(' '));
ca.close(); inbox.close(); await cluster.stop();

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, initNode, initNodeAsync, type NodeProcess, startNode, waitFor } from './processes.js';

/** CS + proxies + sources as separate OS processes on 127.0.0.1. */
export interface Cluster {
  root: string;
  centralDir: string;
  centralKey: string;
  centralAddr: string;
  central: NodeProcess;
  proxies: NodeProcess[];
  proxyDirs: string[];
  sources: NodeProcess[];
  sourceDirs: string[];
  addresses: string[];
  stop(): Promise<void>;
}

export async function startCluster(
  nProxies: number,
  nSources: number,
  centralExtra: string[] = [],
  network: Record<string, number> = {},
): Promise<Cluster> {
  const root = mkdtempSync(join(tmpdir(), 'mixd-it-'));
  const port = await freePort();
  const centralDir = join(root, 'central');
  const centralAddr = `127.0.0.1:${port}`;
  const c = initNode(centralDir, 'central', ['--listen', centralAddr]);
  const centralKey = c.publicKey as string;
  if (Object.keys(network).length) {
    const file = join(centralDir, 'mixd.json');
    const cfg = JSON.parse(readFileSync(file, 'utf8'));
    cfg.network = { ...cfg.network, ...network };
    writeFileSync(file, JSON.stringify(cfg, null, 2));
  }
  const central = await startNode(centralDir, centralExtra);
  const proxyDirs: string[] = [];
  const sourceDirs: string[] = [];
  const addresses: string[] = [];
  const pin = ['--central', centralAddr, '--central-key', centralKey];
  for (let i = 0; i < nProxies; i++) proxyDirs.push(join(root, `proxy${i}`));
  for (let i = 0; i < nSources; i++) sourceDirs.push(join(root, `source${i}`));
  await Promise.all(proxyDirs.map((d) => initNodeAsync(d, 'proxy', pin)));
  const inits = await Promise.all(sourceDirs.map((d) => initNodeAsync(d, 'source', pin)));
  for (const s of inits) addresses.push(s.address as string);
  const proxies = await Promise.all(proxyDirs.map((d) => startNode(d)));
  const sources = await Promise.all(sourceDirs.map((d) => startNode(d)));
  const cluster: Cluster = {
    root,
    centralDir,
    centralKey,
    centralAddr,
    central,
    proxies,
    proxyDirs,
    sources,
    sourceDirs,
    addresses,
    async stop() {
      await Promise.all([...cluster.sources, ...cluster.proxies, cluster.central].map((n) => n.stop('SIGKILL')));
      rmSync(root, { recursive: true, force: true });
    },
  };
  await waitForReady(cluster);
  return cluster;
}

export async function waitForReady(cluster: Cluster): Promise<void> {
  await waitFor('all sources registered with a full directory', async () => {
    for (const s of cluster.sources) {
      const st = await s.call<{ registered: boolean; proxies: number }>('status');
      if (!st.registered || st.proxies !== cluster.proxies.length) return false;
    }
    return true;
  });
}

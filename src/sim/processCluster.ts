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

export interface ClusterOptions {
  /** Every node accepts parameters below the security floor (no cover, short delays): say so explicitly. */
  insecureNoCover?: boolean;
  /** Extra fields for CS's mixd.json (e.g. `admission`). */
  central?: Record<string, unknown>;
  /** Extra fields for every proxy's mixd.json (e.g. `queue`). */
  proxy?: Record<string, unknown>;
  /** The daemons' real timers (keepalive 5 s, directory refresh 30 s, …) instead of the fast test ones. */
  realTiming?: boolean;
}

export async function startCluster(
  nProxies: number,
  nSources: number,
  centralExtra: string[] = [],
  network: Record<string, number> = {},
  options: ClusterOptions = {},
): Promise<Cluster> {
  const root = mkdtempSync(join(tmpdir(), 'mixd-it-'));
  const port = await freePort();
  const centralDir = join(root, 'central');
  const centralAddr = `127.0.0.1:${port}`;
  const c = initNode(centralDir, 'central', ['--listen', centralAddr]);
  const centralKey = c.publicKey as string;
  // All nodes share 127.0.0.1: let CS list as many proxies on it as the test starts.
  editConfig(centralDir, (cfg) => {
    cfg.network = { ...(cfg.network as object), ...network };
    cfg.admission = { maxProxiesPerIp: 1000 };
    Object.assign(cfg, options.central);
    if (options.insecureNoCover) cfg.insecureNoCover = true;
  });
  const timing = { realTiming: options.realTiming };
  const central = await startNode(centralDir, centralExtra, timing);
  const proxyDirs: string[] = [];
  const sourceDirs: string[] = [];
  const addresses: string[] = [];
  const pin = ['--central', centralAddr, '--central-key', centralKey];
  for (let i = 0; i < nProxies; i++) proxyDirs.push(join(root, `proxy${i}`));
  for (let i = 0; i < nSources; i++) sourceDirs.push(join(root, `source${i}`));
  await Promise.all(proxyDirs.map((d) => initNodeAsync(d, 'proxy', pin)));
  const inits = await Promise.all(sourceDirs.map((d) => initNodeAsync(d, 'source', pin)));
  for (const s of inits) addresses.push(s.address as string);
  for (const d of proxyDirs) {
    editConfig(d, (cfg) => {
      Object.assign(cfg, options.proxy);
      if (options.insecureNoCover) cfg.insecureNoCover = true;
    });
  }
  if (options.insecureNoCover) {
    for (const d of sourceDirs) editConfig(d, (cfg) => Object.assign(cfg, { insecureNoCover: true }));
  }
  const proxies = await Promise.all(proxyDirs.map((d) => startNode(d, [], timing)));
  const sources = await Promise.all(sourceDirs.map((d) => startNode(d, [], timing)));
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

/** Rewrites DIR/mixd.json through `edit`. */
export function editConfig(dir: string, edit: (cfg: Record<string, unknown>) => void): void {
  const file = join(dir, 'mixd.json');
  const cfg = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(cfg);
  writeFileSync(file, JSON.stringify(cfg, null, 2));
}

/**
 * A global observer's timing model of the network, calibrated on the link
 * events it sees (never on truth): each proxy's and CS's lag between an
 * input and the output it causes (kernels.ts, calibrateDelay), starting from
 * the directory's public μ.
 */

import {
  type Calibration,
  calibrateDelay,
  centralPriorLagMs,
  centralWindowMs,
  type DelayKernel,
  hopWindowMs,
  isDeliveryFrame,
  isMixPacket,
  sumOfStages,
} from './kernels.js';
import type { LinkEvent, PublicInfo, Role } from './observation.js';

export interface NetworkModel {
  roles: Map<string, Role>;
  central: string;
  /** Per-proxy lag model. */
  proxies: Map<string, Calibration>;
  /** CS's lag from receiving a packet to delivering what it carried. */
  centralLag: Calibration;
  /** A typical proxy (outputs-weighted mean shift, public scale). */
  typicalProxy: DelayKernel;
  /** S→P1 send to CS→T delivery: every mix delay on the path plus CS's lag. */
  transit: DelayKernel;
}

/** The link events a global observer uses: mix packets between nodes and delivery frames to sources. */
export function usefulLinks(links: LinkEvent[], pub: PublicInfo, roles: Map<string, Role>): LinkEvent[] {
  return links.filter((e) => {
    const from = roles.get(e.from);
    const to = roles.get(e.to);
    if (from === undefined || to === undefined) return false;
    if (from === 'central' && to === 'source') return isDeliveryFrame(e, pub.network);
    if (to === 'source') return false;
    return isMixPacket(e, pub.network);
  });
}

export function calibrateNetwork(pub: PublicInfo, links: LinkEvent[]): NetworkModel {
  const roles = new Map(pub.endpoints.map((e) => [e.id, e.role] as const));
  const central = pub.endpoints.find((e) => e.role === 'central')?.id ?? '';
  const mu = pub.network.mu_ms;
  const ins = new Map<string, number[]>();
  const outs = new Map<string, number[]>();
  const push = (m: Map<string, number[]>, k: string, t: number) => {
    const a = m.get(k);
    if (a) a.push(t);
    else m.set(k, [t]);
  };
  for (const e of usefulLinks(links, pub, roles)) {
    push(ins, e.to, e.t);
    push(outs, e.from, e.t);
  }
  const sorted = (a: number[] | undefined) => Float64Array.from(a ?? []).sort();
  const proxies = new Map<string, Calibration>();
  let shiftSum = 0;
  let weight = 0;
  for (const ep of pub.endpoints) {
    if (ep.role !== 'proxy') continue;
    const o = sorted(outs.get(ep.id));
    const c = calibrateDelay(sorted(ins.get(ep.id)), o, mu, hopWindowMs(mu));
    proxies.set(ep.id, c);
    shiftSum += c.kernel.shift * o.length;
    weight += o.length;
  }
  const typicalProxy: DelayKernel = {
    shift: weight > 0 ? shiftSum / weight : 0,
    shape: 1,
    scale: [...proxies.values()][0]?.kernel.scale ?? Math.max(0.5, mu),
  };
  // A typical proxy's scale: the mean of the calibrated scales (they agree when μ dominates).
  if (proxies.size > 0) {
    let s = 0;
    for (const c of proxies.values()) s += c.kernel.scale;
    typicalProxy.scale = s / proxies.size;
  }
  const centralLag = calibrateDelay(
    sorted(ins.get(central)),
    sorted(outs.get(central)),
    centralPriorLagMs(pub.network),
    centralWindowMs(pub.network),
  );
  const mixDelays = pub.network.hops_to_fanout + pub.network.hops_after_fanout - 1;
  const transit = sumOfStages([...Array(mixDelays).fill(typicalProxy), centralLag.kernel]);
  return { roles, central, proxies, centralLag, typicalProxy, transit };
}

/**
 * Cuts each adversary's view out of a trace. This is the one place (with the
 * grader and the gift builder) that holds a whole Trace; what leaves it
 * carries no `truth` record, so an adversary handed a view cannot read
 * ground truth. Views share the trace's observable records (link, obs,
 * attack) rather than copying them, so that big traces fit in memory
 * once; adversaries treat them as read-only.
 */

import type { Trace } from '../trace.js';
import type {
  ActiveView,
  CentralView,
  CollusionView,
  EdgeView,
  Endpoint,
  GlobalView,
  LinkEvent,
  PublicInfo,
  Role,
} from './observation.js';

export function publicInfo(trace: Trace): PublicInfo {
  const start = typeof trace.meta.run.start_ms === 'number' ? trace.meta.run.start_ms : 0;
  return {
    network: { ...trace.meta.network },
    endpoints: trace.meta.endpoints.map((e): Endpoint => ({ ...e })),
    startMs: start,
    endMs: start + trace.meta.run.duration_ms,
  };
}

function roleMap(trace: Trace): Map<string, Role> {
  return new Map(trace.meta.endpoints.map((e) => [e.id, e.role] as const));
}

/** The one CS of the trace (the first `central` endpoint). */
export function centralOf(trace: Trace): string {
  const cs = trace.meta.endpoints.find((e) => e.role === 'central');
  if (!cs) throw new RangeError('trace has no central endpoint');
  return cs.id;
}

export function globalView(trace: Trace): GlobalView {
  return { public: publicInfo(trace), links: trace.links };
}

export function edgeView(trace: Trace): EdgeView {
  const roles = roleMap(trace);
  const sends: LinkEvent[] = [];
  const deliveries: LinkEvent[] = [];
  for (const e of trace.links) {
    const from = roles.get(e.from);
    const to = roles.get(e.to);
    if (from === 'source' && to === 'proxy') sends.push(e);
    else if (from === 'central' && to === 'source') deliveries.push(e);
  }
  return { public: publicInfo(trace), sends, deliveries };
}

export function centralView(trace: Trace, central = centralOf(trace)): CentralView {
  return {
    public: publicInfo(trace),
    central,
    links: trace.links.filter((e) => e.from === central || e.to === central),
    obs: trace.obs.filter((o) => o.node === central),
  };
}

/** CS plus `proxies` (endpoint ids) colluding. */
export function collusionView(trace: Trace, proxies: string[], central = centralOf(trace)): CollusionView {
  const nodes = new Set([central, ...proxies]);
  return {
    public: publicInfo(trace),
    central,
    proxies: [...proxies],
    links: trace.links.filter((e) => nodes.has(e.from) || nodes.has(e.to)),
    obs: trace.obs.filter((o) => nodes.has(o.node)),
  };
}

/** The default colluders: the first `k` proxies in endpoint order. */
export function firstProxies(trace: Trace, k: number): string[] {
  return trace.meta.endpoints
    .filter((e) => e.role === 'proxy')
    .map((e) => e.id)
    .slice(0, k);
}

/** The attacker of `attack` on the edge links, with its own action log. Null if the trace has no such attack. */
export function activeView(trace: Trace, attack: string): ActiveView | null {
  const actions = trace.attacks.filter((a) => a.attack === attack);
  if (actions.length === 0) return null;
  return { ...edgeView(trace), attack, target: actions[0].target, actions };
}

/** Names of the attacks a trace records. */
export function attacksIn(trace: Trace): string[] {
  return [...new Set(trace.attacks.map((a) => a.attack))].sort();
}

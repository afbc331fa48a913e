/**
 * Builds gifts (ground truth handed to an adversary) from a trace. Like the
 * grader, this reads truth on purpose; whatever takes a gift is reported as
 * gifted (giftedCentral.ts).
 */

import { getOrInsert } from '../getOrInsert.js';
import type { Trace } from '../trace.js';
import type { CentralGift } from './observation.js';
import { centralOf } from './views.js';

export function centralGift(trace: Trace): CentralGift {
  const groups = new Map<string, Set<string>>();
  for (const m of trace.truth.memberships) {
    const g = getOrInsert(groups, m.group, () => new Set());
    for (const x of m.members) g.add(x);
  }
  const cs = centralOf(trace);
  const byMessage = new Map<string, string[]>();
  for (const p of trace.truth.packets) {
    if (p.kind !== 'real' || p.msg === undefined || p.recipient === undefined) continue;
    for (const h of p.hops) {
      if (h.to !== cs) continue;
      const list = getOrInsert(byMessage, p.msg, () => []);
      list.push(h.hash);
    }
  }
  return {
    groups: [...groups].map(([group, members]) => ({ group, members: [...members].sort() })),
    siblings: [...byMessage.values()],
  };
}

/**
 * The best attack of a CS handed ground truth (a "gift"; issue 8, item 5).
 *
 * The old simulator told its adversary which deliveries carry each message
 * and which users form each group. An adversary given that must be allowed
 * to use it: the copies of a message name its recipients, a group whose
 * members include them all is the message's group, and when senders get no
 * copy the sender is the member without one (certain when one group
 * matches). When senders get copies, every member of the group is equally
 * likely. The report marks this adversary as gifted and lists the gifts.
 */

import { guessFromWeights, sourceIds } from './kernels.js';
import { chooseCopyOps, copyEvents } from './maliciousCentral.js';
import type { CentralGift, CentralView, SenderGuess } from './observation.js';

export const CENTRAL_GIFTS = [
  'the true group membership',
  'which CS arrivals carry copies of the same message',
] as const;

export interface GiftedCentralResult {
  gifts: readonly string[];
  candidates: string[];
  senders: SenderGuess[];
}

export function giftedCentral(view: CentralView, gift: CentralGift): GiftedCentralResult {
  const candidates = sourceIds(view.public.endpoints);
  const owner = new Map<string, string | undefined>();
  for (const c of copyEvents(view.obs, chooseCopyOps(view.obs))) owner.set(c.hash, c.owner);
  const groups = gift.groups.map((g) => new Set(g.members));
  const senders: SenderGuess[] = [];
  for (const set of gift.siblings) {
    const owners = new Set<string>();
    for (const h of set) {
      const o = owner.get(h);
      if (o !== undefined) owners.add(o);
    }
    const matching = groups.filter((g) => [...owners].every((o) => g.has(o)));
    const possible = new Set<string>();
    for (const g of matching) {
      for (const m of g) if (view.public.network.sender_gets_copy || !owners.has(m)) possible.add(m);
    }
    const weights = candidates.map((c) => (possible.size === 0 || possible.has(c) ? 1 : 0));
    for (const h of set) if (owner.has(h)) senders.push(guessFromWeights(h, candidates, weights));
  }
  return { gifts: CENTRAL_GIFTS, candidates, senders };
}

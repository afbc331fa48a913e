import { bytesEqual } from './bytes.js';
import { RekeyOutOfOrder, RekeySuperseded, Rollback, WrongEpoch } from './errors.js';
import type { EpochBase, GroupState, Member } from './groupState.js';
import { compareKeys } from './keys.js';

/**
 * Where an epoch transition (a rekey, or a removal notice) fits the state we
 * hold. Epochs only move forward, with one exception that makes concurrent
 * admins converge:
 *
 *   Convergence rule. A transition names its new epoch n, its actor a and
 *   the actor p of the epoch n-1 it was built on. Of two transitions to the
 *   same epoch n from the same parent (n-1, p), the one whose actor key is
 *   lower (bytewise) wins; so does, transitively, everything built on it.
 *   A member that followed the loser (even several rekeys deep, up to
 *   MAX_LINEAGE) switches to the winner when it arrives: it keeps, for each
 *   earlier epoch of its lineage, the admins, revocations and the members
 *   the next rekey removed (`GroupState.lineage`), enough to rebuild the
 *   parent's membership. A member that holds the winner refuses the loser,
 *   and anything built on the loser. Whatever order the transitions arrive
 *   in, every member ends in the winner's state.
 *
 * Returns 'advance' (built on our current epoch: verify against it) or a
 * switch at `depth` (a winning sibling of our epoch n, whose parent is
 * lineage[depth]: verify against that). Otherwise throws: Rollback (older
 * than what we hold, or than our lineage reaches), WrongEpoch (already
 * applied), RekeySuperseded (lost, or built on a loser), RekeyOutOfOrder
 * (built on an epoch we do not hold yet: keep it and retry after the next
 * transition that applies).
 */
export type TransitionFit = { kind: 'advance' } | { kind: 'switch'; depth: number };

/** Actor of epoch `epoch` in our lineage, if we still know it. */
function actorAt(g: GroupState, epoch: number): Uint8Array | undefined {
  if (epoch === g.epoch) return g.epochActor;
  return g.lineage.find((b) => b.epoch === epoch)?.actor;
}

export function fitTransition(
  g: GroupState,
  newEpoch: number,
  actor: Uint8Array,
  parentActor: Uint8Array,
  what: string,
): TransitionFit {
  if (newEpoch > g.epoch + 1) {
    throw new RekeyOutOfOrder(`${what} to epoch ${newEpoch} arrived before epoch ${g.epoch + 1}; we are at ${g.epoch}`);
  }
  const ourParent = actorAt(g, newEpoch - 1);
  if (!ourParent) {
    throw new Rollback(`${what} to epoch ${newEpoch} is older than the epoch ${g.epoch} we hold: refused`);
  }
  if (!bytesEqual(ourParent, parentActor)) {
    // Built on a sibling of an epoch we hold: either that sibling wins (we will switch to it, then this applies)
    // or it lost, and so does everything built on it.
    if (compareKeys(parentActor, ourParent) < 0) {
      throw new RekeyOutOfOrder(`${what} to epoch ${newEpoch} builds on an epoch ${newEpoch - 1} we do not hold yet`);
    }
    throw new RekeySuperseded(`${what} to epoch ${newEpoch} builds on a superseded epoch ${newEpoch - 1}`);
  }
  if (newEpoch === g.epoch + 1) return { kind: 'advance' };
  const ours = actorAt(g, newEpoch);
  // An epoch we jumped over (a removal notice may skip epochs): nothing to compare with, and older than what we hold.
  if (!ours) throw new Rollback(`${what} to epoch ${newEpoch} is older than the epoch ${g.epoch} we hold: refused`);
  if (bytesEqual(actor, ours)) {
    if (newEpoch === g.epoch) throw new WrongEpoch(`${what} to epoch ${newEpoch} was already applied`);
    throw new Rollback(`${what} to epoch ${newEpoch} is older than the epoch ${g.epoch} we hold: refused`);
  }
  if (compareKeys(actor, ours) < 0) {
    return { kind: 'switch', depth: g.lineage.findIndex((b) => b.epoch === newEpoch - 1) };
  }
  throw new RekeySuperseded(
    `${what} to epoch ${newEpoch} lost to a concurrent one (the lowest admin key wins); we keep the other`,
  );
}

/**
 * What the epoch a transition builds on looked like, from our state: its
 * admins and revocations, the members removed since (to rebuild its
 * membership), its key if we still hold it, and the lineage before it.
 */
export interface ParentView {
  readonly epoch: number;
  readonly actor: Uint8Array;
  readonly admins: readonly Uint8Array[];
  readonly revoked: GroupState['revoked'];
  /** Members removed by the rekeys we applied after the parent (they were members of it, or joined during it). */
  readonly removedSince: readonly Member[];
  readonly previous: GroupState['previous'];
  readonly lineage: readonly EpochBase[];
}

export function parentView(g: GroupState, fit: TransitionFit): ParentView {
  if (fit.kind === 'advance') {
    return {
      epoch: g.epoch,
      actor: g.epochActor,
      admins: g.admins,
      revoked: g.revoked,
      removedSince: [],
      previous: g.removed
        ? null
        : { epoch: g.epoch, publicKey: g.publicKey, secretKey: g.secretKey, chains: g.chains, untilMs: 0 },
      lineage: g.lineage,
    };
  }
  const p = g.lineage[fit.depth] as EpochBase;
  return {
    epoch: p.epoch,
    actor: p.actor,
    admins: p.admins,
    revoked: p.revoked,
    removedSince: g.lineage.slice(0, fit.depth + 1).flatMap((b) => b.removed),
    // Only the key of epoch - 1 is kept (for the grace period): it is the parent's when we switch one level.
    previous: fit.depth === 0 ? g.previous : null,
    lineage: g.lineage.slice(fit.depth + 1),
  };
}

import { bytesEqual } from './bytes.js';
import { RekeyOutOfOrder, RekeySuperseded, Rollback, WrongEpoch } from './errors.js';
import type { GroupState } from './groupState.js';
import { compareKeys } from './keys.js';

/**
 * Where an epoch transition (a rekey, or a removal notice) fits the state we
 * hold. Epochs only move forward, with one exception that makes concurrent
 * admins converge:
 *
 *   Convergence rule. A transition names its new epoch n, its actor a and
 *   the actor p of the epoch n-1 it was built on. Of two transitions to the
 *   same epoch n from the same parent (n-1, p), the one whose actor key is
 *   lower (bytewise) wins. A member that applied the loser switches to the
 *   winner when it arrives (it keeps the parent epoch's admins and the
 *   members the loser removed, `GroupState.base`, for exactly this); a member
 *   that holds the winner refuses the loser, and anything built on the
 *   loser. Whatever order the transitions arrive in, every member ends in the
 *   winner's state.
 *
 * Returns 'advance' (built on our current epoch: verify against it) or
 * 'switch' (a winning sibling of our current epoch: verify against the
 * base). Otherwise throws: Rollback (older than what we hold), WrongEpoch
 * (already applied), RekeySuperseded (lost, or built on a loser),
 * RekeyOutOfOrder (built on an epoch we do not hold yet: keep it and retry
 * after the next transition that applies).
 */
export type TransitionFit = 'advance' | 'switch';

export function fitTransition(
  g: GroupState,
  newEpoch: number,
  actor: Uint8Array,
  parentActor: Uint8Array,
  what: string,
): TransitionFit {
  if (newEpoch === g.epoch + 1) {
    if (bytesEqual(parentActor, g.epochActor)) return 'advance';
    // Built on a sibling of our epoch: either that sibling wins (we will switch to it, then this applies) or it lost.
    if (compareKeys(parentActor, g.epochActor) < 0) {
      throw new RekeyOutOfOrder(`${what} to epoch ${newEpoch} builds on an epoch ${g.epoch} we do not hold yet`);
    }
    throw new RekeySuperseded(`${what} to epoch ${newEpoch} builds on a superseded epoch ${g.epoch}`);
  }
  if (newEpoch > g.epoch + 1) {
    throw new RekeyOutOfOrder(`${what} to epoch ${newEpoch} arrived before epoch ${g.epoch + 1}; we are at ${g.epoch}`);
  }
  if (newEpoch === g.epoch) {
    if (bytesEqual(actor, g.epochActor)) throw new WrongEpoch(`${what} to epoch ${newEpoch} was already applied`);
    const base = g.base;
    if (!base || base.epoch !== newEpoch - 1 || !bytesEqual(parentActor, base.actor)) {
      throw new RekeySuperseded(`${what} to epoch ${newEpoch} builds on an epoch we did not follow`);
    }
    if (compareKeys(actor, g.epochActor) < 0) return 'switch';
    throw new RekeySuperseded(
      `${what} to epoch ${newEpoch} lost to a concurrent one (the lowest admin key wins); we keep the other`,
    );
  }
  throw new Rollback(`${what} to epoch ${newEpoch} is older than the epoch ${g.epoch} we hold: refused`);
}

import { acceptAnnounce, announceSelf } from '../../src/group/announce.js';
import { createGroup, type GroupState, type LocalIdentity } from '../../src/group/groupState.js';
import { createInvite, openInvite, unlockInvite } from '../../src/group/invite.js';
import type { CryptoBackend } from '../../src/scramble/crypto/backend.js';
import { addressOf, crypto as defaultCrypto, identity, NOW, pass, rng, TINY_KDF } from './helpers.js';

export interface Fixture {
  ids: LocalIdentity[];
  /** states[i] is member i's own view; all views agree on the member list. */
  states: GroupState[];
}

/** Invites `id` into the group through `inviter` (member `by`), unlocks, and returns the joiner's state and announce. */
export function join(
  crypto: CryptoBackend,
  inviterState: GroupState,
  inviter: LocalIdentity,
  id: LocalIdentity,
  nowMs = NOW,
): { state: GroupState; announce: Uint8Array } {
  const { sealed } = createInvite(crypto, inviterState, inviter, addressOf(id), pass('pw'), TINY_KDF, rng, nowMs);
  const pending = openInvite(crypto, id.identitySeed, sealed);
  if (!pending) throw new Error('invite did not open');
  const state = unlockInvite(crypto, pending, pass('pw'), nowMs, rng);
  return { state, announce: announceSelf(crypto, state, id) };
}

/**
 * A group of `n` members built through the real flow: member 0 creates, then
 * invites each next member, who unlocks and announces itself (pairwise) to
 * everyone, who apply it.
 */
export function makeGroup(n: number, crypto: CryptoBackend = defaultCrypto, name = 'test group'): Fixture {
  const ids = [identity(crypto)];
  const states = [createGroup(crypto, name, ids[0]!, rng, NOW)];
  for (let i = 1; i < n; i++) {
    const id = identity(crypto);
    const j = join(crypto, states[0]!, ids[0]!, id, NOW + i);
    for (let k = 0; k < states.length; k++) {
      states[k] = acceptAnnounce(crypto, ids[k]!.identityKey, [states[k]!], j.announce).group;
    }
    ids.push(id);
    states.push(j.state);
  }
  return { ids, states };
}

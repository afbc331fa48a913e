import { announceSelf, openGroupMessage } from '../../src/group/groupMessage.js';
import { createGroup, type GroupState, type LocalIdentity } from '../../src/group/groupState.js';
import { createInvite, openInvite, unlockInvite } from '../../src/group/invite.js';
import type { CryptoBackend } from '../../src/scramble/crypto/backend.js';
import { addressOf, crypto as defaultCrypto, identity, NOW, pass, rng, TINY_KDF } from './helpers.js';

export interface Fixture {
  ids: LocalIdentity[];
  /** states[i] is member i's own view; all views agree on the member list. */
  states: GroupState[];
}

/**
 * A group of `n` members built through the real flow: member 0 creates, then
 * invites each next member, who unlocks, announces, and everyone applies the
 * announce.
 */
export function makeGroup(n: number, crypto: CryptoBackend = defaultCrypto, name = 'test group'): Fixture {
  const ids = [identity(crypto)];
  const states = [createGroup(crypto, name, ids[0]!, rng, NOW)];
  for (let i = 1; i < n; i++) {
    const id = identity(crypto);
    const sealed = createInvite(crypto, states[0]!, ids[0]!, addressOf(id), pass('pw'), TINY_KDF, rng, NOW + i);
    const pending = openInvite(crypto, id.identitySeed, sealed);
    if (!pending) throw new Error('invite did not open');
    let joined = unlockInvite(crypto, pending, pass('pw'), NOW + i);
    const ann = announceSelf(crypto, joined, id, rng);
    joined = ann.group;
    for (let j = 0; j < states.length; j++) {
      const opened = openGroupMessage(crypto, [states[j]!], ann.c0, NOW);
      if (!opened) throw new Error('announce did not open');
      states[j] = opened.group;
    }
    ids.push(id);
    states.push(joined);
  }
  return { ids, states };
}

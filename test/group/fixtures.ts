import { acceptAnnounce, announceSelf } from '../../src/group/announce.js';
import { createCertificate, memberFromCertificate } from '../../src/group/certificate.js';
import { openDirect } from '../../src/group/direct.js';
import { createGroup, type GroupState, type LocalIdentity } from '../../src/group/groupState.js';
import { createInvite, openInvite, unlockInvite } from '../../src/group/invite.js';
import { acceptRekey, rotateGroupKey } from '../../src/group/rekey.js';
import { receiveChainFrom } from '../../src/group/senderChain.js';
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

/**
 * A large group in its steady state, without the O(n^2) cost of inviting
 * everyone one by one: member 0 creates the group and rotates it to epoch 1,
 * then (a fixture shortcut: admission is tested elsewhere) lists every other
 * member with a certificate it signed for epoch 0, as if they had joined
 * earlier, and rotates again. `view(i)` is member i's state after applying
 * that rotation; `creator` is member 0's.
 */
export function bigGroup(
  n: number,
  crypto: CryptoBackend = defaultCrypto,
): { ids: LocalIdentity[]; creator: GroupState; view: (i: number) => GroupState } {
  const ids = [identity(crypto)];
  const g0 = createGroup(crypto, 'large', ids[0]!, rng, NOW);
  const alone = rotateGroupKey(crypto, g0, ids[0]!, rng, NOW).newState;
  const members = [...alone.members];
  const chains = new Map(alone.chains);
  for (let i = 1; i < n; i++) {
    const id = identity(crypto);
    ids.push(id);
    members.push(
      memberFromCertificate(
        createCertificate(
          crypto,
          {
            groupId: g0.groupId,
            epoch: 0,
            memberKey: id.identityKey,
            memberCentralId: id.centralId,
            inviterKey: ids[0]!.identityKey,
            issuedAtMs: NOW,
          },
          ids[0]!.identitySeed,
        ),
      ),
    );
    chains.set(Buffer.from(id.identityKey).toString('hex'), receiveChainFrom(rng(32), 0));
  }
  const epoch1: GroupState = { ...alone, members, chains };
  const r = rotateGroupKey(crypto, epoch1, ids[0]!, rng, NOW);
  const view = (i: number) => {
    if (i === 0) return r.newState;
    const p = r.perMember.find((x) => crypto.equal(x.identityKey, ids[i]!.identityKey))!;
    const d = openDirect(crypto, ids[i]!.identitySeed, p.sealed)!;
    return acceptRekey(crypto, ids[i]!.identitySeed, [epoch1], d.body, NOW).group;
  };
  return { ids, creator: r.newState, view };
}

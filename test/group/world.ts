import { acceptAnnounce } from '../../src/group/announce.js';
import { DIRECT_KIND, openDirect } from '../../src/group/direct.js';
import { openGroupMessage } from '../../src/group/groupMessage.js';
import type { GroupState, LocalIdentity } from '../../src/group/groupState.js';
import { acceptRekey } from '../../src/group/rekey.js';
import { acceptRemovalNotice } from '../../src/group/removalNotice.js';
import type { CryptoBackend } from '../../src/scramble/crypto/backend.js';
import { NOW } from './helpers.js';

/**
 * What a source does with one direct message sealed to it, as
 * src/source/groupManager.ts does it, on one group state (pure, in memory):
 * returns the new state, or throws the group layer's typed error.
 */
export function applyDirect(
  crypto: CryptoBackend,
  id: LocalIdentity,
  state: GroupState,
  sealed: Uint8Array,
  nowMs = NOW,
): { state: GroupState; kind: number; body?: Uint8Array } {
  const d = openDirect(crypto, id.identitySeed, sealed);
  if (!d) throw new Error('not sealed to this identity');
  switch (d.kind) {
    case DIRECT_KIND.rekey:
      return { state: acceptRekey(crypto, id.identitySeed, [state], d.body, nowMs).group, kind: d.kind };
    case DIRECT_KIND.removal:
      return { state: acceptRemovalNotice(crypto, id.identityKey, [state], d.body).group, kind: d.kind };
    case DIRECT_KIND.announce:
      return { state: acceptAnnounce(crypto, id.identityKey, [state], d.body).group, kind: d.kind };
    case DIRECT_KIND.groupControl: {
      const m = openGroupMessage(crypto, [state], d.body, nowMs);
      // No key of ours opens it (an epoch we no longer hold): the daemon counts a drop and moves on.
      if (!m) return { state, kind: d.kind };
      return { state: m.group, kind: d.kind, body: m.body };
    }
    default:
      throw new Error(`unexpected direct kind ${d.kind}`);
  }
}

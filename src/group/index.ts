/** The group layer's public surface (explicit: no `export *`). */
export { encodeAddress, encryptionKeyOf, type MemberAddress, parseAddress } from './address.js';
export { type AcceptedAnnounce, acceptAnnounce, announceSelf, createAnnounce, reannounce } from './announce.js';
export { type Certificate, GROUP_ID_BYTES } from './certificate.js';
export { DIRECT_KIND, type DirectMessage, openDirect, sealDirect } from './direct.js';
export {
  DatagramTooLarge,
  GroupError,
  type GroupErrorReason,
  InvalidGroupState,
  RekeyOutOfOrder,
  RekeySuperseded,
  RemovedFromGroup,
  Rollback,
  WrongPassphrase,
} from './errors.js';
export {
  buildFanoutBodies,
  type DeliveredCopy,
  decodeFanout,
  type FanoutBundle,
  fanoutCopies,
  openDeliveredCopy,
  openDeliveredCopyWithKeys,
  openDeliveredPayload,
  recipientsByCentral,
  tokensPerPacket,
} from './fanout.js';
export {
  type GroupMessageType,
  type OpenedGroupMessage,
  openGroupMessage,
  type SealedGroupMessage,
  sealGroupMessage,
} from './groupMessage.js';
export {
  createGroup,
  expireKeys,
  findMember,
  type GroupState,
  groupFromJson,
  groupToJson,
  isAdmin,
  type LocalIdentity,
  type Member,
  sortedAdmins,
} from './groupState.js';
export { GroupStore, type GroupStoreData } from './groupStore.js';
export {
  createInvite,
  DEFAULT_INVITE_KDF,
  type InviteKdf,
  inviteId,
  lockedInvite,
  MAX_PENDING_INVITES,
  openInvite,
  type PendingInvite,
  unlockInvite,
} from './invite.js';
export {
  acceptRekey,
  createRekey,
  type LeaveResult,
  leaveGroup,
  type OpenedRekey,
  promoteAdmin,
  type RekeyResult,
  rotateGroupKey,
} from './rekey.js';
export { type AcceptedRemoval, acceptRemovalNotice } from './removalNotice.js';
export { maxDatagramBytes, TOKEN_BYTES } from './sizes.js';

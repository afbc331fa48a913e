import type { GroupErrorReason } from '../group/errors.js';
import type { DropReason as PacketDropReason } from '../scramble/errors.js';
import type { MessageErrorReason } from './codec.js';

/**
 * Every reason a daemon may count a dropped datagram (or refused input) under,
 * in `mixd_drops_total{reason}`. `countDrop` takes only these, so a new reason
 * has to be added here, and test/node/dropReasons.test.ts keeps the table in
 * docs/protocol.md (section 24) equal to this list.
 */
export const DROP_REASONS = [
  // Packet layer (src/scramble, docs/protocol.md section 10), counted at every mix and CS.
  'bad_length',
  'bad_version',
  'bad_point',
  'bad_mac',
  'bad_command',
  'bad_payload_tag',
  'bad_seal',
  'replay',
  // Control frames that do not decode (section 11), at every role.
  'control_truncated',
  'control_range',
  'control_utf8',
  'control_trailing',
  'control_bad_frame',
  'control_bad_version',
  'control_bad_type',
  'control_bad_field',
  'control_bad_padding',
  // Any role.
  'bad_frame',
  'unexpected_control',
  'stale',
  'bad_signature',
  'rate_limited',
  'internal_error',
  // Directory (proxies and sources).
  'directory_wrong_sender',
  'bad_directory',
  'directory_too_old',
  'insecure_directory',
  'bad_directory_entry',
  // CS.
  'short_request',
  'bad_identity_key',
  'bad_descriptor',
  'proxy_not_allowed',
  'proxy_cap',
  'proxy_ip_cap',
  'bad_probe_reply',
  'bad_challenge',
  'bad_cookie',
  'unknown_mailbox',
  'mailbox_full',
  'bad_token',
  'bad_role',
  // Proxies.
  'not_ready',
  'over_cap',
  'late',
  'unknown_next_hop',
  'queue_full',
  'hop_queue_share',
  'long_delay_share',
  'fanout_unsupported',
  'bad_fanout',
  'no_route',
  // Sources.
  'not_from_central',
  'unauthenticated_control',
  'bad_registration',
  'bad_delivery',
  'unknown_surb',
  'bad_surb',
  'bad_surb_reply',
  'surb_unknown_first_hop',
  'bad_envelope',
  'reassembly_evicted',
  'undecryptable_delivery',
  'undecryptable_direct',
  'unknown_direct_kind',
  'send_queue_full',
  'held_datagram_overflow',
  'group_malformed',
  'group_bad_address',
  'group_bad_signature',
  'group_bad_certificate',
  'group_not_a_member',
  'group_not_authorized',
  'group_duplicate',
  'group_wrong_epoch',
  'group_wrong_passphrase',
  'group_kdf_params',
  'group_expired',
  'group_too_large',
  'group_bad_state',
  'group_removed',
  'group_rollback',
  'group_superseded',
  'group_out_of_order',
  'group_too_far_ahead',
  'group_out_of_order_held',
  'group_invite_evicted',
  'group_control_unopened',
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

/**
 * Compile-time guards: a reason added to the packet layer, the control codec
 * or the group layer without a line above stops the build here, instead of
 * being counted under a name nobody documented.
 */
const packetCovered: Record<PacketDropReason, DropReason> = {
  bad_length: 'bad_length',
  bad_version: 'bad_version',
  bad_point: 'bad_point',
  bad_mac: 'bad_mac',
  bad_command: 'bad_command',
  bad_payload_tag: 'bad_payload_tag',
  bad_seal: 'bad_seal',
  replay: 'replay',
};

/** Reasons the control decoder (wire.ts: decodeAnyControl) raises; the others belong to other codecs. */
type ControlDecodeReason = Exclude<MessageErrorReason, 'bad_seal' | 'empty'>;

/** The drop reason of a control frame that failed to decode. */
export function controlDropReason(reason: MessageErrorReason): DropReason {
  if (reason === 'bad_seal' || reason === 'empty') return 'control_bad_field';
  return `control_${reason satisfies ControlDecodeReason}` satisfies DropReason;
}

/** The drop reason of a group-layer refusal. */
export function groupDropReason(reason: GroupErrorReason): DropReason {
  return `group_${reason}` satisfies DropReason;
}

/** The drop reason of a packet-layer refusal (the same name). */
export function packetDropReason(reason: PacketDropReason): DropReason {
  return packetCovered[reason];
}

export function isDropReason(s: string): s is DropReason {
  return (DROP_REASONS as readonly string[]).includes(s);
}

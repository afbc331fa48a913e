/**
 * Typed errors of the group layer. Everything an attacker can provoke with
 * bytes from the network (or from a peer's invite, rekey or announce)
 * surfaces as a subclass of GroupError, so the I/O edge can count drops by
 * `reason` and never crash on hostile input. Anything else escaping a decoder
 * is a bug (the fuzz tests check this).
 */
export type GroupErrorReason =
  | 'malformed'
  | 'bad_address'
  | 'bad_signature'
  | 'bad_certificate'
  | 'not_a_member'
  | 'not_authorized'
  | 'duplicate'
  | 'wrong_epoch'
  | 'wrong_passphrase'
  | 'kdf_params'
  | 'expired'
  | 'too_large'
  | 'bad_state'
  | 'removed'
  | 'rollback'
  | 'superseded'
  | 'out_of_order'
  | 'too_far_ahead';

export class GroupError extends Error {
  readonly reason: GroupErrorReason;
  constructor(reason: GroupErrorReason, message: string) {
    super(message);
    this.name = 'GroupError';
    this.reason = reason;
  }
}

/** Structurally invalid bytes: wrong version, length, padding or field value. */
export class MalformedGroupMessage extends GroupError {
  constructor(message: string) {
    super('malformed', message);
    this.name = 'MalformedGroupMessage';
  }
}

export class MalformedCertificate extends GroupError {
  constructor(message: string) {
    super('malformed', message);
    this.name = 'MalformedCertificate';
  }
}

export class MalformedInvite extends GroupError {
  constructor(message: string) {
    super('malformed', message);
    this.name = 'MalformedInvite';
  }
}

export class MalformedRekey extends GroupError {
  constructor(message: string) {
    super('malformed', message);
    this.name = 'MalformedRekey';
  }
}

export class MalformedFanout extends GroupError {
  constructor(message: string) {
    super('malformed', message);
    this.name = 'MalformedFanout';
  }
}

export class InvalidAddress extends GroupError {
  constructor(message: string) {
    super('bad_address', message);
    this.name = 'InvalidAddress';
  }
}

/** An Ed25519 signature (message, invite or rekey) does not verify. */
export class BadSignature extends GroupError {
  constructor(message: string) {
    super('bad_signature', message);
    this.name = 'BadSignature';
  }
}

/** A membership certificate does not verify or does not chain to a member. */
export class BadCertificate extends GroupError {
  constructor(message: string) {
    super('bad_certificate', message);
    this.name = 'BadCertificate';
  }
}

export class NotAMember extends GroupError {
  constructor(message: string) {
    super('not_a_member', message);
    this.name = 'NotAMember';
  }
}

/** A member tried something its role does not allow (e.g. a rekey by a non-admin). */
export class NotAuthorized extends GroupError {
  constructor(message: string) {
    super('not_authorized', message);
    this.name = 'NotAuthorized';
  }
}

/** A replayed or too-old sequence number (per-sender window). */
export class DuplicateMessage extends GroupError {
  constructor(message: string) {
    super('duplicate', message);
    this.name = 'DuplicateMessage';
  }
}

/** Epoch does not match the key that opened the message, or a rekey is not newer. */
export class WrongEpoch extends GroupError {
  constructor(message: string) {
    super('wrong_epoch', message);
    this.name = 'WrongEpoch';
  }
}

export class WrongPassphrase extends GroupError {
  constructor() {
    super('wrong_passphrase', 'wrong passphrase for this invite; the invite is kept, try again');
    this.name = 'WrongPassphrase';
  }
}

/** KDF parameters in a received invite outside the accepted range (DoS guard). */
export class InviteParamsRejected extends GroupError {
  constructor(message: string) {
    super('kdf_params', message);
    this.name = 'InviteParamsRejected';
  }
}

export class InviteExpired extends GroupError {
  constructor(message: string) {
    super('expired', message);
    this.name = 'InviteExpired';
  }
}

/** A local caller asked to send more than fits one delivered copy. */
export class DatagramTooLarge extends GroupError {
  constructor(message: string) {
    super('too_large', message);
    this.name = 'DatagramTooLarge';
  }
}

/** Persisted group state (JSON) that does not parse or is inconsistent. */
export class InvalidGroupState extends GroupError {
  constructor(message: string) {
    super('bad_state', message);
    this.name = 'InvalidGroupState';
  }
}

/** We were removed from this group (a signed removal notice arrived): nothing can be sent to it any more. */
export class RemovedFromGroup extends GroupError {
  constructor(message: string) {
    super('removed', message);
    this.name = 'RemovedFromGroup';
  }
}

/** An invite or rekey older than (or as old as) the state we hold: applying it would roll the group back. */
export class Rollback extends GroupError {
  constructor(message: string) {
    super('rollback', message);
    this.name = 'Rollback';
  }
}

/** A rekey or removal notice that lost against a concurrent one for the same epoch (convergence rule). */
export class RekeySuperseded extends GroupError {
  constructor(message: string) {
    super('superseded', message);
    this.name = 'RekeySuperseded';
  }
}

/**
 * A rekey or removal notice built on an epoch we do not hold yet (an earlier
 * rekey is still on its way): the caller may keep it and retry after the next
 * rekey it applies.
 */
export class RekeyOutOfOrder extends GroupError {
  constructor(message: string) {
    super('out_of_order', message);
    this.name = 'RekeyOutOfOrder';
  }
}

/** A message index further ahead of the sender's chain than the skip window allows. */
export class MessageTooFarAhead extends GroupError {
  constructor(message: string) {
    super('too_far_ahead', message);
    this.name = 'MessageTooFarAhead';
  }
}

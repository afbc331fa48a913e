/**
 * Typed errors of the packet layer. Every failure an attacker can provoke with
 * network bytes surfaces as one of these, so the I/O edge can count it by
 * `reason` and drop the packet instead of crashing.
 */
export type DropReason =
  | 'bad_length'
  | 'bad_version'
  | 'bad_point'
  | 'bad_mac'
  | 'bad_command'
  | 'bad_payload_tag'
  | 'bad_seal'
  | 'replay';

export class MalformedPacket extends Error {
  readonly reason: DropReason;
  constructor(reason: DropReason, message: string) {
    super(message);
    this.name = 'MalformedPacket';
    this.reason = reason;
  }
}

export class ReplayedPacket extends MalformedPacket {
  constructor() {
    super('replay', 'replay tag already seen in this key epoch');
    this.name = 'ReplayedPacket';
  }
}

/** A cryptographic primitive refused its input (e.g. a low-order X25519 point). */
export class CryptoFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CryptoFailure';
  }
}

/** The caller (not the network) passed something impossible: a programming error. */
export class InvalidArgument extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidArgument';
  }
}

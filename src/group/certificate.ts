import type { CryptoBackend } from '../scramble/crypto/backend.js';
import { CENTRAL_ID_BYTES, IDENTITY_KEY_BYTES } from './address.js';
import { ByteReader, ByteWriter, bytesEqual, concatBytes, label } from './bytes.js';
import { BadCertificate, MalformedCertificate } from './errors.js';
import type { Member } from './groupState.js';
import { hexKey } from './keys.js';

/**
 * Membership certificate: the inviter's Ed25519 signature admitting a member
 * (identity key + home CS) to a group at an epoch. It is what lets a member
 * who never met the newcomer accept its announce: the certificate chains it
 * to a member everybody already trusts.
 *
 *   version(1) | groupId(16) | epoch(u32) | memberKey(32) | memberCentralId(10)
 *   | inviterKey(32) | issuedAtMs(u64) | signature(64)          = 167 bytes
 *
 * signature = Ed25519(inviter, "mixd/v1/group/cert\0" || all bytes before it)
 */
export interface Certificate {
  readonly groupId: Uint8Array;
  readonly epoch: number;
  readonly memberKey: Uint8Array;
  readonly memberCentralId: Uint8Array;
  readonly inviterKey: Uint8Array;
  readonly issuedAtMs: number;
  readonly signature: Uint8Array;
}

export const CERTIFICATE_VERSION = 1;
export const GROUP_ID_BYTES = 16;
export const CERTIFICATE_BYTES = 1 + GROUP_ID_BYTES + 4 + IDENTITY_KEY_BYTES + CENTRAL_ID_BYTES + 32 + 8 + 64;
const CERT_LABEL = label('cert');

export interface CertificateFields {
  groupId: Uint8Array;
  epoch: number;
  memberKey: Uint8Array;
  memberCentralId: Uint8Array;
  inviterKey: Uint8Array;
  issuedAtMs: number;
}

function unsigned(f: CertificateFields): Uint8Array {
  return new ByteWriter()
    .u8(CERTIFICATE_VERSION)
    .bytes(f.groupId)
    .u32(f.epoch)
    .bytes(f.memberKey)
    .bytes(f.memberCentralId)
    .bytes(f.inviterKey)
    .u64(f.issuedAtMs)
    .finish();
}

function checkFieldSizes(f: CertificateFields): void {
  if (f.groupId.length !== GROUP_ID_BYTES) throw new RangeError('groupId must be 16 bytes');
  if (f.memberKey.length !== IDENTITY_KEY_BYTES) throw new RangeError('memberKey must be 32 bytes');
  if (f.memberCentralId.length !== CENTRAL_ID_BYTES) throw new RangeError('memberCentralId must be 10 bytes');
  if (f.inviterKey.length !== IDENTITY_KEY_BYTES) throw new RangeError('inviterKey must be 32 bytes');
}

/** Signs a certificate with the inviter's identity seed (whose public key must be `inviterKey`). */
export function createCertificate(
  crypto: CryptoBackend,
  fields: CertificateFields,
  inviterSeed: Uint8Array,
): Certificate {
  checkFieldSizes(fields);
  const signature = crypto.ed25519Sign(inviterSeed, concatBytes(CERT_LABEL, unsigned(fields)));
  return {
    groupId: fields.groupId.slice(),
    epoch: fields.epoch,
    memberKey: fields.memberKey.slice(),
    memberCentralId: fields.memberCentralId.slice(),
    inviterKey: fields.inviterKey.slice(),
    issuedAtMs: fields.issuedAtMs,
    signature,
  };
}

/** Signature check only; whether the inviter may invite is verifyMemberList's / the caller's job. */
export function verifyCertificate(crypto: CryptoBackend, cert: Certificate): boolean {
  return crypto.ed25519Verify(cert.inviterKey, concatBytes(CERT_LABEL, unsigned(cert)), cert.signature);
}

export function encodeCertificate(cert: Certificate): Uint8Array {
  checkFieldSizes(cert);
  return concatBytes(unsigned(cert), cert.signature);
}

/** Reads one certificate from a reader (used inside larger structures). */
export function readCertificate(r: ByteReader): Certificate {
  const version = r.u8('certificate version');
  if (version !== CERTIFICATE_VERSION) throw new MalformedCertificate(`unknown certificate version ${version}`);
  return {
    groupId: r.bytes(GROUP_ID_BYTES, 'certificate groupId'),
    epoch: r.u32('certificate epoch'),
    memberKey: r.bytes(IDENTITY_KEY_BYTES, 'certificate memberKey'),
    memberCentralId: r.bytes(CENTRAL_ID_BYTES, 'certificate memberCentralId'),
    inviterKey: r.bytes(IDENTITY_KEY_BYTES, 'certificate inviterKey'),
    issuedAtMs: r.u64('certificate issuedAtMs'),
    signature: r.bytes(64, 'certificate signature'),
  };
}

export function decodeCertificate(bytes: Uint8Array): Certificate {
  const r = new ByteReader(bytes, (m) => new MalformedCertificate(m));
  const cert = readCertificate(r);
  r.end('certificate');
  return cert;
}

export function memberFromCertificate(cert: Certificate): Member {
  return { identityKey: cert.memberKey, centralId: cert.memberCentralId, certificate: cert };
}

export function isSelfSigned(cert: Certificate): boolean {
  return bytesEqual(cert.inviterKey, cert.memberKey);
}

/**
 * Checks one member entry: it matches its certificate, which is for this
 * group, not from a later epoch than `epoch`, and signed by its inviter.
 * Whether the inviter may admit anyone is the caller's rule (announce.ts).
 */
export function checkCertificate(crypto: CryptoBackend, groupId: Uint8Array, epoch: number, m: Member): void {
  const c = m.certificate;
  if (!bytesEqual(c.memberKey, m.identityKey) || !bytesEqual(c.memberCentralId, m.centralId)) {
    throw new BadCertificate('member entry does not match its certificate');
  }
  if (!bytesEqual(c.groupId, groupId)) throw new BadCertificate('certificate is for another group');
  if (c.epoch > epoch) throw new BadCertificate(`certificate epoch ${c.epoch} is after the group epoch ${epoch}`);
  if (!verifyCertificate(crypto, c)) throw new BadCertificate(`certificate of ${hexKey(c.memberKey)} does not verify`);
}

/**
 * Checks a whole member list as received in an invite: unique keys, every
 * certificate valid for this group and epoch, and the only self-signed
 * certificate the creator's (the root). Admission rules (who may invite whom)
 * were applied by the members present when each one announced itself; a
 * joiner takes the list from the inviter it trusts through the passphrase.
 */
export function verifyMemberList(
  crypto: CryptoBackend,
  groupId: Uint8Array,
  epoch: number,
  creator: Uint8Array,
  members: readonly Member[],
): void {
  if (members.length === 0) throw new BadCertificate('member list is empty');
  const known = new Set<string>();
  for (const m of members) {
    const k = hexKey(m.identityKey);
    if (known.has(k)) throw new BadCertificate(`member ${k} is listed twice`);
    known.add(k);
    checkCertificate(crypto, groupId, epoch, m);
    if (isSelfSigned(m.certificate) && !bytesEqual(m.certificate.memberKey, creator)) {
      throw new BadCertificate('self-signed certificate of a non-creator');
    }
  }
}

/** The creator's root certificate, or a certificate issued in an epoch before `epoch`: a member since the epoch began. */
export function memberSinceBefore(m: Member, epoch: number): boolean {
  return isSelfSigned(m.certificate) || m.certificate.epoch < epoch;
}

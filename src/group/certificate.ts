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

function checkOne(crypto: CryptoBackend, groupId: Uint8Array, epoch: number, m: Member): void {
  const c = m.certificate;
  if (!bytesEqual(c.memberKey, m.identityKey) || !bytesEqual(c.memberCentralId, m.centralId)) {
    throw new BadCertificate('member entry does not match its certificate');
  }
  if (!bytesEqual(c.groupId, groupId)) throw new BadCertificate('certificate is for another group');
  if (c.epoch > epoch) throw new BadCertificate(`certificate epoch ${c.epoch} is after the group epoch ${epoch}`);
  if (!verifyCertificate(crypto, c)) throw new BadCertificate(`certificate of ${hexKey(c.memberKey)} does not verify`);
}

/**
 * Checks a whole member list as received in an invite or a rekey. Every entry
 * (current and former) must carry a valid certificate for this group whose
 * inviter is a current or former member; the only self-signed certificate
 * allowed is the creator's (the root). Former members are kept exactly so the
 * certificates they issued still have a known inviter after they left.
 * Member keys are unique across both lists.
 */
export function verifyMemberList(
  crypto: CryptoBackend,
  groupId: Uint8Array,
  epoch: number,
  creator: Uint8Array,
  members: readonly Member[],
  formerMembers: readonly Member[],
): void {
  if (members.length === 0) throw new BadCertificate('member list is empty');
  const known = new Set<string>();
  for (const m of [...members, ...formerMembers]) {
    const k = hexKey(m.identityKey);
    if (known.has(k)) throw new BadCertificate(`member ${k} is listed twice`);
    known.add(k);
  }
  for (const m of [...members, ...formerMembers]) {
    checkOne(crypto, groupId, epoch, m);
    const c = m.certificate;
    if (isSelfSigned(c)) {
      if (!bytesEqual(c.memberKey, creator)) throw new BadCertificate('self-signed certificate of a non-creator');
    } else if (!known.has(hexKey(c.inviterKey))) {
      throw new BadCertificate(`inviter of ${hexKey(c.memberKey)} was never a member`);
    }
  }
}

/**
 * Checks a single newcomer (announce): a valid certificate for this group
 * whose inviter is a current or former member. Self-signed is refused: only
 * the creator has a self-signed certificate and it is never announced.
 */
export function verifyNewcomer(
  crypto: CryptoBackend,
  groupId: Uint8Array,
  epoch: number,
  members: readonly Member[],
  formerMembers: readonly Member[],
  newcomer: Member,
): void {
  checkOne(crypto, groupId, epoch, newcomer);
  if (isSelfSigned(newcomer.certificate)) throw new BadCertificate('a newcomer cannot certify itself');
  const inviter = newcomer.certificate.inviterKey;
  const ok =
    members.some((m) => bytesEqual(m.identityKey, inviter)) ||
    formerMembers.some((m) => bytesEqual(m.identityKey, inviter));
  if (!ok) throw new BadCertificate('the inviter is not and never was a member');
}

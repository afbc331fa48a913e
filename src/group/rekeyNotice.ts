import { IDENTITY_KEY_BYTES } from './address.js';
import { ByteReader, ByteWriter } from './bytes.js';
import { MalformedGroupMessage } from './errors.js';

/**
 * Body of a `rekey` group message, multicast by the admin under the OLD key
 * right after a rekey. It carries no secret: the new key goes to each
 * remaining member in its own sealed blob (rekey.ts). The notice lets every
 * member, the removed ones included, learn that epoch `newEpoch` exists, so a
 * member whose blob is late or lost knows it is missing one.
 *
 *   newEpoch(u32) | newPublicKey(32) | removedCount(u16) | removed identity keys(32 each)
 */
export interface RekeyNotice {
  readonly newEpoch: number;
  readonly newPublicKey: Uint8Array;
  readonly removed: readonly Uint8Array[];
}

export function encodeRekeyNotice(n: RekeyNotice): Uint8Array {
  const w = new ByteWriter().u32(n.newEpoch).bytes(n.newPublicKey).u16(n.removed.length);
  for (const k of n.removed) w.bytes(k);
  return w.finish();
}

export function decodeRekeyNotice(bytes: Uint8Array): RekeyNotice {
  const r = new ByteReader(bytes, (m) => new MalformedGroupMessage(`rekey notice: ${m}`));
  const newEpoch = r.u32('newEpoch');
  const newPublicKey = r.bytes(32, 'newPublicKey');
  const removed: Uint8Array[] = [];
  for (let n = r.u16('removed count'); n > 0; n--) removed.push(r.bytes(IDENTITY_KEY_BYTES, 'removed key'));
  r.end('rekey notice');
  return { newEpoch, newPublicKey, removed };
}

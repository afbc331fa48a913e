import { hex } from '../scramble/hex.js';

/** Map key for an identity key (public data, so a plain hex string is fine). */
export function hexKey(identityKey: Uint8Array): string {
  return hex(identityKey);
}

/**
 * RFC 4648 base32, lowercase alphabet, no padding. Decoding is strict: the
 * unused low bits of the last character must be zero, so each byte string has
 * exactly one spelling (an address can be compared as text).
 */
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const VALUE = new Map<string, number>([...ALPHABET].map((c, i) => [c, i]));

export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}

/** Length of the unpadded encoding of n bytes. */
export function base32Length(n: number): number {
  return Math.ceil((n * 8) / 5);
}

/** Decodes strict lowercase base32; returns a reason string instead of throwing. */
export function base32Decode(text: string): Uint8Array | string {
  const outLen = Math.floor((text.length * 5) / 8);
  if (base32Length(outLen) !== text.length) return `length ${text.length} is not a valid unpadded base32 length`;
  const out = new Uint8Array(outLen);
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    const v = VALUE.get(ch);
    if (v === undefined) return `character ${JSON.stringify(ch)} at position ${i} is not in the base32 alphabet a-z2-7`;
    acc = ((acc << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) return 'non-zero unused bits in the last character (non-canonical spelling)';
  return out;
}

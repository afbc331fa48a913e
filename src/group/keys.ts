/** Map key for an identity key (public data, so a plain hex string is fine). */
export function hexKey(identityKey: Uint8Array): string {
  return Buffer.from(identityKey.buffer, identityKey.byteOffset, identityKey.byteLength).toString('hex');
}

export function fromHexKey(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'hex'));
}

/** Sorts identity keys bytewise (the convergence rule's "lowest key"). */
export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

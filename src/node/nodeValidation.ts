import type { CryptoBackend } from '../scramble/crypto/backend.js';
import { CryptoFailure } from '../scramble/errors.js';
import { formatHostPort } from './config.js';
import type { NodeDescriptor } from './directory.js';
import { MAX_ADDRESS_CHARS, MAX_DESCRIPTOR_MIX_KEYS } from './limits.js';
import { type Peer, parsePeer } from './transport.js';

/**
 * What a node must look like before anyone routes through it (issue 10, F1,
 * F2). CS checks every descriptor it lists, and every proxy and source checks
 * every node of every directory it accepts, so a key or address that would
 * make route building throw never reaches a timer:
 *
 * - the address is `IP:PORT` by the config rules (src/node/config.ts), at most
 *   MAX_ADDRESS_CHARS characters, written canonically, with a port above 0 and
 *   an IP one can send to (not unspecified, broadcast or multicast);
 * - 1..MAX_DESCRIPTOR_MIX_KEYS mix keys for distinct epochs, each a canonical
 *   X25519 u-coordinate (below 2^255 − 19, bit 255 clear) that is not of low
 *   order: X25519 of any clamped scalar with it is not all zero, exactly the
 *   operation a sender's header construction performs with it.
 */
export function nodeProblem(crypto: CryptoBackend, n: NodeDescriptor): string | null {
  const address = addressProblem(n.address);
  if (address) return address;
  if (n.mixKeys.length === 0) return 'no mix key';
  if (n.mixKeys.length > MAX_DESCRIPTOR_MIX_KEYS) return `more than ${MAX_DESCRIPTOR_MIX_KEYS} mix keys`;
  const epochs = new Set<number>();
  for (const k of n.mixKeys) {
    if (epochs.has(k.epoch)) return `two mix keys for epoch ${k.epoch}`;
    epochs.add(k.epoch);
    if (!usableMixKey(crypto, k.publicKey)) return `mix key for epoch ${k.epoch} is not a usable X25519 key`;
  }
  return null;
}

/** Why `address` is not an address to route to, or null when it is one. */
export function addressProblem(address: string): string | null {
  if (address.length > MAX_ADDRESS_CHARS) return `address longer than ${MAX_ADDRESS_CHARS} characters`;
  const peer = parsePeer(address);
  if (!peer) return 'address is not IP:PORT';
  if (formatHostPort(peer) !== address) return 'address is not written canonically';
  if (!routableHost(peer)) return 'address is unspecified, broadcast or multicast';
  return null;
}

function routableHost(p: Peer): boolean {
  const h = p.host.toLowerCase();
  if (h.includes(':')) {
    const first = ipv6Hextets(h)[0] ?? 0;
    return h !== '::' && (first & 0xff00) !== 0xff00;
  }
  const a = Number(h.split('.')[0]);
  return h !== '0.0.0.0' && h !== '255.255.255.255' && !(a >= 224 && a <= 239);
}

/**
 * The key per-IP caps count by: the IPv4 address, or the /64 of an IPv6 one
 * (one host is usually given a whole /64, so counting single IPv6 addresses
 * would count nothing).
 */
export function ipCapKey(p: Peer): string {
  if (!p.host.includes(':')) return p.host;
  const hextets = ipv6Hextets(p.host.toLowerCase());
  return `${hextets
    .slice(0, 4)
    .map((x) => x.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 literal (already validated by net.isIPv6), an IPv4 tail folded in. */
function ipv6Hextets(host: string): number[] {
  let h = host;
  const tail: number[] = [];
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(h);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    tail.push((a << 8) | b, (c << 8) | d);
    h = h.slice(0, v4.index);
    if (h.endsWith(':') && !h.endsWith('::')) h = h.slice(0, -1);
  }
  const [head, rest] = h.split('::') as [string, string | undefined];
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((x) => Number.parseInt(x, 16)));
  const left = parse(head);
  const right = [...(rest === undefined ? [] : parse(rest)), ...tail];
  if (rest === undefined) return [...left, ...right].slice(0, 8);
  return [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
}

/** Any clamped scalar: only the result's being zero matters. */
const PROBE_SCALAR = new Uint8Array(32).fill(0x55);
/** Verdicts already reached, so that re-validating a directory every refresh costs nothing. */
const verdicts = new Map<string, boolean>();
const MAX_VERDICTS = 8192;

/** A canonical X25519 u-coordinate whose multiples by clamped scalars are never the all-zero point. */
export function usableMixKey(crypto: CryptoBackend, key: Uint8Array): boolean {
  if (key.length !== 32 || !isCanonicalU(key)) return false;
  const id = `${crypto.name}:${Buffer.from(key).toString('hex')}`;
  const known = verdicts.get(id);
  if (known !== undefined) return known;
  let ok = true;
  try {
    crypto.x25519(PROBE_SCALAR, key);
  } catch (err) {
    if (!(err instanceof CryptoFailure)) throw err;
    ok = false;
  }
  if (verdicts.size >= MAX_VERDICTS) verdicts.clear();
  verdicts.set(id, ok);
  return ok;
}

/** Little-endian value below p = 2^255 − 19 with bit 255 clear (as for α, docs/protocol.md section 4). */
function isCanonicalU(u: Uint8Array): boolean {
  if (((u[31] as number) & 0x80) !== 0) return false;
  if (u[31] !== 0x7f) return true;
  for (let i = 30; i >= 1; i--) if (u[i] !== 0xff) return true;
  return (u[0] as number) < 0xed;
}

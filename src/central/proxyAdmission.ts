import { MalformedMessage } from '../node/codec.js';
import { decodeDescriptor, type NodeDescriptor } from '../node/directory.js';
import type { DropReason } from '../node/dropReasons.js';
import { hex } from '../node/ids.js';
import {
  DEFAULT_MAX_PROXIES_PER_IP,
  FRESHNESS_MS,
  MAX_PENDING_PROBES,
  MAX_PROXIES,
  PROBE_TIMEOUT_MS,
  PROBE_VALID_MS,
  PROBES_TO_ONE_IP,
} from '../node/limits.js';
import { ipCapKey, nodeProblem } from '../node/nodeValidation.js';
import { PeerRateLimiter } from '../node/rateLimiter.js';
import { type Peer, parsePeer, peerKey } from '../node/transport.js';
import { PROBE_NONCE_BYTES, signedBytes } from '../node/wire.js';
import type { CryptoBackend } from '../scramble/crypto/backend.js';
import { validIdentityKey } from './registration.js';

/** The operator's admission policy (CS config `admission`, docs/running.md). */
export interface AdmissionPolicy {
  /** "any" proxy, or only these Ed25519 identity keys (hex, lower case). */
  allow: 'any' | ReadonlySet<string>;
  /** Most proxies listed in all (≤ MAX_PROXIES). */
  maxProxies: number;
  /** Most proxies listed per IP address (IPv6: per /64). */
  maxProxiesPerIp: number;
}

export const OPEN_POLICY: AdmissionPolicy = {
  allow: 'any',
  maxProxies: MAX_PROXIES,
  maxProxiesPerIp: DEFAULT_MAX_PROXIES_PER_IP,
};

export type DescriptorOutcome =
  | { drop: DropReason; detail?: string }
  /** Listed (or refreshed): acknowledge. */
  | { listed: true }
  /** Valid, but its address has not answered yet: send this probe and list it when the answer comes. */
  | { probe: { to: Peer; nonce: Uint8Array } };

interface Pending {
  id: string;
  descriptor: NodeDescriptor;
  address: string;
  expiresMs: number;
}

/**
 * Which proxies CS lists in the directory (issue 10, F1, F2). Anyone can send a
 * self-signed descriptor; before this, CS listed every one, and three forged
 * descriptors with 30 KB addresses blinded the network, one low-order mix key
 * crashed every source. Now a descriptor is listed only when:
 *
 * - it decodes, names a valid identity key, and its address and mix keys are
 *   usable (src/node/nodeValidation.ts: IP:PORT, ≤ 47 characters, ≤ 3 keys,
 *   none of low order);
 * - its signature verifies, and it is fresh (± FRESHNESS_MS) and newer than
 *   the one listed for that key;
 * - the operator's policy allows the key (open, or an allow-list);
 * - the caps hold: MAX_PROXIES in total (configurable below it), and
 *   `maxProxiesPerIp` per IP address;
 * - its advertised address has answered a reachability probe: CS sends a
 *   random nonce there, and the proxy must send it back from that address.
 *   So nobody can list an address they do not receive at. A proven address
 *   stays proven for PROBE_VALID_MS. Probes to one IP are rate limited, and a
 *   probe is smaller than the descriptor that caused it, so CS cannot be
 *   used to flood a third party.
 */
export class ProxyAdmission {
  private readonly listedById = new Map<string, NodeDescriptor>();
  private readonly pending = new Map<string, Pending>();
  /** Identity key hex → the address it proved, and until when. */
  private readonly proven = new Map<string, { address: string; untilMs: number }>();
  private readonly probeLimiter: PeerRateLimiter;
  private listedAddresses = new Set<string>();
  /** Bumped whenever the listed set, an address or a key changes. */
  version = 0;

  constructor(
    private readonly crypto: CryptoBackend,
    private readonly policy: AdmissionPolicy,
    /** A listed proxy whose last descriptor is older than this is dropped. */
    private readonly staleAfterMs: number,
    nowMs: number,
  ) {
    this.probeLimiter = new PeerRateLimiter(PROBES_TO_ONE_IP, null, nowMs);
  }

  /** Proxies in the directory, sorted by identity key. */
  listed(): NodeDescriptor[] {
    return [...this.listedById.values()].sort((a, b) => hex(a.identityKey).localeCompare(hex(b.identityKey)));
  }

  get size(): number {
    return this.listedById.size;
  }

  /** Whether "IP:PORT" is the address of a listed proxy (it gets a mix's rate budget). */
  isListedAddress(peer: string): boolean {
    return this.listedAddresses.has(peer);
  }

  onDescriptor(bytes: Uint8Array, signature: Uint8Array, nowMs: number): DescriptorOutcome {
    let desc: NodeDescriptor;
    try {
      desc = decodeDescriptor(bytes);
    } catch (err) {
      if (err instanceof MalformedMessage) return { drop: 'bad_descriptor', detail: err.message };
      throw err;
    }
    if (!validIdentityKey(this.crypto, desc.identityKey)) return { drop: 'bad_identity_key', detail: 'descriptor' };
    const problem = nodeProblem(this.crypto, desc);
    if (problem) return { drop: 'bad_descriptor', detail: problem };
    if (!this.crypto.ed25519Verify(desc.identityKey, signedBytes('descriptor', bytes), signature)) {
      return { drop: 'bad_signature', detail: 'descriptor' };
    }
    if (Math.abs(nowMs - desc.timestampMs) >= FRESHNESS_MS) return { drop: 'stale', detail: 'descriptor' };
    const id = hex(desc.identityKey);
    const prev = this.listedById.get(id);
    if (prev && prev.timestampMs >= desc.timestampMs) return { drop: 'stale', detail: 'descriptor' };
    if (this.policy.allow !== 'any' && !this.policy.allow.has(id)) return { drop: 'proxy_not_allowed' };
    const cap = this.capProblem(id, desc.address);
    if (cap) return { drop: cap };

    const proven = this.proven.get(id);
    if (proven && proven.address === desc.address && proven.untilMs > nowMs) {
      this.list(id, desc);
      return { listed: true };
    }
    const to = parsePeer(desc.address) as Peer;
    // One probe in flight per identity: a proxy re-sending its descriptor is not probed again meanwhile.
    for (const [nonceHex, p] of this.pending) {
      if (p.id === id && p.address === desc.address && p.expiresMs > nowMs) {
        p.descriptor = desc;
        return { probe: { to, nonce: Buffer.from(nonceHex, 'hex') } };
      }
    }
    if (!this.probeLimiter.allow(ipCapKey(to), nowMs)) return { drop: 'rate_limited', detail: 'probe' };
    if (this.pending.size >= MAX_PENDING_PROBES) {
      this.pending.delete(this.pending.keys().next().value as string);
    }
    const nonce = this.crypto.randomBytes(PROBE_NONCE_BYTES);
    this.pending.set(hex(nonce), { id, descriptor: desc, address: desc.address, expiresMs: nowMs + PROBE_TIMEOUT_MS });
    return { probe: { to, nonce } };
  }

  /** The answer to a probe: lists the descriptor it was for, or says why not. */
  onProbeReply(nonce: Uint8Array, from: Peer, nowMs: number): DropReason | null {
    const key = hex(nonce);
    const p = this.pending.get(key);
    if (!p || p.expiresMs <= nowMs || peerKey(from) !== p.address) return 'bad_probe_reply';
    this.pending.delete(key);
    // The caps may have filled while the probe was out.
    const cap = this.capProblem(p.id, p.address);
    if (cap) return cap;
    const prev = this.listedById.get(p.id);
    if (prev && prev.timestampMs >= p.descriptor.timestampMs) return null;
    if (this.proven.size >= 2 * MAX_PROXIES) this.proven.delete(this.proven.keys().next().value as string);
    this.proven.set(p.id, { address: p.address, untilMs: nowMs + PROBE_VALID_MS });
    this.list(p.id, p.descriptor);
    return null;
  }

  /** Forgets stale proxies, expired probes and proofs; true when the listed set changed. */
  expire(nowMs: number): boolean {
    let changed = false;
    for (const [id, d] of this.listedById) {
      if (d.timestampMs < nowMs - this.staleAfterMs) {
        this.listedById.delete(id);
        changed = true;
      }
    }
    for (const [k, p] of this.pending) if (p.expiresMs <= nowMs) this.pending.delete(k);
    for (const [k, v] of this.proven) if (v.untilMs <= nowMs) this.proven.delete(k);
    if (changed) this.changed();
    return changed;
  }

  private capProblem(id: string, address: string): DropReason | null {
    const listedAlready = this.listedById.get(id);
    const maxTotal = Math.min(this.policy.maxProxies, MAX_PROXIES);
    if (!listedAlready && this.listedById.size >= maxTotal) return 'proxy_cap';
    const ip = ipCapKey(parsePeer(address) as Peer);
    let sameIp = 0;
    for (const [other, d] of this.listedById) {
      if (other !== id && ipCapKey(parsePeer(d.address) as Peer) === ip) sameIp++;
    }
    return sameIp >= this.policy.maxProxiesPerIp ? 'proxy_ip_cap' : null;
  }

  private list(id: string, desc: NodeDescriptor): void {
    const prev = this.listedById.get(id);
    this.listedById.set(id, desc);
    if (!prev || prev.address !== desc.address || keysOf(prev) !== keysOf(desc)) this.changed();
  }

  private changed(): void {
    this.version++;
    this.listedAddresses = new Set([...this.listedById.values()].map((d) => peerKey(parsePeer(d.address) as Peer)));
  }
}

function keysOf(d: NodeDescriptor): string {
  return d.mixKeys.map((k) => `${k.epoch}:${hex(k.publicKey)}`).join(',');
}

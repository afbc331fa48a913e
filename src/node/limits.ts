/**
 * Limits that keep a daemon standing when strangers send it whatever they like
 * (issue 10): every table, queue and cache that network input can grow has its
 * bound here, with the unit in the name, so a reviewer sees them side by side.
 * Specification constants (sizes on the wire) live with their codecs; these are
 * implementation limits a node may choose differently without breaking anyone.
 */

/** A token bucket: `perSecond` tokens refill continuously, at most `burst` are saved up. */
export interface RateLimit {
  perSecond: number;
  burst: number;
}

// ---- Per-previous-hop rate limits (src/node/rateLimiter.ts) -------------------------------

/**
 * Sphinx packets from a node listed in the directory (a proxy or CS, by its
 * advertised IP:PORT). Mixes forward everything they hold to each other, so this
 * is high; it only stops a spoofer that borrows a mix's address from taking more
 * than a mix could plausibly send.
 */
export const SPHINX_FROM_DIRECTORY_NODE: RateLimit = { perSecond: 20_000, burst: 20_000 };
/**
 * Sphinx packets from one address that is not in the directory (a source, or a
 * stranger). A source sends λ + loop packets per second (1.25 by default); with
 * cover off, bursts such as a reliable message of up to 64 fragments. Each
 * packet costs an X25519 per held key before anything can be refused.
 */
export const SPHINX_FROM_STRANGER: RateLimit = { perSecond: 50, burst: 100 };
/**
 * All addresses that are not in the directory together: bounds the CPU a crowd of strangers can
 * take (about what one core unwraps), so that they only ever get a share of it.
 */
export const SPHINX_FROM_ALL_STRANGERS: RateLimit = { perSecond: 2_000, burst: 4_000 };
/** Control messages from one address CS already serves (a listed proxy, a source with a session). */
export const CONTROL_FROM_KNOWN_ADDRESS: RateLimit = { perSecond: 100, burst: 200 };
/**
 * Control messages from one address CS does not know yet (hello, register, descriptor, dirRequest,
 * probeReply of a node joining): a joining node needs a few, plus its directory's pages.
 */
export const CONTROL_FROM_STRANGER: RateLimit = { perSecond: 20, burst: 50 };
/**
 * Control messages from all unknown addresses together (each may cost CS a signature check and a
 * box). Peers CS already serves (listed proxies, sources with a session) are not counted here, so a
 * crowd of strangers cannot crowd out their keepalives.
 */
export const CONTROL_FROM_ALL_STRANGERS: RateLimit = { perSecond: 2_000, burst: 4_000 };
/** Reachability probes CS sends to one IP (an advertised address may name a victim). */
export const PROBES_TO_ONE_IP: RateLimit = { perSecond: 5, burst: 20 };
/**
 * Most addresses a limiter tracks; beyond, the least recently seen is forgotten.
 * An address that comes back gets a fresh bucket: the aggregate bucket is what
 * still holds against a spoofer cycling through more addresses than this.
 */
export const MAX_TRACKED_ADDRESSES = 16_384;

// ---- Proxy delay queue admission (src/proxy/queueAdmission.ts) ---------------------------

/** Share of the delay queue one previous hop may occupy: ~2,000 packets/s asking for 5 s cannot fill it. */
export const QUEUE_SHARE_PER_PREVIOUS_HOP = 1 / 8;
/** A hop delay above this many times the directory's mean is "long" (legitimately rare: e^-8 ≈ 0.03 %). */
export const LONG_DELAY_FACTOR = 8;
/** Share of the delay queue long-delay packets may occupy together; the rest is reserved for short ones. */
export const LONG_DELAY_QUEUE_SHARE = 1 / 2;

// ---- Proxy admission at CS (src/central/proxyAdmission.ts) -------------------------------

/** Most proxies a directory lists (the decoder refuses more, the encoder never writes more). */
export const MAX_PROXIES = 1000;
/** Default most proxies listed per IP address (IPv6: per /64); the operator may change it. */
export const DEFAULT_MAX_PROXIES_PER_IP = 8;
/** Longest advertised address: "[" + 39-character IPv6 + "]:" + 5-digit port. */
export const MAX_ADDRESS_CHARS = 47;
/** Most mix keys one descriptor may publish: the current and next epoch, plus one in its grace window. */
export const MAX_DESCRIPTOR_MIX_KEYS = 3;
/** A reachability probe must be answered within this. */
export const PROBE_TIMEOUT_MS = 5_000;
/** Probes awaiting an answer; a new one evicts the oldest. */
export const MAX_PENDING_PROBES = 256;
/** A proxy whose address answered a probe is not probed again for this long (at the same address). */
export const PROBE_VALID_MS = 10 * 60_000;

// ---- Directory (src/node/directory.ts, src/node/directoryFetcher.ts) ---------------------

/**
 * Every directory request and every directory page is at most this many bytes
 * on the wire; a request is padded to exactly this, so a page answer is never
 * larger than what asked for it (no amplification). 1200 bytes stays below the
 * path MTU of IPv4 and IPv6 (no IP fragments).
 */
export const DIRECTORY_FRAME_BYTES = 1200;
/** CS re-signs its directory at least this often, so an honest copy is never older than this. */
export const DIRECTORY_REISSUE_MS = 60_000;
/** A node refuses a directory issued longer ago than this by its own clock (replayed old copies). */
export const DIRECTORY_MAX_AGE_MS = 10 * 60_000;
/** Pages requested at once while assembling a directory. */
export const DIRECTORY_PAGES_IN_FLIGHT = 16;

// ---- Registration and sessions at CS (src/central/registration.ts) -----------------------

/** Clock skew accepted on signed keepalives, acks, descriptors and directories. */
export const FRESHNESS_MS = 5 * 60_000;
/** A registration challenge is good for this long after CS made it. */
export const CHALLENGE_TTL_MS = 30_000;

// ---- Replay filter (src/node/replayFilter.ts) --------------------------------------------

/** Tags per key epoch the replay filter is sized for (its false-positive rate holds up to here). */
export const DEFAULT_REPLAY_CAPACITY_PER_EPOCH = 2_000_000;
/** Designed false-positive rate at capacity: the share of fresh packets wrongly refused as replays. */
export const REPLAY_FALSE_POSITIVE_RATE = 1e-6;
/** Tags persisted per epoch stop at this multiple of the capacity (disk bound); memory is fixed anyway. */
export const REPLAY_PERSIST_FACTOR = 2;

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { packetGeometry } from '../scramble/geometry.js';
import type { NetworkParams as DirectoryParams } from './directory.js';
import { DEFAULT_MAX_PROXIES_PER_IP, MAX_PROXIES } from './limits.js';
import { securityProblems } from './securityFloor.js';

/**
 * Daemon configuration: one JSON file per node, plus CLI overrides merged on
 * top. Validation is strict (unknown fields are errors) because a misspelt
 * privacy setting that silently falls back to its default, e.g. a cover rate
 * left at 0, weakens anonymity without any visible symptom.
 */
export const ROLES = ['central', 'proxy', 'source'] as const;
export type Role = (typeof ROLES)[number];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const CRYPTO_BACKENDS = ['sodium', 'noble'] as const;
export type CryptoChoice = (typeof CRYPTO_BACKENDS)[number];

export interface HostPort {
  /** IP literal, without brackets for IPv6. */
  host: string;
  port: number;
  family: 4 | 6;
}

/**
 * Network-wide parameters; only the central's copy matters: it publishes the
 * directory part to everyone and keeps the mailbox limits for itself.
 */
export interface NetworkParams extends DirectoryParams {
  mailboxTtlSeconds: number;
  mailboxQuota: number;
}

export interface CentralRef {
  address: HostPort;
  /** The central server's Ed25519 public key (32 bytes). */
  key: Uint8Array;
}

export interface Config {
  role: Role;
  listen: HostPort;
  /** Absolute. */
  dataDir: string;
  logLevel: LogLevel;
  metrics: HostPort | null;
  crypto: CryptoChoice;
  /** Set for proxy and source; null for central (any `central` section is ignored there). */
  central: CentralRef | null;
  network: NetworkParams;
  queue: { capacity: number };
  /** Source only: local UDP bridges, one per group (`mixd group bind`). */
  bridges: BridgeConfig[];
  /** Source only: rotate the keys of groups this source administers this often; 0 = never. Default one day. */
  groupRotationSeconds: number;
  /**
   * Run with network parameters below the security floor (src/node/securityFloor.ts): CS
   * starts with them, proxies and sources accept such a directory. Off by default.
   */
  insecureNoCover: boolean;
  /** CS only: which proxies it lists (docs/running.md, "Admitting proxies"). */
  admission: AdmissionConfig;
}

export interface AdmissionConfig {
  /** "any", or the hex Ed25519 identity keys of the proxies allowed (lower case). */
  allow: 'any' | string[];
  maxProxies: number;
  maxProxiesPerIp: number;
}

export interface BridgeConfig {
  group: string;
  listen: HostPort;
  app: HostPort;
}

/** The file's shape, every field optional: what `overrides` may carry (e.g. from CLI flags). */
export interface ConfigOverrides {
  role?: string;
  listen?: string;
  dataDir?: string;
  logLevel?: string;
  metrics?: string | null;
  crypto?: string;
  central?: { address?: string; key?: string };
  network?: Partial<NetworkParams>;
  queue?: { capacity?: number };
  bridges?: Array<{ group?: string; listen?: string; app?: string }>;
  groupRotationSeconds?: number;
  insecureNoCover?: boolean;
  admission?: { allow?: 'any' | string[]; maxProxies?: number; maxProxiesPerIp?: number };
}

/**
 * Secure by default (issue 10, F12): delays, cover and loops are on, at the
 * least that passes the security floor (src/node/securityFloor.ts): mix
 * occupancy 2 · 5 · 0.2 = 2 packets. What they cost an idle source is stated
 * in docs/running.md.
 */
export const DEFAULT_NETWORK: Readonly<NetworkParams> = Object.freeze({
  packetSize: 2048,
  maxHops: 5,
  meanDelayMs: 200,
  maxDelayMs: 5000,
  epochSeconds: 3600,
  graceSeconds: 300,
  mailboxTtlSeconds: 604800,
  mailboxQuota: 10000,
  lambdaPerSecond: 1,
  loopPerSecond: 0.25,
  mixLoopPerSecond: 5,
  deliveryPerSecond: 1,
});

export const DEFAULT_QUEUE_CAPACITY = 10000;

export class ConfigError extends Error {
  /** Dotted path of the offending field, or null for a problem with the file as a whole. */
  readonly field: string | null;
  constructor(field: string | null, message: string) {
    super(field === null ? message : `config field "${field}": ${message}`);
    this.name = 'ConfigError';
    this.field = field;
  }
}

/** Reads, merges `overrides` over, and validates a JSON config file. */
export function loadConfig(configPath: string, overrides: ConfigOverrides = {}): Config {
  const file = path.resolve(configPath);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file; pass the path of an existing JSON config' : String(err);
    throw new ConfigError(null, `config file ${file}: ${why}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(null, `config file ${file}: not valid JSON (${(err as Error).message})`);
  }
  return validateConfig(raw, path.dirname(file), overrides);
}

/**
 * Validates an already parsed config. A relative `dataDir` from the file is
 * resolved against `baseDir` (the file's folder, so the node finds its data
 * whatever the working directory); one from `overrides` came from a command
 * line and is resolved against the working directory, like any CLI path.
 */
export function validateConfig(raw: unknown, baseDir: string, overrides: ConfigOverrides = {}): Config {
  const file = objectWith(raw, '', TOP_FIELDS);
  const merged = objectWith(deepMerge(file, overrides), '', TOP_FIELDS);
  const dataDirBase = overrides.dataDir !== undefined ? process.cwd() : baseDir;

  const role = oneOf(merged.role, 'role', ROLES, undefined);
  const listen = parseHostPort(required(merged.listen, 'listen', HOST_PORT_HINT), 'listen', { allowPortZero: true });
  const dataDirRaw = required(merged.dataDir, 'dataDir', 'a folder for keys and the database, e.g. "./data"');
  if (typeof dataDirRaw !== 'string' || dataDirRaw.trim() === '') {
    throw new ConfigError('dataDir', `must be a non-empty path string (got ${got(dataDirRaw)})`);
  }
  const logLevel = oneOf(merged.logLevel, 'logLevel', LOG_LEVELS, 'info');
  const metrics =
    merged.metrics === undefined || merged.metrics === null
      ? null
      : parseHostPort(merged.metrics, 'metrics', { allowPortZero: true });
  // The file (or --crypto) wins; else MIXD_CRYPTO, as for library users of getCrypto(); else sodium.
  const envCrypto =
    process.env.MIXD_CRYPTO === 'noble' || process.env.MIXD_CRYPTO === 'sodium' ? process.env.MIXD_CRYPTO : 'sodium';
  const crypto = oneOf(merged.crypto, 'crypto', CRYPTO_BACKENDS, envCrypto);
  const central = role === 'central' ? null : parseCentral(merged.central, role);
  const network = parseNetwork(merged.network);
  const queueRaw = objectWith(merged.queue ?? {}, 'queue', ['capacity']);
  const queue = { capacity: integer(queueRaw.capacity, 'queue.capacity', 1, 10_000_000, DEFAULT_QUEUE_CAPACITY) };

  const bridges = parseBridges(merged.bridges, role);
  // Groups this source administers get a new key on this schedule (forward secrecy of the group layer).
  const groupRotationSeconds = integer(merged.groupRotationSeconds, 'groupRotationSeconds', 0, 365 * 86400, 86400);
  const insecureNoCover = boolean(merged.insecureNoCover, 'insecureNoCover', false);
  if (role === 'central' && !insecureNoCover) {
    const problems = securityProblems(network);
    if (problems.length > 0) {
      throw new ConfigError(
        'network',
        `parameters below the security floor: ${problems.join('; ')}. Raise them, or set "insecureNoCover": true (--insecure-no-cover) to run without that protection deliberately`,
      );
    }
  }
  const admission = parseAdmission(merged.admission, role);

  return {
    role,
    listen,
    bridges,
    groupRotationSeconds,
    dataDir: path.resolve(dataDirBase, dataDirRaw),
    logLevel,
    metrics,
    crypto,
    central,
    network,
    queue,
    insecureNoCover,
    admission,
  };
}

const HOST_PORT_HINT = 'expected HOST:PORT such as 127.0.0.1:7000 or [::1]:7000';

/**
 * Parses "1.2.3.4:7000" or "[::1]:7000". Hosts must be IP literals: the
 * socket family has to be known up front, and resolving names at start-up
 * would leak which mix network this host is joining to its DNS resolver.
 */
export function parseHostPort(s: unknown, field = 'address', options: { allowPortZero?: boolean } = {}): HostPort {
  const bad = (extra = '') => new ConfigError(field, `${HOST_PORT_HINT}${extra} (got ${got(s)})`);
  if (typeof s !== 'string') throw bad();
  const v6 = /^\[([^\]]+)\]:(\d{1,5})$/.exec(s);
  const v4 = /^([^:[\]]+):(\d{1,5})$/.exec(s);
  const m = v6 ?? v4;
  if (!m) throw bad();
  const host = m[1];
  const family = v6 ? 6 : 4;
  if (family === 6 ? !net.isIPv6(host) : !net.isIPv4(host)) throw bad('; HOST must be an IP address, not a name');
  const port = Number(m[2]);
  const minPort = options.allowPortZero ? 0 : 1;
  if (port < minPort || port > 65535) throw bad(`; PORT must be ${minPort}..65535`);
  return { host, port, family };
}

/** "IP:PORT", with brackets for IPv6: the inverse of parseHostPort (and what peerKey prints). */
export function formatHostPort(hp: { host: string; port: number }): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

const TOP_FIELDS = [
  'role',
  'listen',
  'dataDir',
  'logLevel',
  'metrics',
  'crypto',
  'central',
  'network',
  'queue',
  'bridges',
  'groupRotationSeconds',
  'insecureNoCover',
  'admission',
];
const NETWORK_FIELDS = Object.keys(DEFAULT_NETWORK);

function parseCentral(value: unknown, role: Role): CentralRef {
  if (value === undefined || value === null) {
    throw new ConfigError(
      'central',
      `required for role "${role}"; add { "address": "HOST:PORT", "key": "<64 hex chars of the central's public key>" }`,
    );
  }
  const c = objectWith(value, 'central', ['address', 'key']);
  const address = parseHostPort(required(c.address, 'central.address', HOST_PORT_HINT), 'central.address');
  const key = required(c.key, 'central.key', "64 hex characters: the central server's Ed25519 public key");
  if (typeof key !== 'string' || !/^[0-9a-fA-F]{64}$/.test(key)) {
    throw new ConfigError(
      'central.key',
      `must be 64 hex characters (the central server's Ed25519 public key) (got ${got(key)})`,
    );
  }
  return { address, key: new Uint8Array(Buffer.from(key, 'hex')) };
}

function parseNetwork(value: unknown): NetworkParams {
  const n = objectWith(value ?? {}, 'network', NETWORK_FIELDS);
  const d = DEFAULT_NETWORK;
  const maxHops = integer(n.maxHops, 'network.maxHops', 1, 16, d.maxHops);
  const packetSize = integer(n.packetSize, 'network.packetSize', 512, 65000, d.packetSize);
  try {
    packetGeometry(packetSize, maxHops);
  } catch {
    const min = packetGeometry(65000, maxHops).headerBytes + 256;
    throw new ConfigError(
      'network.packetSize',
      `must be at least ${min} to fit ${maxHops} hops and a payload (got ${got(packetSize)}); raise it or lower network.maxHops`,
    );
  }
  const meanDelayMs = numberIn(n.meanDelayMs, 'network.meanDelayMs', 0, 60_000, d.meanDelayMs);
  const maxDelayMs = integer(n.maxDelayMs, 'network.maxDelayMs', 0, 600_000, d.maxDelayMs);
  if (maxDelayMs < meanDelayMs) {
    throw new ConfigError(
      'network.maxDelayMs',
      `must be at least network.meanDelayMs (${meanDelayMs}) (got ${maxDelayMs}); raise it or lower the mean`,
    );
  }
  const epochSeconds = integer(n.epochSeconds, 'network.epochSeconds', 60, 30 * 86400, d.epochSeconds);
  const graceDefault = Math.min(d.graceSeconds, epochSeconds - 1);
  const graceSeconds = integer(n.graceSeconds, 'network.graceSeconds', 0, epochSeconds - 1, graceDefault);
  return {
    packetSize,
    maxHops,
    meanDelayMs,
    maxDelayMs,
    epochSeconds,
    graceSeconds,
    mailboxTtlSeconds: integer(n.mailboxTtlSeconds, 'network.mailboxTtlSeconds', 60, 365 * 86400, d.mailboxTtlSeconds),
    mailboxQuota: integer(n.mailboxQuota, 'network.mailboxQuota', 1, 10_000_000, d.mailboxQuota),
    lambdaPerSecond: numberIn(n.lambdaPerSecond, 'network.lambdaPerSecond', 0, 10_000, d.lambdaPerSecond),
    loopPerSecond: numberIn(n.loopPerSecond, 'network.loopPerSecond', 0, 10_000, d.loopPerSecond),
    mixLoopPerSecond: numberIn(n.mixLoopPerSecond, 'network.mixLoopPerSecond', 0, 10_000, d.mixLoopPerSecond),
    deliveryPerSecond: numberIn(n.deliveryPerSecond, 'network.deliveryPerSecond', 0, 10_000, d.deliveryPerSecond),
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An object whose keys are all in `valid`. `field` is '' for the top level. */
function objectWith(value: unknown, field: string, valid: readonly string[]): Record<string, unknown> {
  if (!isPlainObject(value)) {
    const what = field === '' ? 'the config file must contain a JSON object' : 'must be an object';
    throw new ConfigError(field === '' ? null : field, `${what} (got ${got(value)})`);
  }
  for (const key of Object.keys(value)) {
    if (!valid.includes(key)) {
      const name = field === '' ? key : `${field}.${key}`;
      throw new ConfigError(name, `unknown field; valid fields here are ${valid.join(', ')}`);
    }
  }
  return value;
}

/** Overrides win; nested objects merge key by key; undefined (an unset CLI flag) changes nothing. */
function deepMerge(base: Record<string, unknown>, over: object): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const current = out[key];
    out[key] = isPlainObject(value) && isPlainObject(current) ? deepMerge(current, value) : value;
  }
  return out;
}

function required(value: unknown, field: string, hint: string): unknown {
  if (value === undefined || value === null) throw new ConfigError(field, `required; ${hint}`);
  return value;
}

function oneOf<T extends string>(value: unknown, field: string, options: readonly T[], fallback: T | undefined): T {
  const list = options.map((o) => `"${o}"`).join(', ');
  if (value === undefined && fallback !== undefined) return fallback;
  if (value === undefined || value === null) throw new ConfigError(field, `required; one of ${list}`);
  if (typeof value !== 'string' || !(options as readonly string[]).includes(value)) {
    throw new ConfigError(field, `must be one of ${list} (got ${got(value)})`);
  }
  return value as T;
}

function integer(value: unknown, field: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(field, `must be an integer between ${min} and ${max} (got ${got(value)})`);
  }
  return value;
}

function numberIn(value: unknown, field: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(field, `must be a number between ${min} and ${max} (got ${got(value)})`);
  }
  return value;
}

/** The offending value as JSON, cut short so a pasted key or blob cannot flood the terminal. */
function got(value: unknown): string {
  if (value === undefined) return 'nothing';
  let s: string;
  try {
    s = JSON.stringify(value) ?? String(value);
  } catch {
    s = String(value);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function parseBridges(raw: unknown, role: Role): BridgeConfig[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    throw new ConfigError(
      'bridges',
      `must be a list like [{"group": "friends", "listen": "127.0.0.1:9000", "app": "127.0.0.1:9001"}] (got ${got(raw)})`,
    );
  }
  if (raw.length > 0 && role !== 'source')
    throw new ConfigError('bridges', 'only a source has group bridges; remove this field');
  return raw.map((b, i) => {
    const f = `bridges[${i}]`;
    const o = objectWith(b, f, ['group', 'listen', 'app']);
    if (typeof o.group !== 'string' || o.group === '')
      throw new ConfigError(`${f}.group`, `must be a group name (got ${got(o.group)})`);
    const listen = parseHostPort(o.listen, `${f}.listen`);
    const app = parseHostPort(o.app, `${f}.app`);
    // F14: a bridge carries the group's plaintext; it must never reach another machine.
    for (const [name, hp] of [
      ['listen', listen],
      ['app', app],
    ] as const) {
      if (!(hp.host === '::1' || hp.host.startsWith('127.'))) {
        throw new ConfigError(
          `${f}.${name}`,
          `must be a loopback address (127.0.0.1 or ::1), not ${formatHostPort(hp)}`,
        );
      }
    }
    return { group: o.group, listen, app };
  });
}

function boolean(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new ConfigError(field, `must be true or false (got ${got(value)})`);
  return value;
}

function parseAdmission(raw: unknown, role: Role): AdmissionConfig {
  const defaults: AdmissionConfig = {
    allow: 'any',
    maxProxies: MAX_PROXIES,
    maxProxiesPerIp: DEFAULT_MAX_PROXIES_PER_IP,
  };
  if (raw === undefined) return defaults;
  if (role !== 'central') throw new ConfigError('admission', 'only a central server admits proxies; remove this field');
  const o = objectWith(raw, 'admission', ['allow', 'maxProxies', 'maxProxiesPerIp']);
  let allow: AdmissionConfig['allow'] = 'any';
  if (o.allow !== undefined && o.allow !== 'any') {
    if (!Array.isArray(o.allow) || o.allow.some((k) => typeof k !== 'string' || !/^[0-9a-fA-F]{64}$/.test(k))) {
      throw new ConfigError(
        'admission.allow',
        `must be "any" or a list of proxy identity keys (64 hex characters each, as \`mixd init\` prints them) (got ${got(o.allow)})`,
      );
    }
    allow = (o.allow as string[]).map((k) => k.toLowerCase());
  }
  return {
    allow,
    maxProxies: integer(o.maxProxies, 'admission.maxProxies', 1, MAX_PROXIES, MAX_PROXIES),
    maxProxiesPerIp: integer(
      o.maxProxiesPerIp,
      'admission.maxProxiesPerIp',
      1,
      MAX_PROXIES,
      DEFAULT_MAX_PROXIES_PER_IP,
    ),
  };
}

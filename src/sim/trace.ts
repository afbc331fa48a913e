/**
 * The simulation trace: JSON lines, one record per line, every time in
 * virtual ms (docs/simulation.md, "Trace format"). Observable records
 * (`meta`, `link`, `obs`, `attack`, `alarm`) are what adversaries are cut
 * from; `truth` records are ground truth for the grader only. Matching is by
 * packet hash and message id, never by time.
 *
 * Pure codecs (`encodeTraceRecord`, `parseTraceLine`, `buildTrace`) plus thin
 * file helpers at the edge. A malformed line is a `TraceFormatError` naming
 * the line and the field, never another exception.
 */

import { closeSync, createReadStream, openSync, writeFileSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { CryptoBackend } from '../scramble/crypto/index.js';
import type {
  AlarmEvent,
  AttackAction,
  Endpoint,
  LinkEvent,
  NodeObservation,
  ObsOutput,
  PublicParams,
  Role,
} from './adversaries/observation.js';

export const TRACE_VERSION = 1;
/** Longest line a reader accepts (bytes of UTF-16 text); a fan-out obs of a big group is a few KB. */
export const MAX_TRACE_LINE_CHARS = 1_000_000;
/** Hex characters of a link hash (64 bits: a collision among 10^7 datagrams has probability ~3e-6). */
export const LINK_HASH_HEX_CHARS = 16;

/** Simulation parameters that are not public network parameters (workload, seed, duration). */
export interface RunParams {
  seed: number;
  /** Length of the observed interval (ms). */
  duration_ms: number;
  /** Start of the observed interval (ms, default 0). */
  start_ms?: number;
  [k: string]: number | string | boolean | undefined;
}

export interface MetaRecord {
  type: 'meta';
  version: typeof TRACE_VERSION;
  network: PublicParams;
  run: RunParams;
  endpoints: Endpoint[];
}

export interface LinkRecord extends LinkEvent {
  type: 'link';
}

export interface ObsRecord extends NodeObservation {
  type: 'obs';
}

export interface AttackRecord extends AttackAction {
  type: 'attack';
}

export interface AlarmRecord extends AlarmEvent {
  type: 'alarm';
}

export const PACKET_KINDS = ['real', 'cover', 'loop', 'read', 'ack', 'control', 'dummy', 'mixloop'] as const;
/** real: carries a group message (bundle, copy, or its delivery); dummy: CS-made filler; mixloop: a proxy's own loop. */
export type PacketKind = (typeof PACKET_KINDS)[number];

export interface TruthHop {
  hash: string;
  from: string;
  to: string;
  t: number;
}

/** One logical packet, hop by hop (the bytes change at each hop, so each hop has its own hash). */
export interface TruthPacketRecord {
  type: 'truth';
  what: 'packet';
  id: string;
  kind: PacketKind;
  /** Message id, for packets that carry (part of) a message. */
  msg?: string;
  /** Intended recipient endpoint (a copy, a delivery). */
  recipient?: string;
  /** Every link the packet crossed, in order; CS→source redeliveries are further hops. */
  hops: TruthHop[];
}

/** P2's fan-out: one bundle packet became these copy packets. */
export interface TruthFanoutRecord {
  type: 'truth';
  what: 'fanout';
  t: number;
  node: string;
  bundle: string;
  copies: string[];
  msg?: string;
}

export interface TruthMessageRecord {
  type: 'truth';
  what: 'message';
  id: string;
  group: string;
  sender: string;
  /** Intended recipients (endpoints). */
  recipients: string[];
  sentAt: number;
  /** First receipt by each recipient's application. */
  received: Array<{ recipient: string; t: number }>;
}

/** A group's members from `t` on (a new record replaces the previous one of the group). */
export interface TruthMembershipRecord {
  type: 'truth';
  what: 'membership';
  t: number;
  group: string;
  members: string[];
}

export type TruthRecord = TruthPacketRecord | TruthFanoutRecord | TruthMessageRecord | TruthMembershipRecord;
export type TraceRecord = MetaRecord | LinkRecord | ObsRecord | AttackRecord | AlarmRecord | TruthRecord;

/** A whole trace, indexed by record type. Observable arrays are sorted by time. */
export interface Trace {
  meta: MetaRecord;
  links: LinkEvent[];
  obs: NodeObservation[];
  attacks: AttackAction[];
  alarms: AlarmEvent[];
  truth: {
    packets: TruthPacketRecord[];
    fanouts: TruthFanoutRecord[];
    messages: TruthMessageRecord[];
    memberships: TruthMembershipRecord[];
  };
  /** Records of a type this reader does not know (a newer writer), skipped. */
  skipped: number;
}

export class TraceFormatError extends Error {
  readonly code = 'trace_format';
  constructor(
    readonly line: number | undefined,
    readonly field: string,
    detail: string,
  ) {
    super(`trace${line === undefined ? '' : ` line ${line}`}: ${field}: ${detail}`);
    this.name = 'TraceFormatError';
  }
}

/** Short hash of a datagram's bytes, as written in `link` records. */
export function linkHash(bytes: Uint8Array, crypto: CryptoBackend): string {
  return Buffer.from(crypto.blake2b(bytes, 16)).toString('hex').slice(0, LINK_HASH_HEX_CHARS);
}

export function encodeTraceRecord(record: TraceRecord): string {
  return JSON.stringify(record);
}

// ---- validation ------------------------------------------------------------

type Obj = Record<string, unknown>;

class Fields {
  constructor(
    private readonly o: Obj,
    private readonly path: string,
    private readonly line: number | undefined,
  ) {}
  fail(field: string, detail: string): never {
    throw new TraceFormatError(this.line, `${this.path}${field}`, detail);
  }
  str(k: string): string {
    const v = this.o[k];
    if (typeof v !== 'string' || v.length === 0) this.fail(k, 'must be a non-empty string');
    return v;
  }
  optStr(k: string): string | undefined {
    return this.o[k] === undefined ? undefined : this.str(k);
  }
  num(k: string): number {
    const v = this.o[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(k, 'must be a finite number');
    return v;
  }
  optNum(k: string): number | undefined {
    return this.o[k] === undefined ? undefined : this.num(k);
  }
  nonNeg(k: string): number {
    const v = this.num(k);
    if (v < 0) this.fail(k, 'must be >= 0');
    return v;
  }
  int(k: string): number {
    const v = this.nonNeg(k);
    if (!Number.isInteger(v)) this.fail(k, 'must be an integer');
    return v;
  }
  bool(k: string): boolean {
    const v = this.o[k];
    if (typeof v !== 'boolean') this.fail(k, 'must be true or false');
    return v;
  }
  optBool(k: string): boolean | undefined {
    return this.o[k] === undefined ? undefined : this.bool(k);
  }
  obj(k: string): Fields {
    const v = this.o[k];
    if (!isObj(v)) this.fail(k, 'must be an object');
    return new Fields(v, `${this.path}${k}.`, this.line);
  }
  arr(k: string): unknown[] {
    const v = this.o[k];
    if (!Array.isArray(v)) this.fail(k, 'must be an array');
    return v;
  }
  strings(k: string): string[] {
    return this.arr(k).map((x, i) => {
      if (typeof x !== 'string' || x.length === 0) this.fail(`${k}[${i}]`, 'must be a non-empty string');
      return x;
    });
  }
  objects(k: string): Fields[] {
    return this.arr(k).map((x, i) => {
      if (!isObj(x)) this.fail(`${k}[${i}]`, 'must be an object');
      return new Fields(x, `${this.path}${k}[${i}].`, this.line);
    });
  }
  raw(k: string): unknown {
    return this.o[k];
  }
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const ROLES: readonly Role[] = ['central', 'proxy', 'source'];
const ATTACK_ACTIONS: readonly AttackAction['action'][] = ['block-start', 'block-end', 'drop', 'hold', 'flush'];

function oneOf<T extends string>(f: Fields, k: string, allowed: readonly T[]): T {
  const v = f.str(k);
  if (!(allowed as readonly string[]).includes(v)) f.fail(k, `must be one of ${allowed.join(', ')}`);
  return v as T;
}

function parseMeta(f: Fields): MetaRecord {
  const version = f.int('version');
  if (version !== TRACE_VERSION)
    f.fail('version', `unsupported trace version ${version} (this reader: ${TRACE_VERSION})`);
  const n = f.obj('network');
  const network: PublicParams = {
    mu_ms: n.nonNeg('mu_ms'),
    lambda_per_s: n.nonNeg('lambda_per_s'),
    loop_per_s: n.nonNeg('loop_per_s'),
    mix_loop_per_s: n.nonNeg('mix_loop_per_s'),
    delivery_per_s: n.nonNeg('delivery_per_s'),
    packet_bytes: n.int('packet_bytes'),
    hops_to_fanout: n.int('hops_to_fanout'),
    hops_after_fanout: n.int('hops_after_fanout'),
    sender_gets_copy: n.bool('sender_gets_copy'),
  };
  const deliveryBytes = n.raw('delivery_bytes') === undefined ? undefined : n.int('delivery_bytes');
  if (deliveryBytes !== undefined) network.delivery_bytes = deliveryBytes;
  if (network.hops_to_fanout < 1) n.fail('hops_to_fanout', 'must be >= 1');
  if (network.hops_after_fanout < 1) n.fail('hops_after_fanout', 'must be >= 1');
  const r = f.obj('run');
  const rawRun = f.raw('run') as Obj;
  const run: RunParams = { seed: r.num('seed'), duration_ms: r.nonNeg('duration_ms') };
  for (const [k, v] of Object.entries(rawRun)) {
    if (k === 'seed' || k === 'duration_ms') continue;
    if (k === '__proto__') r.fail(k, 'reserved name');
    if (typeof v === 'number' ? !Number.isFinite(v) : typeof v !== 'string' && typeof v !== 'boolean') {
      r.fail(k, 'must be a finite number, a string or a boolean');
    }
    run[k] = v as number | string | boolean;
  }
  if (run.start_ms !== undefined && typeof run.start_ms !== 'number') r.fail('start_ms', 'must be a number');
  const seen = new Set<string>();
  const endpoints = f.objects('endpoints').map((e): Endpoint => {
    const id = e.str('id');
    if (seen.has(id)) e.fail('id', `duplicate endpoint ${id}`);
    seen.add(id);
    const ep: Endpoint = { id, role: oneOf(e, 'role', ROLES) };
    const name = e.optStr('name');
    if (name !== undefined) ep.name = name;
    return ep;
  });
  return { type: 'meta', version: TRACE_VERSION, network, run, endpoints };
}

function parseLink(f: Fields): LinkRecord {
  return {
    type: 'link',
    t: f.num('t'),
    from: f.str('from'),
    to: f.str('to'),
    size: f.int('size'),
    hash: f.str('hash'),
  };
}

function parseObs(f: Fields): ObsRecord {
  const r: ObsRecord = { type: 'obs', t: f.num('t'), node: f.str('node'), op: f.str('op') };
  const inHash = f.optStr('in');
  if (inHash !== undefined) r.in = inHash;
  if (f.raw('out') !== undefined) {
    r.out = f.objects('out').map((o): ObsOutput => {
      const out: ObsOutput = { hash: o.str('hash'), to: o.str('to') };
      const d = o.raw('delayMs') === undefined ? undefined : o.nonNeg('delayMs');
      if (d !== undefined) out.delayMs = d;
      return out;
    });
  }
  for (const k of ['key', 'owner', 'entry'] as const) {
    const v = f.optStr(k);
    if (v !== undefined) r[k] = v;
  }
  const real = f.optBool('real');
  if (real !== undefined) r.real = real;
  if (f.raw('fields') !== undefined) {
    f.obj('fields');
    const fields: Record<string, string | number | boolean> = {};
    for (const [k, v] of Object.entries(f.raw('fields') as Obj)) {
      if (k === '__proto__') f.fail(`fields.${k}`, 'reserved name');
      if (typeof v === 'number' ? !Number.isFinite(v) : typeof v !== 'string' && typeof v !== 'boolean') {
        f.fail(`fields.${k}`, 'must be a finite number, a string or a boolean');
      }
      fields[k] = v as string | number | boolean;
    }
    r.fields = fields;
  }
  return r;
}

function parseAttack(f: Fields): AttackRecord {
  const r: AttackRecord = {
    type: 'attack',
    t: f.num('t'),
    attack: f.str('attack'),
    action: oneOf(f, 'action', ATTACK_ACTIONS),
    target: f.str('target'),
  };
  const hash = f.optStr('hash');
  if (hash !== undefined) r.hash = hash;
  const until = f.optNum('untilMs');
  if (until !== undefined) r.untilMs = until;
  return r;
}

function parseAlarm(f: Fields): AlarmRecord {
  const r: AlarmRecord = { type: 'alarm', t: f.num('t'), node: f.str('node'), name: f.str('name') };
  const v = f.optNum('value');
  if (v !== undefined) r.value = v;
  return r;
}

function parseTruth(f: Fields): TruthRecord {
  const what = f.str('what');
  switch (what) {
    case 'packet': {
      const r: TruthPacketRecord = {
        type: 'truth',
        what: 'packet',
        id: f.str('id'),
        kind: oneOf(f, 'kind', PACKET_KINDS),
        hops: f
          .objects('hops')
          .map((h) => ({ hash: h.str('hash'), from: h.str('from'), to: h.str('to'), t: h.num('t') })),
      };
      const msg = f.optStr('msg');
      if (msg !== undefined) r.msg = msg;
      const recipient = f.optStr('recipient');
      if (recipient !== undefined) r.recipient = recipient;
      return r;
    }
    case 'fanout': {
      const r: TruthFanoutRecord = {
        type: 'truth',
        what: 'fanout',
        t: f.num('t'),
        node: f.str('node'),
        bundle: f.str('bundle'),
        copies: f.strings('copies'),
      };
      const msg = f.optStr('msg');
      if (msg !== undefined) r.msg = msg;
      return r;
    }
    case 'message':
      return {
        type: 'truth',
        what: 'message',
        id: f.str('id'),
        group: f.str('group'),
        sender: f.str('sender'),
        recipients: f.strings('recipients'),
        sentAt: f.num('sentAt'),
        received: f.objects('received').map((x) => ({ recipient: x.str('recipient'), t: x.num('t') })),
      };
    case 'membership':
      return { type: 'truth', what: 'membership', t: f.num('t'), group: f.str('group'), members: f.strings('members') };
    default:
      return f.fail('what', 'must be packet, fanout, message or membership');
  }
}

/**
 * Parses one line. Returns null for a record type this reader does not know
 * (a newer writer may add types; readers skip them), throws
 * TraceFormatError for anything malformed.
 */
export function parseTraceLine(text: string, line?: number): TraceRecord | null {
  if (text.length > MAX_TRACE_LINE_CHARS) throw new TraceFormatError(line, 'line', 'too long');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TraceFormatError(line, 'line', `not JSON (${(err as Error).message})`);
  }
  if (!isObj(value)) throw new TraceFormatError(line, 'line', 'must be a JSON object');
  const f = new Fields(value, '', line);
  const type = f.str('type');
  switch (type) {
    case 'meta':
      return parseMeta(f);
    case 'link':
      return parseLink(f);
    case 'obs':
      return parseObs(f);
    case 'attack':
      return parseAttack(f);
    case 'alarm':
      return parseAlarm(f);
    case 'truth':
      return parseTruth(f);
    default:
      return null;
  }
}

/** Accumulates records into a Trace; exactly one `meta` record is required. */
export class TraceBuilder {
  private meta: MetaRecord | undefined;
  private readonly links: LinkEvent[] = [];
  private readonly obs: NodeObservation[] = [];
  private readonly attacks: AttackAction[] = [];
  private readonly alarms: AlarmEvent[] = [];
  private readonly truth: Trace['truth'] = { packets: [], fanouts: [], messages: [], memberships: [] };
  private skipped = 0;

  add(record: TraceRecord | null, line?: number): void {
    if (record === null) {
      this.skipped++;
      return;
    }
    switch (record.type) {
      case 'meta':
        if (this.meta) throw new TraceFormatError(line, 'type', 'a second meta record');
        this.meta = record;
        break;
      case 'link': {
        const { type: _t, ...ev } = record;
        this.links.push(ev);
        break;
      }
      case 'obs': {
        const { type: _t, ...ev } = record;
        this.obs.push(ev);
        break;
      }
      case 'attack': {
        const { type: _t, ...ev } = record;
        this.attacks.push(ev);
        break;
      }
      case 'alarm': {
        const { type: _t, ...ev } = record;
        this.alarms.push(ev);
        break;
      }
      case 'truth':
        if (record.what === 'packet') this.truth.packets.push(record);
        else if (record.what === 'fanout') this.truth.fanouts.push(record);
        else if (record.what === 'message') this.truth.messages.push(record);
        else this.truth.memberships.push(record);
        break;
    }
  }

  build(): Trace {
    if (!this.meta) throw new TraceFormatError(undefined, 'meta', 'missing: a trace needs one meta record');
    const byTime = <T extends { t: number }>(xs: T[]) => xs.sort((a, b) => a.t - b.t);
    return {
      meta: this.meta,
      links: byTime(this.links),
      obs: byTime(this.obs),
      attacks: byTime(this.attacks),
      alarms: byTime(this.alarms),
      truth: this.truth,
      skipped: this.skipped,
    };
  }
}

/** Builds a Trace from records (e.g. straight from a simulator, without text). */
export function buildTrace(records: Iterable<TraceRecord>): Trace {
  const b = new TraceBuilder();
  for (const r of records) b.add(r);
  return b.build();
}

/** Parses JSONL text (blank lines ignored). */
export function readTraceText(text: string): Trace {
  const b = new TraceBuilder();
  let line = 0;
  for (const raw of text.split('\n')) {
    line++;
    const s = raw.trim();
    if (s.length === 0) continue;
    b.add(parseTraceLine(s, line), line);
  }
  return b.build();
}

/** Streams a JSONL trace file (big traces do not need to fit in one string). */
export async function readTraceFile(path: string): Promise<Trace> {
  const b = new TraceBuilder();
  const rl = createInterface({
    input: createReadStream(path, { encoding: 'utf8' }),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let line = 0;
  for await (const raw of rl) {
    line++;
    const s = raw.trim();
    if (s.length === 0) continue;
    b.add(parseTraceLine(s, line), line);
  }
  return b.build();
}

/** The records of a trace, meta first, then observable records by time, then truth. */
export function traceRecords(trace: Trace): TraceRecord[] {
  const out: TraceRecord[] = [trace.meta];
  const timed: Array<LinkRecord | ObsRecord | AttackRecord | AlarmRecord> = [
    ...trace.links.map((e): LinkRecord => ({ type: 'link', ...e })),
    ...trace.obs.map((e): ObsRecord => ({ type: 'obs', ...e })),
    ...trace.attacks.map((e): AttackRecord => ({ type: 'attack', ...e })),
    ...trace.alarms.map((e): AlarmRecord => ({ type: 'alarm', ...e })),
  ];
  timed.sort((a, b) => a.t - b.t);
  out.push(
    ...timed,
    ...trace.truth.memberships,
    ...trace.truth.messages,
    ...trace.truth.packets,
    ...trace.truth.fanouts,
  );
  return out;
}

export function encodeTrace(records: Iterable<TraceRecord>): string {
  let s = '';
  for (const r of records) s += `${encodeTraceRecord(r)}\n`;
  return s;
}

export function writeTraceFile(path: string, records: Iterable<TraceRecord>): void {
  writeFileSync(path, encodeTrace(records));
}

/**
 * Writes records as they happen, buffered, to any sink (a file, a test
 * array): a long simulation never holds its whole trace in memory.
 */
export class TraceWriter {
  private chunk = '';

  constructor(
    private readonly sink: (text: string) => void,
    private readonly flushChars = 1 << 20,
  ) {}

  write(record: TraceRecord): void {
    this.chunk += `${encodeTraceRecord(record)}\n`;
    if (this.chunk.length >= this.flushChars) this.flush();
  }

  flush(): void {
    if (this.chunk.length === 0) return;
    this.sink(this.chunk);
    this.chunk = '';
  }
}

/** A TraceWriter on a new file (mode 0600: a trace holds ground truth); `close` flushes and closes it. */
export function openTraceFile(path: string): { writer: TraceWriter; close(): void } {
  const fd = openSync(path, 'w', 0o600);
  const writer = new TraceWriter((text) => {
    writeSync(fd, text);
  });
  return {
    writer,
    close() {
      writer.flush();
      closeSync(fd);
    },
  };
}

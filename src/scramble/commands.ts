import { InvalidArgument, MalformedPacket } from './errors.js';
import { COMMAND_BYTES, NODE_ID_BYTES, SURB_ID_BYTES } from './geometry.js';

/**
 * Per-hop routing commands, carried encrypted in the Sphinx header. Layout:
 * type(1) || fields || zero padding to COMMAND_BYTES. See docs/protocol.md.
 */
export type HopCommand =
  /** Forward to node `next` after holding the packet `delayMs` (sender-chosen, Poisson mix). */
  | { kind: 'relay'; next: Uint8Array; delayMs: number }
  /** Final hop at P2: the payload is a fan-out bundle (src/group). */
  | { kind: 'fanout' }
  /** Final hop at CS: deliver the body to `mailbox`. */
  | { kind: 'deliver'; mailbox: Uint8Array }
  /** Final hop at CS: the body starts with a token sealed to CS naming the mailbox. */
  | { kind: 'deliverToken' }
  /** Final hop of a SURB: hand the still-encrypted payload to `mailbox`, tagged `surbId`. */
  | { kind: 'surbReply'; mailbox: Uint8Array; surbId: Uint8Array }
  /** Final hop of a cover packet: discard after processing. */
  | { kind: 'drop' };

export const COMMAND_TYPE = {
  relay: 0x01,
  fanout: 0x02,
  deliver: 0x03,
  deliverToken: 0x04,
  surbReply: 0x05,
  drop: 0x06,
} as const;

export const MAX_DELAY_MS = 0xffffffff;

export function isFinal(cmd: HopCommand): boolean {
  return cmd.kind !== 'relay';
}

function need(field: string, v: Uint8Array, len: number): void {
  if (v.length !== len) throw new InvalidArgument(`${field} must be ${len} bytes, got ${v.length}`);
}

export function encodeCommand(cmd: HopCommand): Uint8Array {
  const out = new Uint8Array(COMMAND_BYTES);
  out[0] = COMMAND_TYPE[cmd.kind];
  switch (cmd.kind) {
    case 'relay': {
      need('relay.next', cmd.next, NODE_ID_BYTES);
      if (!Number.isInteger(cmd.delayMs) || cmd.delayMs < 0 || cmd.delayMs > MAX_DELAY_MS) {
        throw new InvalidArgument(`relay.delayMs must be an integer in 0..${MAX_DELAY_MS}`);
      }
      out.set(cmd.next, 1);
      new DataView(out.buffer).setUint32(1 + NODE_ID_BYTES, cmd.delayMs, false);
      break;
    }
    case 'deliver':
      need('deliver.mailbox', cmd.mailbox, NODE_ID_BYTES);
      out.set(cmd.mailbox, 1);
      break;
    case 'surbReply':
      need('surbReply.mailbox', cmd.mailbox, NODE_ID_BYTES);
      need('surbReply.surbId', cmd.surbId, SURB_ID_BYTES);
      out.set(cmd.mailbox, 1);
      out.set(cmd.surbId, 1 + NODE_ID_BYTES);
      break;
    default:
      break;
  }
  return out;
}

function usedBytes(type: number): number {
  switch (type) {
    case COMMAND_TYPE.relay:
      return 1 + NODE_ID_BYTES + 4;
    case COMMAND_TYPE.deliver:
      return 1 + NODE_ID_BYTES;
    case COMMAND_TYPE.surbReply:
      return 1 + NODE_ID_BYTES + SURB_ID_BYTES;
    case COMMAND_TYPE.fanout:
    case COMMAND_TYPE.deliverToken:
    case COMMAND_TYPE.drop:
      return 1;
    default:
      return -1;
  }
}

/** Decodes a command slot; unknown types and non-zero padding are rejected. */
export function decodeCommand(bytes: Uint8Array): HopCommand {
  if (bytes.length !== COMMAND_BYTES) throw new MalformedPacket('bad_command', `command slot is ${bytes.length} bytes`);
  const type = bytes[0] as number;
  const used = usedBytes(type);
  if (used < 0) throw new MalformedPacket('bad_command', `unknown command type 0x${type.toString(16)}`);
  for (let i = used; i < COMMAND_BYTES; i++) {
    if (bytes[i] !== 0) throw new MalformedPacket('bad_command', 'non-zero command padding');
  }
  switch (type) {
    case COMMAND_TYPE.relay:
      return {
        kind: 'relay',
        next: bytes.slice(1, 1 + NODE_ID_BYTES),
        delayMs: new DataView(bytes.buffer, bytes.byteOffset).getUint32(1 + NODE_ID_BYTES, false),
      };
    case COMMAND_TYPE.deliver:
      return { kind: 'deliver', mailbox: bytes.slice(1, 1 + NODE_ID_BYTES) };
    case COMMAND_TYPE.surbReply:
      return {
        kind: 'surbReply',
        mailbox: bytes.slice(1, 1 + NODE_ID_BYTES),
        surbId: bytes.slice(1 + NODE_ID_BYTES, 1 + NODE_ID_BYTES + SURB_ID_BYTES),
      };
    case COMMAND_TYPE.fanout:
      return { kind: 'fanout' };
    case COMMAND_TYPE.deliverToken:
      return { kind: 'deliverToken' };
    default:
      return { kind: 'drop' };
  }
}

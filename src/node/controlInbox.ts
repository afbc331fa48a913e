import { MalformedMessage } from './codec.js';
import { countDrop, type NodeContext } from './context.js';
import { controlDropReason } from './dropReasons.js';
import { type ControlMessage, decodeAnyControl } from './wire.js';

/**
 * The I/O edge for control frames (padded or not) at every role: decodes and
 * counts the message by type, or counts the drop as `control_<reason>` and
 * returns null. Only MalformedMessage is a drop; anything else is a bug and
 * propagates.
 */
export function decodeControlOrCount(ctx: NodeContext, bytes: Uint8Array): ControlMessage | null {
  try {
    const msg = decodeAnyControl(bytes);
    ctx.metrics.packetsIn.inc({ kind: msg.type });
    return msg;
  } catch (err) {
    if (!(err instanceof MalformedMessage)) throw err;
    countDrop(ctx, controlDropReason(err.reason), err.message);
    return null;
  }
}

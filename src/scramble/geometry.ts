import { InvalidArgument } from './errors.js';

/**
 * Sizes of a Sphinx packet. Every packet on every link is exactly
 * `packetSize` bytes whatever its route length, hop position or kind.
 *
 *   version(1) | alpha(32) | beta(maxHops * SLOT) | gamma(16) | payload
 */
export const PACKET_VERSION = 0x01;
export const ALPHA_BYTES = 32;
export const COMMAND_BYTES = 48;
export const MAC_BYTES = 16;
export const SLOT_BYTES = COMMAND_BYTES + MAC_BYTES;
export const PAYLOAD_TAG_BYTES = 16;
export const NODE_ID_BYTES = 16;
export const SURB_ID_BYTES = 16;

export interface PacketGeometry {
  readonly packetSize: number;
  readonly maxHops: number;
  readonly betaBytes: number;
  readonly headerBytes: number;
  readonly payloadBytes: number;
  /** Bytes the sender can fill: payload minus the zero tag. */
  readonly bodyBytes: number;
}

export const DEFAULT_PACKET_SIZE = 2048;
export const DEFAULT_MAX_HOPS = 5;

export function packetGeometry(packetSize = DEFAULT_PACKET_SIZE, maxHops = DEFAULT_MAX_HOPS): PacketGeometry {
  if (!Number.isInteger(maxHops) || maxHops < 1 || maxHops > 16) {
    throw new InvalidArgument(`maxHops must be an integer in 1..16, got ${maxHops}`);
  }
  const betaBytes = maxHops * SLOT_BYTES;
  const headerBytes = 1 + ALPHA_BYTES + betaBytes + MAC_BYTES;
  const payloadBytes = packetSize - headerBytes;
  if (!Number.isInteger(packetSize) || payloadBytes < 256 || packetSize > 65000) {
    throw new InvalidArgument(`packetSize ${packetSize} is outside ${headerBytes + 256}..65000 for ${maxHops} hops`);
  }
  return { packetSize, maxHops, betaBytes, headerBytes, payloadBytes, bodyBytes: payloadBytes - PAYLOAD_TAG_BYTES };
}

export const DEFAULT_GEOMETRY = packetGeometry();

import dgram from 'node:dgram';
import { formatHostPort, parseHostPort } from './config.js';

export interface Peer {
  host: string;
  port: number;
}

/** A peer as one string, for comparisons and traces. */
export function peerKey(p: Peer): string {
  return formatHostPort(p);
}

/**
 * An address from the network or a control request ("IP:PORT" or "[IPv6]:PORT"), by the same
 * rules as the config file (src/node/config.ts); null when it is not one.
 */
export function parsePeer(s: string, options: { allowPortZero?: boolean } = {}): Peer | null {
  try {
    const { host, port } = parseHostPort(s, 'address', options);
    return { host, port };
  } catch {
    return null;
  }
}

/**
 * Observer of every datagram sent by any transport in this process. Only the
 * simulator installs one (the global passive adversary); daemons never do.
 */
export type TransportTap = (event: { timeMs: number; from: string; to: string; size: number }) => void;
let tap: TransportTap | null = null;
export function setTransportTap(t: TransportTap | null): void {
  tap = t;
}

/** One UDP socket per daemon; IPv4 or IPv6 by the listen address. */
export class UdpTransport {
  private closed = false;
  sendErrors = 0;

  private constructor(
    private readonly socket: dgram.Socket,
    readonly local: Peer,
  ) {}

  static bind(listen: Peer, onDatagram: (bytes: Uint8Array, from: Peer) => void): Promise<UdpTransport> {
    const type = listen.host.includes(':') ? 'udp6' : 'udp4';
    const socket = dgram.createSocket({ type, recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(listen.port, listen.host, () => {
        socket.off('error', reject);
        // A send error (e.g. ICMP port unreachable) must never take the daemon down.
        socket.on('error', () => {});
        socket.on('message', (msg, rinfo) => {
          onDatagram(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), {
            host: rinfo.address,
            port: rinfo.port,
          });
        });
        const a = socket.address();
        resolve(new UdpTransport(socket, { host: a.address, port: a.port }));
      });
    });
  }

  send(to: Peer, bytes: Uint8Array): void {
    if (this.closed) return;
    if (tap) tap({ timeMs: performance.now(), from: peerKey(this.local), to: peerKey(to), size: bytes.length });
    this.socket.send(bytes, to.port, to.host, (err) => {
      if (err) this.sendErrors++;
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

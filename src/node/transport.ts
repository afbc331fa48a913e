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

/** Called with every datagram a transport receives. */
export type DatagramHandler = (bytes: Uint8Array, from: Peer) => void;

/**
 * A datagram socket as the roles see it. Implementations: UdpTransport (real
 * sockets) and MemoryNetwork's transports (src/node/memoryNetwork.ts, virtual
 * time). Like UDP, `send` is fire-and-forget: it never throws for an
 * unreachable peer, and a closed transport sends and receives nothing.
 */
export interface Transport {
  /** The address this transport is bound to (the port is assigned when 0 was asked for). */
  readonly local: Peer;
  send(to: Peer, bytes: Uint8Array): void;
  close(): Promise<void>;
}

/** Binds a transport at `listen` (port 0: any free port) that hands every datagram to `onDatagram`. */
export type BindTransport = (listen: Peer, onDatagram: DatagramHandler) => Promise<Transport>;

/** One datagram as it leaves a transport: what an observer of every link sees (the simulator's tap). */
export interface SentDatagram {
  /** Clock.preciseNow() of the sending world. */
  timeMs: number;
  from: Peer;
  to: Peer;
  /** Must not be modified by observers. */
  bytes: Uint8Array;
}

/**
 * `bind` with every transport it makes reporting each send to `observe`:
 * the real-time in-process simulation and `simulate --processes` record their
 * global passive adversary's view this way. Never installed by a daemon's
 * default runtime: it is exactly the trace an adversary wants.
 */
export function tappedBind(bind: BindTransport, now: () => number, observe: (d: SentDatagram) => void): BindTransport {
  return async (listen, onDatagram) => {
    const inner = await bind(listen, onDatagram);
    return {
      local: inner.local,
      send(to, bytes) {
        observe({ timeMs: now(), from: inner.local, to, bytes });
        inner.send(to, bytes);
      },
      close: () => inner.close(),
    };
  };
}

/** One UDP socket per daemon; IPv4 or IPv6 by the listen address. */
export class UdpTransport implements Transport {
  private closed = false;
  sendErrors = 0;

  private constructor(
    private readonly socket: dgram.Socket,
    readonly local: Peer,
  ) {}

  static bind(listen: Peer, onDatagram: DatagramHandler): Promise<UdpTransport> {
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

/** The real-socket BindTransport. */
export const bindUdp: BindTransport = (listen, onDatagram) => UdpTransport.bind(listen, onDatagram);

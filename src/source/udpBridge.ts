import dgram from 'node:dgram';
import { formatHostPort } from '../node/config.js';
import { MixdError } from '../node/errors.js';
import type { Peer } from '../node/transport.js';
import type { SourceNode } from './sourceNode.js';

/** 127.0.0.0/8, ::1, or an IPv4-mapped 127/8: addresses that never leave this machine. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return h === '::1' || h.startsWith('127.') || h.startsWith('::ffff:127.');
}

/**
 * Local UDP bridge: an application sends plain datagrams to `listen` and they
 * are multicast to the group; group datagrams are sent to `app`. Only
 * datagrams from the loopback interface are accepted, so nothing on the
 * network can inject into the group through the bridge; and both `listen` and
 * `app` must be loopback addresses (issue 10, F14), so the group's plaintext
 * is never sent off this machine.
 */
export class UdpBridge {
  private off: (() => void) | null = null;
  sent = 0;
  delivered = 0;
  rejected = 0;

  private constructor(
    private readonly socket: dgram.Socket,
    readonly local: string,
  ) {}

  static open(source: SourceNode, group: string, listen: Peer, app: Peer): Promise<UdpBridge> {
    if (!isLoopback(app.host)) return Promise.reject(MixdError.BRIDGE_NOT_LOOPBACK('app', formatHostPort(app)));
    if (!isLoopback(listen.host))
      return Promise.reject(MixdError.BRIDGE_NOT_LOOPBACK('listen', formatHostPort(listen)));
    const socket = dgram.createSocket(listen.host.includes(':') ? 'udp6' : 'udp4');
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(listen.port, listen.host, () => {
        socket.off('error', reject);
        socket.on('error', () => {});
        // The daemon's lifetime is its own sockets' and timers': an open bridge must not outlive a stop.
        socket.unref();
        const a = socket.address();
        const bridge = new UdpBridge(socket, `${a.address}:${a.port}`);
        socket.on('message', (msg, rinfo) => {
          if (!isLoopback(rinfo.address)) {
            bridge.rejected++;
            return;
          }
          try {
            source.groups.send(group, new Uint8Array(msg));
            bridge.sent++;
          } catch {
            bridge.rejected++;
          }
        });
        bridge.off = source.subscribe(
          (d) => {
            bridge.delivered++;
            socket.send(d.data, app.port, app.host);
          },
          (d) => d.kind === 'group' && d.group === group,
        );
        resolve(bridge);
      });
    });
  }

  close(): void {
    this.off?.();
    this.socket.close();
  }
}

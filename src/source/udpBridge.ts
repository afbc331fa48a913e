import dgram from 'node:dgram';
import type { Peer } from '../node/transport.js';
import type { SourceNode } from './sourceNode.js';

/**
 * Local UDP bridge: an application sends plain datagrams to `listen` and they
 * are multicast to the group; group datagrams are sent to `app`. Only
 * datagrams from the loopback interface are accepted, so nothing on the
 * network can inject into the group through the bridge.
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
    const socket = dgram.createSocket(listen.host.includes(':') ? 'udp6' : 'udp4');
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(listen.port, listen.host, () => {
        socket.off('error', reject);
        socket.on('error', () => {});
        const a = socket.address();
        const bridge = new UdpBridge(socket, `${a.address}:${a.port}`);
        socket.on('message', (msg, rinfo) => {
          const loopback =
            rinfo.address === '::1' || rinfo.address.startsWith('127.') || rinfo.address === '::ffff:127.0.0.1';
          if (!loopback) {
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

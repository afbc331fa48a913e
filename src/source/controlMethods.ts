import { GroupError } from '../group/errors.js';
import type { ControlConnection } from '../node/controlSocket.js';
import { MixdError } from '../node/errors.js';
import { NoRoute } from '../node/routes.js';
import { parsePeer } from '../node/transport.js';
import type { SourceNode } from './sourceNode.js';
import { UdpBridge } from './udpBridge.js';

type Method = (params: Record<string, unknown>, conn: ControlConnection) => unknown;

function str(params: Record<string, unknown>, name: string): string {
  const v = params[name];
  if (typeof v !== 'string' || v === '') throw MixdError.BAD_REQUEST(`"${name}" must be a non-empty string`);
  return v;
}

function bytes(params: Record<string, unknown>, name: string): Uint8Array {
  return new Uint8Array(Buffer.from(str(params, name), 'base64'));
}

/** Turns the errors a user can act on into a coded control-socket error. */
function userFacing<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof GroupError) throw MixdError.GROUP(err.message);
    if (err instanceof NoRoute) throw MixdError.NO_ROUTE(err.message);
    if (err instanceof RangeError) throw MixdError.BAD_REQUEST(err.message);
    throw err;
  }
}

/** The source daemon's control-socket API (used by the CLI, the library and tests). */
export function sourceMethods(source: SourceNode): Record<string, Method> {
  const bridges = new Map<string, UdpBridge>();
  return {
    address: () => source.address,
    sendTo: (p) => userFacing(() => source.sendUnicast(str(p, 'to'), bytes(p, 'data'))),
    groupCreate: (p) => userFacing(() => source.groups.create(str(p, 'name'))),
    groupInvite: (p) =>
      userFacing(() =>
        source.groups.invite(str(p, 'group'), str(p, 'address'), new TextEncoder().encode(str(p, 'passphrase'))),
      ),
    groupInvites: () => source.groups.invites(),
    groupJoin: (p) =>
      userFacing(() =>
        source.groups.join(
          typeof p.invite === 'string' && p.invite ? p.invite : undefined,
          new TextEncoder().encode(str(p, 'passphrase')),
        ),
      ),
    groupList: () => source.groups.list(),
    groupMembers: (p) => userFacing(() => source.groups.members(str(p, 'group'))),
    groupRemove: (p) => userFacing(() => source.groups.remove(str(p, 'group'), str(p, 'address'))),
    groupPromote: (p) => userFacing(() => source.groups.promote(str(p, 'group'), str(p, 'address'))),
    groupLeave: (p) => userFacing(() => source.groups.leave(str(p, 'group'))),
    groupSend: (p) => userFacing(() => source.groups.send(str(p, 'group'), bytes(p, 'data'))),
    groupBind: async (p) => {
      const group = str(p, 'group');
      userFacing(() => source.groups.members(group));
      const listen = parsePeer(str(p, 'listen'), { allowPortZero: true });
      const app = parsePeer(str(p, 'app'));
      if (!listen || !app) throw MixdError.BAD_REQUEST('"listen" and "app" must be IP:PORT, e.g. 127.0.0.1:9000');
      bridges.get(group)?.close();
      const bridge = await UdpBridge.open(source, group, listen, app);
      bridges.set(group, bridge);
      return { group, listen: bridge.local, app };
    },
    subscribe: (p, conn) => {
      const only = typeof p.group === 'string' ? p.group : null;
      const off = source.subscribe(
        (d) => {
          conn.event('datagram', {
            kind: d.kind,
            group: d.group ?? null,
            from: d.from ?? null,
            data: Buffer.from(d.data).toString('base64'),
            receivedAtMs: d.receivedAtMs,
          });
        },
        (d) => !only || d.group === only,
      );
      const offEvents = source.onEvent((name, data) => conn.event(name, data));
      conn.onClose(() => {
        off();
        offEvents();
      });
      return true;
    },
  };
}

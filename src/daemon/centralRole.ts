import { CentralNode } from '../central/centralNode.js';
import type { DeliveryHooks } from '../central/storedEntry.js';
import { GroupError, openDeliveredCopyWithKeys } from '../group/index.js';
import type { Config } from '../node/config.js';
import type { NetworkParams } from '../node/directory.js';
import type { Peer } from '../node/transport.js';
import type { CryptoBackend } from '../scramble/crypto/backend.js';
import type { MethodHandler, RoleDeps, RoleInstance } from './roleInstance.js';

/** What CS publishes in the directory: the network section less its own mailbox limits. */
export function directoryParams(n: Config['network']): NetworkParams {
  const { mailboxTtlSeconds: _ttl, mailboxQuota: _quota, ...published } = n;
  return published;
}

/** CS opens P2's delivery tokens with its mix keys (current first, then those still held). */
function groupDeliveryHooks(crypto: CryptoBackend): DeliveryHooks {
  return {
    openToken: (body, keys) => {
      try {
        const c = openDeliveredCopyWithKeys(crypto, keys, body);
        return { mailbox: c.mailboxId, payload: c.payload };
      } catch (err) {
        if (err instanceof GroupError) return null;
        throw err;
      }
    },
  };
}

export class CentralRole implements RoleInstance {
  readonly role = 'central' as const;
  readonly node: CentralNode;

  constructor({ ctx, stores, config, timing, advertise }: RoleDeps) {
    this.node = new CentralNode(
      ctx,
      stores,
      {
        params: directoryParams(config.network),
        advertise,
        sessionTimeoutMs: timing.keepaliveMs * 3,
        redeliverMs: timing.redeliverMs,
        admission: {
          allow: config.admission.allow === 'any' ? 'any' : new Set(config.admission.allow),
          maxProxies: config.admission.maxProxies,
          maxProxiesPerIp: config.admission.maxProxiesPerIp,
        },
      },
      groupDeliveryHooks(ctx.crypto),
    );
  }

  start(): void {
    this.node.start();
  }

  stop(): void {
    this.node.stop();
  }

  onDatagram(bytes: Uint8Array, from: Peer): void {
    this.node.onDatagram(bytes, from);
  }

  status(): Record<string, unknown> {
    return this.node.status();
  }

  methods(): Record<string, MethodHandler> {
    return {};
  }
}

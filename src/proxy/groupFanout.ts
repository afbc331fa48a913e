import { decodeFanout, fanoutCopies, GroupError } from '../group/index.js';
import { countDrop, type NodeContext } from '../node/context.js';
import type { IndexedDirectory } from '../node/directory.js';
import {
  currentEpoch,
  exponentialDelayMs,
  NoRoute,
  pickProxies,
  type RoutedPacket,
  routedPacket,
} from '../node/routes.js';
import { systemRng } from '../scramble/rng.js';
import type { FanoutHandler, FanoutHost } from './fanoutHandler.js';

export interface GroupFanoutDeps extends FanoutHost {
  ctx: NodeContext;
}

/**
 * P2: one fan-out bundle in, one fresh packet per member out. Each copy is
 * re-sealed to pub_G with a fresh ephemeral key, routed P2 → P3 → CS with its
 * own random P3 and independent exponential delays (here and at P3), so CS
 * sees copies of one message as unrelated packets at unrelated times.
 * P2 learns the group's public key and size, not the sender or the members.
 */
export class GroupFanout implements FanoutHandler {
  copies = 0;

  constructor(private readonly deps: GroupFanoutDeps) {}

  private others(dir: IndexedDirectory): IndexedDirectory {
    const self = this.deps.ctx.identity.publicKey;
    const proxies = dir.proxies.filter((p) => !this.deps.ctx.crypto.equal(p.identityKey, self));
    return proxies.length > 0 ? { ...dir, proxies } : dir;
  }

  handle(body: Uint8Array): void {
    const { ctx } = this.deps;
    const geometry = this.deps.geometry();
    const dir = this.deps.directory();
    if (!geometry || !dir) return countDrop(ctx, 'not_ready');
    const rng = systemRng(ctx.crypto);
    let copies: Uint8Array[];
    try {
      copies = fanoutCopies(ctx.crypto, decodeFanout(geometry, body), rng);
    } catch (err) {
      if (err instanceof GroupError) return countDrop(ctx, 'bad_fanout', err.message);
      throw err;
    }
    const now = ctx.now();
    const epoch = currentEpoch(dir, now);
    for (const copy of copies) {
      let routed: RoutedPacket;
      try {
        // P3 is another mix than P2 whenever there is one: CS must not see copies come straight from P2.
        const p3 = pickProxies(ctx.crypto, this.others(dir), 1, epoch);
        routed = routedPacket(ctx.crypto, geometry, dir, p3, dir.central, { kind: 'deliverToken' }, copy, epoch, rng);
      } catch (err) {
        if (!(err instanceof NoRoute)) throw err;
        countDrop(ctx, 'no_route', err.message);
        continue;
      }
      const { packet, to } = routed;
      const hold = exponentialDelayMs(ctx.crypto, dir.params.meanDelayMs, dir.params.maxDelayMs);
      if (this.deps.enqueue(packet, to, now + hold)) this.copies++;
    }
    ctx.metrics.packetsOut.inc({ kind: 'fanout_copy' }, copies.length);
  }
}

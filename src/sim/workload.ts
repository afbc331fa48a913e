import type { SourceNode } from '../source/sourceNode.js';
import { mulberry32 } from './adversary.js';

export interface SimGroup {
  name: string;
  /** Indexes into the source list. */
  members: number[];
}

/** Picks `count` groups of `size` distinct sources with a seeded PRNG. */
export function planGroups(seed: number, sources: number, count: number, size: number): SimGroup[] {
  const rnd = mulberry32(seed);
  const groups: SimGroup[] = [];
  for (let g = 0; g < count; g++) {
    const pool = Array.from({ length: sources }, (_, i) => i);
    const members: number[] = [];
    while (members.length < Math.min(size, sources))
      members.push(pool.splice(Math.floor(rnd() * pool.length), 1)[0] as number);
    groups.push({ name: `g${g}`, members });
  }
  return groups;
}

/**
 * Forms the groups for real: the first member creates, invites the others
 * (sealed invites through the mixnet, acknowledged by SURB), they unlock with
 * the passphrase and announce themselves. Resolves when every member knows
 * every other one.
 */
export async function formGroups(sources: SourceNode[], groups: SimGroup[], timeoutMs = 60_000): Promise<void> {
  const pass = new TextEncoder().encode('simulation passphrase');
  for (const g of groups) {
    const admin = sources[g.members[0] as number] as SourceNode;
    admin.groups.create(g.name);
    for (const m of g.members.slice(1)) admin.groups.invite(g.name, (sources[m] as SourceNode).address, pass);
  }
  const deadline = Date.now() + timeoutMs;
  const waitUntil = async (what: string, ok: () => boolean) => {
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`simulation setup: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  for (const g of groups) {
    for (const m of g.members.slice(1)) {
      const s = sources[m] as SourceNode;
      // Invites for several groups may be pending: join until this group appears.
      await waitUntil(`invite to ${g.name}`, () => s.groups.invites().length > 0 || s.groups.names().includes(g.name));
      while (!s.groups.names().includes(g.name)) {
        await waitUntil(`invite to ${g.name}`, () => s.groups.invites().length > 0);
        s.groups.join(undefined, pass);
      }
    }
  }
  for (const g of groups) {
    await waitUntil(`members of ${g.name} to know each other`, () =>
      g.members.every((m) => {
        const list = (sources[m] as SourceNode).groups.list().find((x) => x.name === g.name);
        return list?.members === g.members.length;
      }),
    );
  }
}

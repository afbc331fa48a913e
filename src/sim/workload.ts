import type { TimeDriver } from '../node/clock.js';
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

/** What forming groups needs from a member, whether it runs in this process or behind a control socket. */
export interface GroupMember {
  address: string;
  create(group: string): Promise<unknown>;
  invite(group: string, address: string, passphrase: string): Promise<unknown>;
  pendingInvites(): Promise<number>;
  join(passphrase: string): Promise<unknown>;
  groups(): Promise<Array<{ name: string; members: number }>>;
}

/** A source daemon in this process as a GroupMember. */
export function localMember(s: SourceNode): GroupMember {
  const enc = (p: string) => new TextEncoder().encode(p);
  return {
    address: s.address,
    create: async (g) => s.groups.create(g),
    invite: async (g, a, p) => s.groups.invite(g, a, enc(p)),
    pendingInvites: async () => s.groups.invites().length,
    // Several invites may be pending and join then needs an id: take the oldest.
    join: async (p) => s.groups.join(s.groups.invites()[0]?.id, enc(p)),
    groups: async () => s.groups.list(),
  };
}

/**
 * Forms the groups for real: the first member creates, invites the others
 * (sealed invites through the mixnet, acknowledged by SURB), they unlock with
 * the passphrase and announce themselves. Resolves when every member knows
 * every other one; time passes through `driver` (virtual or real), and the
 * whole formation may take `limitMs` of it.
 */
export async function formGroups(
  members: GroupMember[],
  groups: SimGroup[],
  driver: TimeDriver,
  limitMs = 60_000,
): Promise<void> {
  const pass = 'simulation passphrase';
  const at = (i: number) => members[i] as GroupMember;
  for (const g of groups) {
    const admin = at(g.members[0] as number);
    await admin.create(g.name);
    for (const m of g.members.slice(1)) await admin.invite(g.name, at(m).address, pass);
  }
  const wait = (what: string, ok: () => Promise<boolean>) =>
    driver.until(ok, { limitMs, what: `simulation setup: ${what}` });
  const has = async (m: GroupMember, name: string) => (await m.groups()).some((x) => x.name === name);
  for (const g of groups) {
    for (const i of g.members.slice(1)) {
      const m = at(i);
      // Invites for several groups may be pending: join until this group appears.
      while (!(await has(m, g.name))) {
        await wait(`invite to ${g.name}`, async () => (await m.pendingInvites()) > 0);
        await m.join(pass);
      }
    }
  }
  for (const g of groups) {
    await wait(`members of ${g.name} to know each other`, async () => {
      for (const i of g.members) {
        const list = (await at(i).groups()).find((x) => x.name === g.name);
        if (list?.members !== g.members.length) return false;
      }
      return true;
    });
  }
}

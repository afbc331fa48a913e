/**
 * `npm run bench [-- --json] [-- --only PREFIX] [-- --all]`
 *
 * Runs every registered figure group and prints its figures: an aligned
 * table by default, or one JSON object per line ({"name","value","unit"})
 * with --json. Progress goes to stderr so stdout stays machine-readable.
 *
 * To add figures: write an async function returning Figure[] (see
 * bench/scramble.ts and bench/harness.ts) and append it to GROUPS below.
 */
import { amplificationFigures, floodFigures } from './flood.js';
import { groupFigures, groupKeyFigures } from './groups.js';
import type { Figure, FigureGroup } from './harness.js';
import { idleFigures } from './idle.js';
import { networkFigures } from './network.js';
import { scrambleFigures, unwrapBreakdownFigures } from './scramble.js';

export const GROUPS: FigureGroup[] = [
  {
    name: 'scramble',
    description: 'Sphinx packet layer: X25519, unwrap, create, seal (sodium and noble)',
    run: scrambleFigures,
  },
  {
    name: 'network',
    description: 'real daemon processes on loopback: per-hop overhead, proxy forwarding rate',
    run: networkFigures,
  },
  {
    name: 'groups',
    description: 'group multicast: tokens per fan-out packet, sender packets per message, P2 fan-out copies/s',
    run: groupFigures,
  },
  {
    name: 'group-keys',
    description: 'group keys: cost of one removal at N = 100 and 1,000, applying it, one sender-ratchet step',
    run: groupKeyFigures,
  },
  {
    name: 'amplification',
    description: 'a stranger sends every kind of datagram to a real CS, proxy and source: largest reply/request',
    run: amplificationFigures,
  },
  {
    name: 'flood',
    description: 'a stranger floods CS and the proxies (>= 20,000 datagrams/s, 20 s) while a group talks',
    run: floodFigures,
  },
  {
    name: 'idle',
    description: 'what the secure defaults cost an idle source, proxy and CS (real timers, 2.7 min)',
    optIn: true,
    run: idleFigures,
  },
  {
    name: 'unwrap-breakdown',
    description: 'cost of each step of one relay-hop unwrapPacket (sodium)',
    optIn: true,
    run: unwrapBreakdownFigures,
  },
];

interface Args {
  json: boolean;
  all: boolean;
  list: boolean;
  only: string[];
}

const USAGE = `usage: tsx bench/run.ts [--json] [--only PREFIX]... [--all] [--list]
  --json         one JSON object per line: {"name":...,"value":...,"unit":...}
  --only PREFIX  run only groups whose name starts with PREFIX (repeatable; selects opt-in groups too)
  --all          also run opt-in groups
  --list         list the groups and exit`;

function parseArgs(argv: string[]): Args {
  const args: Args = { json: false, all: false, list: false, only: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--json') args.json = true;
    else if (a === '--all') args.all = true;
    else if (a === '--list') args.list = true;
    else if (a === '--only') {
      const v = argv[++i];
      if (v === undefined) throw new Error('--only needs a group name prefix');
      args.only.push(v);
    } else if (a.startsWith('--only=')) args.only.push(a.slice('--only='.length));
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  return args;
}

function selected(args: Args): FigureGroup[] {
  if (args.only.length > 0) {
    const picked = GROUPS.filter((g) => args.only.some((p) => g.name.startsWith(p)));
    if (picked.length === 0) throw new Error(`no group matches ${args.only.join(', ')}; try --list`);
    return picked;
  }
  return GROUPS.filter((g) => args.all || !g.optIn);
}

function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const abs = Math.abs(v);
  if (abs >= 1000) return v.toFixed(0);
  if (abs >= 100) return v.toFixed(1);
  if (abs >= 10) return v.toFixed(2);
  return v.toFixed(3);
}

function printTable(rows: { group: string; fig: Figure }[]): void {
  const cells = rows.map((r) => [r.fig.name, formatValue(r.fig.value), r.fig.unit, r.group]);
  const head = ['figure', 'value', 'unit', 'group'];
  const width = head.map((h, c) => Math.max(h.length, ...cells.map((row) => (row[c] as string).length)));
  const line = (row: string[]) =>
    row
      .map((cell, c) => (c === 1 ? cell.padStart(width[c] as number) : cell.padEnd(width[c] as number)))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${line(head)}\n${line(width.map((w) => '-'.repeat(w)))}\n`);
  for (const row of cells) process.stdout.write(`${line(row)}\n`);
}

async function main(): Promise<void> {
  // `npm run bench -- --json | head` closes stdout early: stop quietly, not with an EPIPE trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const args = parseArgs(process.argv.slice(2));
  if (args.list) {
    for (const g of GROUPS) process.stdout.write(`${g.name}${g.optIn ? ' (opt-in)' : ''}: ${g.description}\n`);
    return;
  }
  const rows: { group: string; fig: Figure }[] = [];
  const started = performance.now();
  for (const g of selected(args)) {
    process.stderr.write(`bench: ${g.name} ...\n`);
    const t0 = performance.now();
    const figs = await g.run();
    process.stderr.write(`bench: ${g.name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    for (const fig of figs) {
      if (args.json) process.stdout.write(`${JSON.stringify({ name: fig.name, value: fig.value, unit: fig.unit })}\n`);
      rows.push({ group: g.name, fig });
    }
  }
  if (!args.json) printTable(rows);
  process.stderr.write(`bench: total ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

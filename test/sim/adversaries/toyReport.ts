/**
 * Developer tool (not a test): runs the adversary suite on toy-mixnet runs
 * or on trace files and prints the report.
 *
 *   npx tsx test/sim/adversaries/toyReport.ts --mu 50 --lambda 10 --seeds 1,2,3 [--attack n-1]
 *   npx tsx test/sim/adversaries/toyReport.ts --trace run1.jsonl run2.jsonl
 *
 * Toy options: --sources 20 --proxies 5 --groups 4 --group-size 5 --duration 120 (s) --rate 3
 * (messages/s) --sender-gets-copy --no-owners --colluders 1 --json. The toy mixnet is this
 * folder's pure model of the protocol (toyMixnet.ts), not the daemons.
 */

import {
  HoldAndFlushAttack,
  type LinkInterceptor,
  NMinusOneAttack,
} from '../../../src/sim/adversaries/activeControllers.js';
import type { Role } from '../../../src/sim/adversaries/observation.js';
import { formatSuiteReport, runSuite, summarizeSuite } from '../../../src/sim/adversaries/suite.js';
import { buildTrace, readTraceFile } from '../../../src/sim/trace.js';
import { toyMixnet } from './toyMixnet.js';

function parse(argv: string[]): { flags: Map<string, string>; files: string[] } {
  const flags = new Map<string, string>();
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      files.push(a);
      continue;
    }
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--') && a !== '--trace') {
      flags.set(a.slice(2), next);
      i++;
    } else flags.set(a.slice(2), 'true');
  }
  return { flags, files };
}

async function main(): Promise<void> {
  const { flags, files } = parse(process.argv.slice(2));
  const num = (k: string, d: number) => (flags.has(k) ? Number(flags.get(k)) : d);
  const colluders = num('colluders', 1);
  const runs = [];
  if (flags.has('trace')) {
    for (const f of files) runs.push(runSuite(await readTraceFile(f), { colluders }));
  } else {
    const seeds = (flags.get('seeds') ?? '1').split(',').map(Number);
    for (const seed of seeds) {
      const base = {
        seed,
        sources: num('sources', 20),
        proxies: num('proxies', 5),
        groupCount: num('groups', 4),
        groupSize: num('group-size', 5),
        durationMs: num('duration', 120) * 1000,
        messagesPerS: num('rate', 3),
        muMs: num('mu', 50),
        lambdaPerS: num('lambda', 10),
        senderGetsCopy: flags.has('sender-gets-copy'),
        csKnowsOwners: !flags.has('no-owners'),
      };
      let interceptor: LinkInterceptor | undefined;
      const attack = flags.get('attack');
      if (attack) {
        const probe = toyMixnet({ ...base, durationMs: 1 });
        const roles = new Map<string, Role>();
        for (const s of probe.sources) roles.set(s, 'source');
        for (const p of probe.proxies) roles.set(p, 'proxy');
        roles.set(probe.central, 'central');
        const target = probe.sources[probe.groups[0][0]];
        interceptor =
          attack === 'hold-and-flush'
            ? new HoldAndFlushAttack({ target, roles, startMs: 5000 })
            : new NMinusOneAttack({ target, roles, startMs: 5000 });
      }
      runs.push(runSuite(buildTrace(toyMixnet({ ...base, interceptor }).records), { colluders }));
    }
  }
  const report = summarizeSuite(runs);
  process.stdout.write(`${flags.has('json') ? JSON.stringify(report, null, 2) : formatSuiteReport(report)}\n`);
}

await main();

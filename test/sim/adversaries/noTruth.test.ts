/**
 * Only the grader (and the gift builder) may read ground truth: no adversary
 * module can reach the trace module, and what adversaries answer depends on
 * their view alone.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { activeAnalysis } from '../../../src/sim/adversaries/activeAnalysis.js';
import { NMinusOneAttack } from '../../../src/sim/adversaries/activeControllers.js';
import { centralCollusion } from '../../../src/sim/adversaries/centralCollusion.js';
import { edgeDisclosure } from '../../../src/sim/adversaries/edgeDisclosure.js';
import { globalEndToEnd } from '../../../src/sim/adversaries/globalEndToEnd.js';
import { globalHopByHop } from '../../../src/sim/adversaries/globalHopByHop.js';
import { maliciousCentral } from '../../../src/sim/adversaries/maliciousCentral.js';
import type { Role } from '../../../src/sim/adversaries/observation.js';
import {
  activeView,
  centralView,
  collusionView,
  edgeView,
  firstProxies,
  globalView,
} from '../../../src/sim/adversaries/views.js';
import { buildTrace, type Trace } from '../../../src/sim/trace.js';
import { toyMixnet } from './toyMixnet.js';

const here = dirname(fileURLToPath(import.meta.url));
const src = resolve(here, '../../../src');
const folder = join(src, 'sim/adversaries');
/** The modules allowed to hold a whole trace: they cut views, build gifts, grade, or run everything. */
const TRUTH_READERS = new Set(['views.ts', 'grader.ts', 'gifts.ts', 'suite.ts']);
const FORBIDDEN = [join(src, 'sim/trace.ts'), ...[...TRUTH_READERS].map((f) => join(folder, f))];

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:import|export)[^'";]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    const spec = m[1] ?? m[2];
    if (!spec.startsWith('.')) continue;
    out.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
  }
  return out;
}

function closure(file: string): Set<string> {
  const seen = new Set<string>();
  const stack = [file];
  while (stack.length) {
    const f = stack.pop() as string;
    if (seen.has(f)) continue;
    seen.add(f);
    stack.push(...imports(f));
  }
  return seen;
}

function stripComments(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
}

t.test('no adversary module can reach the trace, the grader, the gifts or the views', async (t) => {
  const adversaries = readdirSync(folder).filter((f) => f.endsWith('.ts') && !TRUTH_READERS.has(f));
  t.ok(adversaries.length >= 10, `adversary modules: ${adversaries.join(', ')}`);
  for (const f of adversaries) {
    const reach = closure(join(folder, f));
    for (const bad of FORBIDDEN) t.notOk(reach.has(bad), `${f} does not reach ${bad.slice(src.length + 1)}`);
    t.notMatch(stripComments(readFileSync(join(folder, f), 'utf8')), /\btruth\b/i, `${f} never names truth in code`);
  }
  // The check itself can fail: the grader reaches the trace module.
  t.ok(closure(join(folder, 'grader.ts')).has(join(src, 'sim/trace.ts')));
});

function makeTrace(): Trace {
  const probe = toyMixnet({
    seed: 9,
    sources: 10,
    proxies: 4,
    durationMs: 1,
    messagesPerS: 1,
    muMs: 20,
    lambdaPerS: 4,
  });
  const roles = new Map<string, Role>(
    (probe.records[0] as { endpoints: Array<{ id: string; role: Role }> }).endpoints.map((e) => [e.id, e.role]),
  );
  const interceptor = new NMinusOneAttack({
    target: probe.sources[probe.groups[0][0]],
    roles,
    startMs: 3000,
    periodMs: 4000,
    blockMs: 2000,
  });
  return buildTrace(
    toyMixnet({
      seed: 9,
      sources: 10,
      proxies: 4,
      durationMs: 15_000,
      messagesPerS: 3,
      muMs: 20,
      lambdaPerS: 4,
      interceptor,
    }).records,
  );
}

/** The same trace with different ground truth: senders, recipients, kinds and memberships scrambled. */
function withFalseTruth(trace: Trace): Trace {
  const sources = trace.meta.endpoints.filter((e) => e.role === 'source').map((e) => e.id);
  const rot = (s: string) => sources[(sources.indexOf(s) + 3) % sources.length] ?? s;
  return {
    ...trace,
    truth: {
      packets: trace.truth.packets.map((p) => ({ ...p, kind: p.kind === 'real' ? 'cover' : 'real', msg: undefined })),
      fanouts: [],
      messages: trace.truth.messages.map((m) => ({ ...m, sender: rot(m.sender), recipients: m.recipients.map(rot) })),
      memberships: trace.truth.memberships.map((m) => ({ ...m, members: m.members.map(rot) })),
    },
  };
}

t.test('views carry no ground truth', async (t) => {
  const trace = makeTrace();
  const texts = [
    JSON.stringify(globalView(trace)),
    JSON.stringify(edgeView(trace)),
    JSON.stringify(centralView(trace)),
    JSON.stringify(collusionView(trace, firstProxies(trace, 2))),
    JSON.stringify(activeView(trace, 'n-1')),
  ];
  const messageIds = trace.truth.messages.map((m) => m.id);
  const packetIds = trace.truth.packets.map((p) => p.id);
  t.ok(messageIds.length > 5 && packetIds.length > 100);
  for (const text of texts) {
    t.notMatch(text, /"truth"|"what"|"recipients"|"sender"/);
    for (const id of [...messageIds.slice(0, 20), ...packetIds.slice(0, 20)]) {
      if (text.includes(`"${id}"`)) t.fail(`view leaks ${id}`);
    }
  }
});

t.test('every adversary answers the same whatever the ground truth says', async (t) => {
  const real = makeTrace();
  const fake = withFalseTruth(real);
  t.notSame(fake.truth.messages[0].sender, real.truth.messages[0].sender, 'the truth did change');
  const runs: Array<[string, (tr: Trace) => unknown]> = [
    ['end to end', (tr) => globalEndToEnd(globalView(tr)).guesses],
    ['hop by hop', (tr) => globalHopByHop(globalView(tr)).guesses],
    ['edge disclosure', (tr) => edgeDisclosure(edgeView(tr))],
    ['malicious CS', (tr) => maliciousCentral(centralView(tr))],
    ['CS + proxies', (tr) => centralCollusion(collusionView(tr, firstProxies(tr, 2))).senders],
    ['active', (tr) => activeAnalysis(activeView(tr, 'n-1') as NonNullable<ReturnType<typeof activeView>>)],
  ];
  const before = JSON.stringify([real.links, real.obs, real.attacks]);
  for (const [name, run] of runs) t.same(run(fake), run(real), name);
  t.equal(
    JSON.stringify([real.links, real.obs, real.attacks]),
    before,
    'views are shared, and no adversary wrote to them',
  );
});

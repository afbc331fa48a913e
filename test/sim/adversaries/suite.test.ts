import t from 'tap';
import { NMinusOneAttack } from '../../../src/sim/adversaries/activeControllers.js';
import type { Role } from '../../../src/sim/adversaries/observation.js';
import {
  formatSuiteReport,
  MIN_SCORED_MESSAGES,
  runSuite,
  type SuiteRun,
  summarizeSuite,
} from '../../../src/sim/adversaries/suite.js';
import { buildTrace, type Trace, type TraceRecord } from '../../../src/sim/trace.js';
import { type ToyOptions, toyMixnet } from './toyMixnet.js';

const NET: ToyOptions = {
  seed: 41,
  sources: 12,
  proxies: 4,
  groupCount: 3,
  groupSize: 4,
  durationMs: 30_000,
  messagesPerS: 4,
  muMs: 30,
  lambdaPerS: 5,
};

function attackedTrace(seed: number, alarms: TraceRecord[] = []): Trace {
  const probe = toyMixnet({ ...NET, seed, durationMs: 1 });
  const roles = new Map<string, Role>();
  for (const s of probe.sources) roles.set(s, 'source');
  for (const p of probe.proxies) roles.set(p, 'proxy');
  roles.set(probe.central, 'central');
  const interceptor = new NMinusOneAttack({ target: probe.sources[probe.groups[0][0]], roles, startMs: 10_000 });
  return buildTrace([...toyMixnet({ ...NET, seed, interceptor }).records, ...alarms]);
}

t.test('the suite runs every adversary and reports value, interval, baseline and sample size', async (t) => {
  const trace = attackedTrace(41, [{ type: 'alarm', t: 25_000, node: '10.1.0.0:5000', name: 'loop_loss' }]);
  const run = runSuite(trace);
  const report = summarizeSuite([run]);
  const names = report.adversaries.map((a) => a.name);
  t.same(names, [
    'global-passive-end-to-end',
    'global-passive-hop-by-hop',
    'edge-disclosure',
    'malicious-central',
    'central-with-colluding-proxies',
    'gifted-central',
    'active-n-1',
  ]);
  for (const a of report.adversaries) {
    t.ok(a.sees.length > 10, `${a.name} says what it sees`);
    t.ok(Object.keys(a.figures).length > 0, `${a.name} has figures`);
    for (const [k, f] of Object.entries(a.figures)) {
      const where = `${a.name}.${k}`;
      t.ok(f.ci95[0] <= f.value + 1e-9 && f.value <= f.ci95[1] + 1e-9, `${where}: value inside its interval`);
      t.ok(Number.isFinite(f.baseline) && f.baseline_is.length > 0, `${where}: baseline stated`);
      t.ok(f.n > 0, `${where}: n = ${f.n} ${f.unit}`);
    }
  }
  const gifted = report.adversaries.filter((a) => a.gifts.length > 0);
  t.same(
    gifted.map((a) => a.name),
    ['gifted-central'],
    'only the gifted adversary has gifts',
  );
  t.equal(gifted[0].figures.sender_top1.value, 1, 'and its best attack finds every sender');
  const cs = report.adversaries.find((a) => a.name === 'malicious-central');
  t.ok(
    cs?.figures.membership_auc_15s && cs.figures.membership_auc_30s,
    'membership by horizon (15 s and the whole run)',
  );
  const active = report.adversaries.find((a) => a.name === 'active-n-1');
  t.equal(active?.facts.alarms, 1, 'alarms after the attack started are counted');
  t.equal(active?.facts.first_alarm_after_ms, 15_000);
  t.equal(active?.facts.runs_noticed, 1);
  t.equal(active?.facts.runs_noticed_within_60s, 1);
  t.ok(
    report.warnings.some((w) => w.includes(`< ${MIN_SCORED_MESSAGES}`)),
    'a short run is flagged as thin',
  );
  t.ok(report.mix.packets_in_mix > 0 && report.mix.per_hop_delay_ms > 25, `per-hop ${report.mix.per_hop_delay_ms} ms`);
  const text = formatSuiteReport(report);
  t.match(text, /GIFTED: the true group membership/);
  t.match(text, /packets in each mix/);
  const withOverride = summarizeSuite([runSuite(trace, { alarmsRaised: 0 })]);
  t.equal(
    withOverride.adversaries.find((a) => a.name === 'active-n-1')?.facts.runs_noticed,
    0,
    'alarm count can be passed in',
  );
});

t.test('deterministic: the same trace gives the same report', async (t) => {
  const a = summarizeSuite([runSuite(attackedTrace(42))]);
  const b = summarizeSuite([runSuite(attackedTrace(42))]);
  t.equal(JSON.stringify(a), JSON.stringify(b));
});

t.test('pooling seeds: sample sizes add up, intervals narrow', async (t) => {
  const runs: SuiteRun[] = [43, 44].map((seed) => runSuite(buildTrace(toyMixnet({ ...NET, seed }).records)));
  const one = summarizeSuite([runs[0]]);
  const both = summarizeSuite(runs);
  const f1 = one.adversaries[0].figures.sender_top1;
  const f2 = both.adversaries[0].figures.sender_top1;
  t.equal(f2.n, runs[0].endToEnd.top1.length + runs[1].endToEnd.top1.length);
  t.ok(f2.ci95[1] - f2.ci95[0] < f1.ci95[1] - f1.ci95[0], 'narrower with two seeds');
  t.same(
    both.runs.map((r) => r.seed),
    [43, 44],
  );
  t.throws(() => summarizeSuite([]), RangeError);
});

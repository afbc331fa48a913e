import t from 'tap';
import { activeAnalysis } from '../../../src/sim/adversaries/activeAnalysis.js';
import {
  HoldAndFlushAttack,
  type InterceptedDatagram,
  NMinusOneAttack,
} from '../../../src/sim/adversaries/activeControllers.js';
import { gradeAttribution, gradeTargetContacts, indexTruth } from '../../../src/sim/adversaries/grader.js';
import type { Role } from '../../../src/sim/adversaries/observation.js';
import { activeView } from '../../../src/sim/adversaries/views.js';
import { mean } from '../../../src/sim/stats.js';
import { buildTrace } from '../../../src/sim/trace.js';
import { type ToyOptions, toyMixnet } from './toyMixnet.js';

const roles = new Map<string, Role>([
  ['s1', 'source'],
  ['s2', 'source'],
  ['p1', 'proxy'],
  ['p2', 'proxy'],
  ['cs', 'central'],
]);
const dg = (t: number, from: string, to: string): InterceptedDatagram => ({
  t,
  from,
  to,
  size: 2048,
  hash: `h${t}${from}`,
});

t.test('n−1 controller: blocks other sources’ first hops in each window, nothing else', async (t) => {
  const a = new NMinusOneAttack({ target: 's1', roles, startMs: 1000, periodMs: 6000, blockMs: 3000 });
  t.same(a.decide(dg(500, 's2', 'p1')), { action: 'deliver' }, 'before the attack');
  t.same(a.decide(dg(1500, 's2', 'p1')), { action: 'drop' }, 'another source in a window');
  t.same(a.decide(dg(1600, 's1', 'p1')), { action: 'deliver' }, 'the target passes');
  t.same(a.decide(dg(1700, 'p1', 'p2')), { action: 'deliver' }, 'mix links are not touched');
  t.same(a.decide(dg(1800, 'cs', 's2')), { action: 'deliver' }, 'deliveries are not touched');
  t.same(a.decide(dg(4500, 's2', 'p1')), { action: 'deliver' }, 'between windows');
  t.same(a.decide(dg(7100, 's2', 'p2')), { action: 'drop' }, 'next window');
  const log = a.drainActions(13_000);
  t.same(
    log.map((x) => [x.t, x.action]),
    [
      [1000, 'block-start'],
      [1500, 'drop'],
      [4000, 'block-end'],
      [7000, 'block-start'],
      [7100, 'drop'],
      [10_000, 'block-end'],
      [13_000, 'block-start'],
    ],
  );
  t.same(a.drainActions(13_000), [], 'drained once');
  const hold = new NMinusOneAttack({ target: 's1', roles, startMs: 0, mode: 'hold' });
  t.same(hold.decide(dg(100, 's2', 'p1')), { action: 'hold', untilMs: 3000 });
  t.throws(() => new NMinusOneAttack({ target: 'p1', roles, startMs: 0 }), RangeError, 'the target must be a source');
  t.throws(() => new NMinusOneAttack({ target: 's1', roles, startMs: 0, periodMs: 1000, blockMs: 2000 }), RangeError);
});

t.test('hold-and-flush controller: holds the target until the window ends, then flushes', async (t) => {
  const a = new HoldAndFlushAttack({ target: 's1', roles, startMs: 0, periodMs: 10_000, holdMs: 5000 });
  t.same(a.decide(dg(100, 's1', 'p1')), { action: 'hold', untilMs: 5000 });
  t.same(a.decide(dg(200, 's2', 'p1')), { action: 'deliver' }, 'others pass');
  t.same(a.decide(dg(6000, 's1', 'p1')), { action: 'deliver' }, 'outside the hold window');
  const log = a.drainActions(10_000);
  t.same(
    log.map((x) => x.action),
    ['hold', 'flush'],
  );
  t.equal(log[1].t, 5000);
});

const NET: ToyOptions = {
  seed: 31,
  sources: 15,
  proxies: 4,
  groups: [
    [0, 1, 2],
    [3, 4, 5],
    [6, 7, 8],
    [9, 10, 11],
    [12, 13, 14],
  ],
  durationMs: 90_000,
  messagesPerS: 4,
  muMs: 30,
  lambdaPerS: 5,
};

function attacked(make: (target: string, roles: Map<string, Role>) => NMinusOneAttack | HoldAndFlushAttack) {
  const probe = toyMixnet({ ...NET, durationMs: 1 });
  const r = new Map<string, Role>();
  for (const s of probe.sources) r.set(s, 'source');
  for (const p of probe.proxies) r.set(p, 'proxy');
  r.set(probe.central, 'central');
  const target = probe.sources[0];
  const trace = buildTrace(toyMixnet({ ...NET, interceptor: make(target, r) }).records);
  return { trace, target, idx: indexTruth(trace) };
}

t.test(
  'n−1 on the toy mixnet: attributions far above the base rate, contacts found, half of the others dropped',
  async (t) => {
    const { trace, target, idx } = attacked(
      (target, r) => new NMinusOneAttack({ target, roles: r, startMs: 5000, periodMs: 6000, blockMs: 3000 }),
    );
    const view = activeView(trace, 'n-1');
    if (!view) throw new Error('no attack recorded');
    t.equal(view.target, target);
    const r = activeAnalysis(view);
    t.ok(
      r.othersDroppedShare > 0.35 && r.othersDroppedShare < 0.6,
      `others' first hops dropped: ${r.othersDroppedShare.toFixed(2)}`,
    );
    const g = gradeAttribution(r.attributions, idx, target);
    t.ok(g.precision.length >= 20, `${g.precision.length} real deliveries attributed`);
    t.ok(
      mean(g.precision) > 4 * g.baseRate,
      `precision ${mean(g.precision).toFixed(2)} vs base rate ${g.baseRate.toFixed(3)}`,
    );
    t.ok(g.auc.auc > 0.8, `attribution AUC ${g.auc.auc.toFixed(3)}`);
    const contacts = gradeTargetContacts(r.contacts, idx, target);
    t.ok(contacts.auc > 0.9, `contacts AUC ${contacts.auc.toFixed(3)} (${contacts.positives} true contacts)`);
  },
);

t.test('hold-and-flush on the toy mixnet: the flushed burst gives the target away', async (t) => {
  const { trace, target, idx } = attacked(
    (target, r) => new HoldAndFlushAttack({ target, roles: r, startMs: 5000, periodMs: 8000, holdMs: 4000 }),
  );
  const view = activeView(trace, 'hold-and-flush');
  if (!view) throw new Error('no attack recorded');
  const r = activeAnalysis(view);
  t.ok(r.held > 50, `${r.held} target packets held`);
  t.equal(r.othersDropped, 0);
  const g = gradeAttribution(r.attributions, idx, target);
  t.ok(
    mean(g.precision) > 3 * g.baseRate,
    `precision ${mean(g.precision).toFixed(2)} vs base rate ${g.baseRate.toFixed(3)}`,
  );
});

t.test('a trace without an attack has no active view', async (t) => {
  const trace = buildTrace(toyMixnet(NET).records);
  t.equal(activeView(trace, 'n-1'), null, 'no attack, no active view');
});

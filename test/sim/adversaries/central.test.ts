import t from 'tap';
import { centralCollusion } from '../../../src/sim/adversaries/centralCollusion.js';
import { giftedCentral } from '../../../src/sim/adversaries/giftedCentral.js';
import { centralGift } from '../../../src/sim/adversaries/gifts.js';
import {
  gradeMembership,
  gradeSenderGuesses,
  gradeSiblings,
  groupSizeAt,
  indexTruth,
} from '../../../src/sim/adversaries/grader.js';
import { maliciousCentral } from '../../../src/sim/adversaries/maliciousCentral.js';
import { centralView, collusionView, firstProxies } from '../../../src/sim/adversaries/views.js';
import { mean } from '../../../src/sim/stats.js';
import { buildTrace, type Trace } from '../../../src/sim/trace.js';
import { type ToyOptions, toyMixnet } from './toyMixnet.js';

/** Today's protocol: CS knows whose mailbox each copy fills; the sender gets no copy. */
const TODAY: ToyOptions = {
  seed: 4,
  sources: 20,
  proxies: 5,
  groups: [
    [0, 1, 2, 3, 4],
    [5, 6, 7, 8, 9],
    [10, 11, 12, 13, 14],
    [15, 16, 17, 18, 19],
  ],
  durationMs: 60_000,
  messagesPerS: 5,
  muMs: 50,
  lambdaPerS: 10,
};

let todayTrace: Trace | undefined;
/** The TODAY trace, generated once for the tests that only read it. */
function today(): Trace {
  todayTrace ??= buildTrace(toyMixnet(TODAY).records);
  return todayTrace;
}

t.test('malicious CS: learns group membership, finds siblings and the member with no copy', async (t) => {
  const trace = today();
  const idx = indexTruth(trace);
  const r = maliciousCentral(centralView(trace), { horizonsMs: [5000, 15_000] });
  t.same(r.copyOps, ['deliverToken']);
  t.equal(r.personEvents, 'owner');
  t.same(
    r.membership.map((m) => m.horizonMs),
    [5000, 15_000, 60_000],
  );
  const aucs = r.membership.map((m) => gradeMembership(m.pairs, idx, m.horizonMs).auc);
  t.ok(aucs[2] > 0.97, `membership AUC after 60 s: ${aucs[2]}`);
  t.ok(aucs[0] <= aucs[2] + 1e-9, `more traffic, no worse: ${aucs.map((a) => a.toFixed(3))}`);
  const sib = gradeSiblings(r.siblings, idx);
  t.ok(mean(sib.top1) > 3 * mean(sib.baseline), `sibling top-1 ${mean(sib.top1)} vs ${mean(sib.baseline)}`);
  t.ok(sib.auc.auc > 0.9, `sibling AUC ${sib.auc.auc}`);
  const s = gradeSenderGuesses(r.senders, idx, { candidates: 20 });
  t.ok(s.messages.length >= 250, `${s.messages.length} messages`);
  t.ok(mean(s.top1) > 0.8, `sender top-1 ${mean(s.top1)} (baseline 0.05)`);
});

t.test('the gifted CS (told membership and siblings) names every sender, and says it was gifted', async (t) => {
  const trace = today();
  const idx = indexTruth(trace);
  const r = giftedCentral(centralView(trace), centralGift(trace));
  t.ok(r.gifts.length >= 2);
  const s = gradeSenderGuesses(r.senders, idx, { candidates: 20, baseline: (m) => 1 / groupSizeAt(idx, m) });
  t.equal(mean(s.top1), 1, 'the member with no copy, every time');
  t.ok(Math.abs(mean(s.baseline) - 0.2) < 1e-9, 'chance when told the group: 1 / group size');
});

t.test('when senders get their own copy, neither CS nor the gifted CS can single them out', async (t) => {
  const trace = buildTrace(toyMixnet({ ...TODAY, senderGetsCopy: true }).records);
  const idx = indexTruth(trace);
  const cs = gradeSenderGuesses(maliciousCentral(centralView(trace)).senders, idx, { candidates: 20 });
  const gifted = gradeSenderGuesses(giftedCentral(centralView(trace), centralGift(trace)).senders, idx, {
    candidates: 20,
  });
  t.ok(mean(cs.top1) < 0.3, `CS top-1 ${mean(cs.top1)} (group chance 0.2)`);
  t.ok(Math.abs(mean(gifted.top1) - 0.2) < 0.01, `gifted top-1 ${mean(gifted.top1)} = 1/5`);
});

t.test('CS with one colluding proxy: messages fanned out there are identified', async (t) => {
  const trace = today();
  const idx = indexTruth(trace);
  const colluders = firstProxies(trace, 1);
  const r = centralCollusion(collusionView(trace, colluders));
  t.ok(r.fanoutsSeen > 30, `${r.fanoutsSeen} fan-outs at the colluder`);
  const corrupt = (id: string) => [...(idx.fanoutNodes.get(id) ?? [])].some((n) => colluders.includes(n));
  const viaP2 = gradeSenderGuesses(r.senders, idx, { candidates: 20, filter: (m) => corrupt(m.id) });
  const all = gradeSenderGuesses(r.senders, idx, { candidates: 20 });
  const alone = gradeSenderGuesses(maliciousCentral(centralView(trace)).senders, idx, { candidates: 20 });
  t.ok(mean(viaP2.top1) > 0.9, `through the colluding P2: ${mean(viaP2.top1)}`);
  t.ok(mean(all.top1) >= mean(alone.top1) - 0.01, `overall ${mean(all.top1)} vs CS alone ${mean(alone.top1)}`);
});

t.test('with more colluders, P1 + P2 name senders outright, even when senders get copies', async (t) => {
  const trace = buildTrace(toyMixnet({ ...TODAY, senderGetsCopy: true, durationMs: 30_000 }).records);
  const idx = indexTruth(trace);
  const colluders = firstProxies(trace, 3);
  const r = centralCollusion(collusionView(trace, colluders));
  t.ok(r.sendersNamedByP1 > 10, `${r.sendersNamedByP1} bundles named by a colluding P1`);
  const alone = gradeSenderGuesses(maliciousCentral(centralView(trace)).senders, idx, { candidates: 20 });
  const col = gradeSenderGuesses(r.senders, idx, { candidates: 20 });
  t.ok(mean(col.top1) > mean(alone.top1) + 0.15, `${mean(col.top1)} vs CS alone ${mean(alone.top1)}`);
});

t.test('a CS that cannot tie boxes to users falls back to its deliveries, and still learns groups today', async (t) => {
  const trace = buildTrace(toyMixnet({ ...TODAY, csKnowsOwners: false, durationMs: 30_000 }).records);
  const idx = indexTruth(trace);
  const r = maliciousCentral(centralView(trace));
  t.equal(r.personEvents, 'send');
  const auc = gradeMembership(r.membership[r.membership.length - 1].pairs, idx, 30_000).auc;
  t.ok(auc > 0.9, `membership AUC from deliveries alone: ${auc}`);
});

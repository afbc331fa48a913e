import t from 'tap';
import { edgeDisclosure } from '../../../src/sim/adversaries/edgeDisclosure.js';
import { gradeContacts, gradeMembership, indexTruth } from '../../../src/sim/adversaries/grader.js';
import { edgeView } from '../../../src/sim/adversaries/views.js';
import { buildTrace } from '../../../src/sim/trace.js';
import { toyMixnet } from './toyMixnet.js';

const PAIRS = [
  [0, 1],
  [2, 3],
  [4, 5],
  [6, 7],
  [8, 9],
  [10, 11],
];

t.test('statistical disclosure finds a planted contact through delays and cover', async (t) => {
  const net = toyMixnet({
    seed: 21,
    sources: 12,
    proxies: 4,
    groups: PAIRS,
    durationMs: 120_000,
    messagesPerS: 1.5,
    muMs: 50,
    lambdaPerS: 8,
    planted: { sender: 4, group: 2, perS: 2 },
  });
  const trace = buildTrace(net.records);
  const idx = indexTruth(trace);
  const r = edgeDisclosure(edgeView(trace));
  const fromPlanted = r.contacts.filter((p) => p.a === net.sources[4]).sort((a, b) => b.score - a.score);
  t.equal(
    fromPlanted[0].b,
    net.sources[5],
    `the planted sender's top contact is its partner (z ${fromPlanted[0].score.toFixed(1)})`,
  );
  t.ok(fromPlanted[0].score > 3, `significant (next best z ${fromPlanted[1].score.toFixed(1)})`);
  // Pairs that never exchanged anything score like noise: z ≈ N(0, 1), so the scale means something.
  const pairOf = (s: string) => net.sources.indexOf(s) >> 1;
  const noise = r.contacts.filter((p) => pairOf(p.a) !== pairOf(p.b)).map((p) => p.score);
  const mu = noise.reduce((a, b) => a + b, 0) / noise.length;
  const sd = Math.sqrt(noise.reduce((a, b) => a + (b - mu) ** 2, 0) / noise.length);
  t.ok(Math.abs(mu) < 0.4 && sd > 0.6 && sd < 1.5, `non-contacts: mean z ${mu.toFixed(2)}, sd ${sd.toFixed(2)}`);
  const contacts = gradeContacts(r.contacts, idx);
  const membership = gradeMembership(r.membership, idx, 120_000);
  t.ok(contacts.auc > 0.6, `contacts AUC ${contacts.auc.toFixed(3)} [${contacts.ci95.map((x) => x.toFixed(3))}]`);
  t.ok(membership.auc > 0.6, `membership AUC ${membership.auc.toFixed(3)}`);
});

t.test('a short, heavily mixed run with few messages gives the SDA little to go on', async (t) => {
  const net = toyMixnet({
    seed: 22,
    sources: 12,
    proxies: 4,
    groups: PAIRS,
    durationMs: 20_000,
    messagesPerS: 0.3,
    muMs: 500,
    lambdaPerS: 10,
  });
  const trace = buildTrace(net.records);
  const m = gradeMembership(edgeDisclosure(edgeView(trace)).membership, indexTruth(trace), 20_000);
  t.ok(m.ci95[0] < 0.7, `little signal: AUC ${m.auc.toFixed(3)} [${m.ci95.map((x) => x.toFixed(3))}]`);
});

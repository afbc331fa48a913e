import fc from 'fast-check';
import t from 'tap';
import {
  type AdversaryInput,
  analyseAnonymity,
  copyGapMedianMs,
  effectiveModel,
  erlangLogPdf,
  type LinkEvent,
  mulberry32,
  posteriorFromLogScores,
  type Role,
  type TrueMessage,
} from '../../src/sim/adversary.js';

const SOURCES = Array.from({ length: 10 }, (_, i) => `10.0.0.${i + 1}:4000`);
const PROXIES = ['10.0.1.1:5000', '10.0.1.2:5000', '10.0.1.3:5000'];
const CENTRAL = '10.0.2.1:6000';

function roles(): Map<string, Role> {
  const r = new Map<string, Role>();
  for (const s of SOURCES) r.set(s, 'source');
  for (const p of PROXIES) r.set(p, 'proxy');
  r.set(CENTRAL, 'central');
  return r;
}

interface Workload {
  seed: number;
  messages: number;
  /** Mean gap between real messages (ms), Poisson. */
  messageGapMs: number;
  /** Cover sends per source per second (Poisson); 0 = no cover. */
  coverPerS: number;
  /** Per-copy transit: stages × exponential(mean), or uniform [0.2, 1.5] ms when mean is 0. */
  meanDelayMs: number;
  stages: number;
  copies: number;
}

/**
 * A synthetic trace with known answers. With cover, each source emits a
 * Poisson stream of S→P datagrams and a real message takes the slot of a
 * random one of its sender's sends near the message time (Loopix: a queued
 * real packet replaces the next cover packet). Without cover, the real send
 * is the only S→P datagram around. Every copy crosses independent delays
 * and is delivered CS→T. Unrelated traffic (P→P, P→CS, S→CS keepalives,
 * CS→T dummies) is added to check it is ignored.
 */
function synth(w: Workload): AdversaryInput {
  const rnd = mulberry32(w.seed);
  const exp = (mean: number) => -Math.log(1 - rnd()) * mean;
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const events: LinkEvent[] = [];
  const ev = (timeMs: number, from: string, to: string) => events.push({ timeMs, from, to, size: 2048 });
  const times: number[] = [];
  let now = 1000;
  for (let i = 0; i < w.messages; i++) {
    now += exp(w.messageGapMs);
    times.push(now);
  }
  const end = now + 2000;
  const sendsBy = new Map<string, number[]>();
  for (const s of SOURCES) {
    const list: number[] = [];
    if (w.coverPerS > 0) {
      for (let x = exp(1000 / w.coverPerS); x < end; x += exp(1000 / w.coverPerS)) list.push(x);
    }
    sendsBy.set(s, list);
  }
  const messages: TrueMessage[] = [];
  times.forEach((tm, i) => {
    const sender = pick(SOURCES);
    const list = sendsBy.get(sender) as number[];
    let sentAt: number;
    if (w.coverPerS > 0) {
      // The first cover slot of the sender at or after the message time carries it.
      sentAt = list.find((x) => x >= tm) ?? tm;
      if (!list.includes(sentAt)) list.push(sentAt);
    } else {
      sentAt = tm;
      list.push(tm);
    }
    const others = SOURCES.filter((s) => s !== sender);
    const recipients: string[] = [];
    while (recipients.length < w.copies) {
      const r = pick(others);
      if (!recipients.includes(r)) recipients.push(r);
    }
    const deliveries = recipients.map((recipient) => {
      let d = 0;
      if (w.meanDelayMs > 0) for (let k = 0; k < w.stages; k++) d += exp(w.meanDelayMs);
      else d = 0.2 + 1.3 * rnd();
      const at = sentAt + d;
      ev(at, CENTRAL, recipient);
      return { recipient, atMs: at + 0.3 * rnd() };
    });
    messages.push({ id: `m${i}`, sender, sentAtMs: sentAt, group: 'g', recipients, deliveries });
  });
  for (const [s, list] of sendsBy) for (const x of list) ev(x, s, pick(PROXIES));
  // Noise the adversary must ignore.
  for (let x = 0; x < end; x += 100) {
    ev(x + rnd(), pick(SOURCES), CENTRAL);
    ev(x + rnd(), pick(PROXIES), pick(PROXIES));
    ev(x + rnd(), pick(PROXIES), CENTRAL);
  }
  // Events arrive unsorted from a merged tap; the adversary must not rely on order.
  for (let i = events.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [events[i], events[j]] = [events[j], events[i]];
  }
  return { events, roles: roles(), messages, meanDelayMs: w.meanDelayMs, delayStages: w.stages };
}

const ablation: Workload = {
  seed: 1,
  messages: 300,
  messageGapMs: 200,
  coverPerS: 0,
  meanDelayMs: 0,
  stages: 3,
  copies: 3,
};
const defended: Workload = {
  seed: 2,
  messages: 300,
  messageGapMs: 200,
  coverPerS: 20,
  meanDelayMs: 50,
  stages: 3,
  copies: 3,
};

const fmt = (x: number) => x.toFixed(3);

t.test('ablation-like trace: the adversary links almost everything', async (t) => {
  const a = analyseAnonymity(synth(ablation));
  t.comment(
    `ablation: linking ${fmt(a.linking_accuracy)} (chance ${fmt(a.random_guess_accuracy)}), entropy ${fmt(a.entropy_bits_mean)}/${fmt(a.max_entropy_bits)} bits, grouping ${fmt(a.cs_grouping_accuracy)} over ${a.cs_grouping_pairs} pairs (tau ${fmt(a.cs_grouping_tau_ms)} ms)`,
  );
  t.equal(a.messages_scored, 300);
  t.equal(a.candidate_senders, 10);
  t.equal(a.random_guess_accuracy, 0.1);
  t.ok(Math.abs(a.max_entropy_bits - Math.log2(10)) < 1e-12);
  t.ok(a.linking_accuracy > 0.97, 'links nearly every message');
  t.ok(a.entropy_bits_mean < 0.05, 'entropy near zero');
  t.ok(a.cs_grouping_accuracy > 0.85, 'groups deliveries well');
  t.equal(a.entropies.length, 300);
});

t.test('defended-like trace: the adversary is near chance', async (t) => {
  const a = analyseAnonymity(synth(defended));
  const ind = analyseAnonymity(synth(defended), { combine: 'independent' });
  const win = analyseAnonymity(synth(defended), { grouping: 'window' });
  t.comment(
    `defended: linking ${fmt(a.linking_accuracy)} (chance ${fmt(a.random_guess_accuracy)}), entropy ${fmt(a.entropy_bits_mean)}/${fmt(a.max_entropy_bits)} bits, grouping ${fmt(a.cs_grouping_accuracy)} over ${a.cs_grouping_pairs} pairs (tau ${fmt(a.cs_grouping_tau_ms)} ms)`,
  );
  t.comment(
    `defended, independent combination: linking ${fmt(ind.linking_accuracy)}, entropy ${fmt(ind.entropy_bits_mean)}; window grouping ${fmt(win.cs_grouping_accuracy)} over ${win.cs_grouping_pairs} pairs`,
  );
  t.equal(a.messages_scored, 300);
  t.ok(a.linking_accuracy <= 2 * a.random_guess_accuracy, 'linking within 2x chance');
  t.ok(a.entropy_bits_mean > a.max_entropy_bits - 0.6, 'entropy near log2(10)');
  t.ok(a.entropy_bits_mean <= a.max_entropy_bits + 1e-9);
  t.ok(Math.abs(a.cs_grouping_accuracy - 0.5) < 0.1, 'grouping near chance');
  // The marginal product lets each copy pick a different send of the same sender: it is overconfident
  // (lower entropy) without being more accurate. Both stay near chance here.
  t.ok(ind.linking_accuracy <= 2 * ind.random_guess_accuracy);
  // Over all pairs in a window, balanced accuracy measures the window more than the defence (see adversary.ts).
  t.ok(win.cs_grouping_accuracy > a.cs_grouping_accuracy);
});

t.test('defences buy something: ablation clearly above defended', async (t) => {
  const d = analyseAnonymity(synth(defended));
  const a = analyseAnonymity(synth({ ...defended, coverPerS: 0, meanDelayMs: 0 }));
  t.ok(a.linking_accuracy > 3 * d.linking_accuracy);
  t.ok(a.cs_grouping_accuracy > d.cs_grouping_accuracy + 0.25);
});

t.test('ground truth never excludes a candidate; senders without sends get 0', async (t) => {
  // One message from S0 to S1; S1 also sent something at the same time.
  const r = roles();
  const events: LinkEvent[] = [
    { timeMs: 100, from: SOURCES[0], to: PROXIES[0], size: 1 },
    { timeMs: 100, from: SOURCES[1], to: PROXIES[0], size: 1 },
    { timeMs: 250, from: CENTRAL, to: SOURCES[1], size: 1 },
  ];
  const messages: TrueMessage[] = [
    {
      id: 'x',
      sender: SOURCES[0],
      sentAtMs: 100,
      group: 'g',
      recipients: [SOURCES[1]],
      deliveries: [{ recipient: SOURCES[1], atMs: 251 }],
    },
  ];
  const a = analyseAnonymity({ events, roles: r, messages, meanDelayMs: 50, delayStages: 3 });
  // Two equally likely senders (one of them the recipient): 1 bit, tie graded as 1/2.
  t.ok(Math.abs(a.entropies[0] - 1) < 1e-9);
  t.equal(a.linking_accuracy, 0.5);
  // No grouping pairs at all: chance.
  t.equal(a.cs_grouping_accuracy, 0.5);
  t.equal(a.cs_grouping_pairs, 0);
});

t.test('unmatched deliveries and empty inputs', async (t) => {
  const empty = analyseAnonymity({ events: [], roles: new Map(), messages: [], meanDelayMs: 50, delayStages: 3 });
  t.same(
    { ...empty, entropies: empty.entropies.length },
    {
      entropy_bits_mean: 0,
      max_entropy_bits: 0,
      linking_accuracy: 0,
      random_guess_accuracy: 0,
      cs_grouping_accuracy: 0.5,
      candidate_senders: 0,
      messages_scored: 0,
      cs_grouping_pairs: 0,
      cs_grouping_tau_ms: empty.cs_grouping_tau_ms,
      entropies: 0,
    },
  );
  for (const v of Object.values(empty)) if (typeof v === 'number') t.ok(Number.isFinite(v));
  // A delivery with no CS→T datagram before it (or only one far too early) is not scored.
  const r = roles();
  const messages: TrueMessage[] = [
    {
      id: 'y',
      sender: SOURCES[0],
      sentAtMs: 0,
      group: 'g',
      recipients: [SOURCES[1]],
      deliveries: [{ recipient: SOURCES[1], atMs: 5000 }],
    },
  ];
  const events: LinkEvent[] = [{ timeMs: 10, from: CENTRAL, to: SOURCES[1], size: 1 }];
  t.equal(analyseAnonymity({ events, roles: r, messages, meanDelayMs: 50, delayStages: 3 }).messages_scored, 0);
  // Scored, but no send at all in the window: uniform posterior.
  const late = analyseAnonymity({
    events: [{ timeMs: 4999, from: CENTRAL, to: SOURCES[1], size: 1 }],
    roles: r,
    messages,
    meanDelayMs: 50,
    delayStages: 3,
  });
  t.equal(late.messages_scored, 1);
  t.ok(Math.abs(late.entropies[0] - Math.log2(10)) < 1e-9);
  t.ok(Math.abs(late.linking_accuracy - 0.1) < 1e-12);
});

t.test('model helpers', async (t) => {
  t.same(effectiveModel(0, 3), { stages: 1, meanMs: 1 });
  t.same(effectiveModel(50, 3), { stages: 3, meanMs: 50 });
  t.ok(Math.abs(copyGapMedianMs({ stages: 1, meanMs: 10 }) - 10 * Math.LN2) < 1e-12);
  // Difference of two Erlang(3, mean 50): sd = sqrt(6) * 50 ≈ 122 ms, median |Δ| ≈ 0.67 sd.
  const tau = copyGapMedianMs({ stages: 3, meanMs: 50 });
  t.ok(tau > 70 && tau < 95, `tau ${tau}`);
  t.equal(copyGapMedianMs({ stages: 3, meanMs: 50 }), tau, 'deterministic');
  // The Erlang pdf integrates to 1.
  let area = 0;
  for (let x = 0.05; x < 2000; x += 0.1) area += Math.exp(erlangLogPdf(x, 3, 50)) * 0.1;
  t.ok(Math.abs(area - 1) < 1e-3);
  t.equal(erlangLogPdf(0, 3, 50), Number.NEGATIVE_INFINITY);
  t.equal(erlangLogPdf(-1, 1, 2), Math.log(0.5));
});

t.test('posterior: entropy within [0, log2 n], probabilities sum to 1, argmax in top', async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.constant(Number.NEGATIVE_INFINITY)), {
          minLength: 1,
          maxLength: 40,
        }),
        (scores) => {
          const p = posteriorFromLogScores(scores);
          const sum = p.probs.reduce((a, b) => a + b, 0);
          if (Math.abs(sum - 1) > 1e-9) return false;
          if (p.entropyBits < 0 || p.entropyBits > Math.log2(scores.length) + 1e-9) return false;
          if (p.top.length < 1) return false;
          const best = Math.max(...p.probs);
          return p.top.every((i) => Math.abs(p.probs[i] - best) <= 1e-6 * best);
        },
      ),
    ),
  );
});

t.test('performance: 100k events and 1k messages', async (t) => {
  const input = synth({ ...defended, seed: 3, messages: 1000, messageGapMs: 200, coverPerS: 48 });
  t.ok(input.events.length >= 100_000, `${input.events.length} events`);
  const t0 = performance.now();
  const a = analyseAnonymity(input);
  const ms = performance.now() - t0;
  t.comment(`analysed ${input.events.length} events, ${a.messages_scored} messages in ${ms.toFixed(0)} ms`);
  t.equal(a.messages_scored, 1000);
  t.ok(ms < 5000);
});

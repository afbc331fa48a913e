/**
 * The global passive adversary of `mixd simulate` (DESIGN.md sections 5 and 8).
 *
 * Pure analysis: no sockets, no clocks, no randomness except a fixed-seed
 * generator used to evaluate the public delay model. The adversary sees every
 * datagram on every link (time, source endpoint, destination endpoint, size;
 * the size is the same for every packet so it carries no information) and
 * knows every endpoint's role and the public timing model (delays are
 * published in the directory). It does NOT see contents, so it cannot tell
 * real packets from cover, loops or drops.
 *
 * Ground truth (`TrueMessage`) is used for exactly two things:
 *  1. choosing which observations to score: for each delivered message the
 *     adversary is told which observed CS→T datagrams carry it. That is a
 *     gift (a stronger adversary than a real one), so the figures are
 *     conservative;
 *  2. grading: comparing the adversary's guesses with the true sender and the
 *     true message identity of each delivery.
 *
 * Sender inference (entropy, linking accuracy). Observations are
 *  - "sends": datagrams from a `source` endpoint to a `proxy` endpoint
 *    (S→P1). Every such datagram is a candidate, real or cover;
 *  - "deliveries": datagrams from a `central` endpoint to a `source` endpoint
 *    (CS→T).
 * A message reaches CS after `delayStages` independent exponential delays of
 * mean `meanDelayMs`, i.e. an Erlang(k = delayStages, rate = 1/meanDelayMs)
 * transit time. When the model has (almost) no delay (the ablation), a
 * narrow kernel is used instead: one exponential stage of mean
 * `minMeanDelayMs` (1 ms), so "the most recent preceding send" wins.
 *
 * For a message delivered at CS→T times t_1..t_m, under the hypothesis that
 * send event s (at time s) carried it, the copies' transit times are
 * independent given s, so the likelihood of s is  Π_d f(t_d − s − ε)  where f
 * is the transit pdf and ε a per-message processing allowance (default 0;
 * negative arguments are clamped to 0). A sender's likelihood is the sum over
 * its send events (each could be the real one; cover is emitted at the same
 * Poisson rate by every source, so cover density cancels out), and the prior
 * over senders is uniform. This "joint" combination is the exact posterior
 * of the model, and stronger than the "independent" combination
 * (Π_d Σ_s f(t_d − s)), which is available as an option.
 *
 * To stay robust against timing the model does not explain (event-loop
 * stalls, truncated delays), each per-delivery density gets a small uniform
 * floor: f'(x) = f(x) + η / W, with η = `outlierWeight` (1e-3) and W the
 * look-back window. Only sends in [t_min − W, t_min] are considered, where
 * W = 10 × k × mean + 50 ms; senders with no send there get probability 0.
 * All arithmetic is in log space (log-sum-exp), so it cannot underflow.
 *
 * Candidate senders are all `source` endpoints, including a recipient of the
 * message (ground truth is not used to exclude anyone). The posterior is
 * normalised; its Shannon entropy (bits) is recorded per message and averaged;
 * `max_entropy_bits` = log2(#candidates). The top-1 guess is the argmax;
 * ties are graded deterministically as 1/(#tied) if the true sender is among
 * them (the expected score of a uniform tie-break). If no candidate send
 * exists at all the posterior is uniform (every source tied).
 *
 * CS grouping inference (`cs_grouping_accuracy`). The adversary tries to tell
 * from timing alone whether two real CS→T deliveries carry the same message.
 * It predicts "same" when |Δt| < τ, where τ is the median of |X1 − X2| for two
 * independent transit times X1, X2 under the public model (computed by a
 * deterministic, fixed-seed Monte-Carlo; about 74 ms for 3 stages of 50 ms,
 * ln 2 × 1 ms for the narrow kernel). The pairs scored are, by default, the
 * time-adjacent pairs of real deliveries (`grouping: 'adjacent'`): this is
 * the adversary segmenting the delivery stream into messages at gaps larger
 * than τ (single-linkage clustering). The score is balanced accuracy
 * (TPR + TNR) / 2, so 0.5 is chance whatever the class balance.
 *
 * Why adjacent pairs and not "all pairs within a window": over all pairs in a
 * window of length L, negatives are spread over the whole window while
 * positives are concentrated near 0, so the balanced accuracy tends to
 * 0.75 − τ/(2L) however well messages are interleaved: it mostly measures the
 * window, not the defence. With adjacent pairs, when the deliveries of
 * different messages interleave (the defence works) adjacent gaps look alike
 * for both classes and the score falls to 0.5; when messages arrive as tight
 * separated bursts (ablation) it approaches 1. The window variant is kept as
 * `grouping: 'window'` (window = `groupingWindowMs`, default 3 × k × mean).
 * If there are no positive or no negative pairs the classifier cannot be
 * graded and the figure is 0.5 (chance), with `cs_grouping_pairs` showing
 * how many pairs there were.
 */

export type Role = 'central' | 'proxy' | 'source';

export interface LinkEvent {
  timeMs: number;
  from: string;
  to: string;
  size: number;
}

export interface TrueMessage {
  id: string;
  /** Endpoint of the sending source. */
  sender: string;
  /** When the sender's first packet for it left (same clock as LinkEvent.timeMs). */
  sentAtMs: number;
  group: string;
  /** Endpoints of the members that should get it (sender excluded). */
  recipients: string[];
  /** When each recipient's source daemon got it (same clock). */
  deliveries: Array<{ recipient: string; atMs: number }>;
}

export interface AdversaryInput {
  events: LinkEvent[];
  /** Every endpoint's role. */
  roles: Map<string, Role>;
  messages: TrueMessage[];
  /** Public timing model: each real message crosses `delayStages` independent exponential delays of mean `meanDelayMs` between leaving S and reaching CS. */
  meanDelayMs: number;
  delayStages: number;
}

export interface AdversaryOptions {
  /** A ground-truth delivery at `atMs` is carried by the last CS→recipient datagram at or before `atMs + deliveryToleranceMs`. Default 5. */
  deliveryToleranceMs?: number;
  /** ...and not earlier than `atMs - maxDeliveryLagMs` (otherwise the delivery is left unmatched). Default 1000. */
  maxDeliveryLagMs?: number;
  /** ε, subtracted from every S→CS interval before evaluating the transit pdf. Default 0. */
  processingAllowanceMs?: number;
  /** Below this mean per-stage delay the model is replaced by one exponential stage of this mean (the narrow kernel). Default 1. */
  minMeanDelayMs?: number;
  /** η, the weight of the uniform floor added to each per-delivery density. Default 1e-3. */
  outlierWeight?: number;
  /** How deliveries of one message combine: exact posterior (default) or product of per-delivery marginals. */
  combine?: 'joint' | 'independent';
  /** Which delivery pairs the grouping adversary is graded on. Default 'adjacent'. */
  grouping?: 'adjacent' | 'window';
  /** Pair window for `grouping: 'window'`. Default 3 × stages × mean of the effective model. */
  groupingWindowMs?: number;
}

export interface AnonymityFigures {
  /** Mean over delivered messages of the Shannon entropy (bits) of the adversary's sender distribution. */
  entropy_bits_mean: number;
  /** log2(number of candidate senders), the ideal. */
  max_entropy_bits: number;
  /** Fraction of delivered messages whose top-1 guess is the true sender (ties count 1/#tied). */
  linking_accuracy: number;
  /** 1 / number of candidate senders (the chance baseline). */
  random_guess_accuracy: number;
  /** Balanced accuracy of the same-message classifier on CS→T delivery pairs; 0.5 = chance. */
  cs_grouping_accuracy: number;
  /** Number of candidate senders (source endpoints). */
  candidate_senders: number;
  /** Delivered messages scored (at least one delivery matched to an observed CS→T datagram). */
  messages_scored: number;
  /** Delivery pairs the grouping classifier was graded on. */
  cs_grouping_pairs: number;
  /** The grouping threshold τ (ms) derived from the public model. */
  cs_grouping_tau_ms: number;
  /** Per scored message, for the chart. */
  entropies: number[];
}

/** The transit-time model the adversary actually evaluates. */
export interface EffectiveModel {
  stages: number;
  meanMs: number;
}

export function effectiveModel(meanDelayMs: number, delayStages: number, minMeanDelayMs = 1): EffectiveModel {
  if (!(meanDelayMs >= minMeanDelayMs)) return { stages: 1, meanMs: minMeanDelayMs };
  return { stages: Math.max(1, Math.round(delayStages) || 1), meanMs: meanDelayMs };
}

/** log of the Erlang(k, 1/mean) pdf at x (x <= 0 is evaluated at 0+). */
export function erlangLogPdf(x: number, stages: number, meanMs: number): number {
  const rate = 1 / meanMs;
  if (x <= 0) return stages === 1 ? Math.log(rate) : Number.NEGATIVE_INFINITY;
  let logFact = 0;
  for (let i = 2; i < stages; i++) logFact += Math.log(i);
  return stages * Math.log(rate) + (stages - 1) * Math.log(x) - rate * x - logFact;
}

/** Small deterministic PRNG (mulberry32), uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * τ: median of |X1 − X2| for two independent transit times under the model.
 * Exact for one stage (ln 2 × mean); a fixed-seed Monte-Carlo otherwise.
 */
export function copyGapMedianMs(model: EffectiveModel, samples = 20001): number {
  if (model.stages === 1) return Math.LN2 * model.meanMs;
  const rnd = mulberry32(0x5eed);
  const erlang = () => {
    let s = 0;
    for (let i = 0; i < model.stages; i++) s -= Math.log(1 - rnd());
    return s * model.meanMs;
  };
  const gaps = new Float64Array(samples);
  for (let i = 0; i < samples; i++) gaps[i] = Math.abs(erlang() - erlang());
  gaps.sort();
  return gaps[samples >> 1];
}

/** First index i with a[i] >= x (a sorted ascending). */
function lowerBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index i with a[i] > x (a sorted ascending). */
function upperBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function logAddExp(a: number, b: number): number {
  if (a === Number.NEGATIVE_INFINITY) return b;
  if (b === Number.NEGATIVE_INFINITY) return a;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}

/** Shannon entropy (bits), argmax set of a distribution given by unnormalised log-weights. */
export function posteriorFromLogScores(scores: ArrayLike<number>): {
  probs: number[];
  entropyBits: number;
  top: number[];
} {
  const n = scores.length;
  if (n === 0) return { probs: [], entropyBits: 0, top: [] };
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) if (scores[i] > max) max = scores[i];
  if (max === Number.NEGATIVE_INFINITY || Number.isNaN(max)) {
    // No information at all: uniform, everyone tied.
    const probs = new Array<number>(n).fill(1 / n);
    return { probs, entropyBits: Math.log2(n), top: [...Array(n).keys()] };
  }
  const probs = new Array<number>(n);
  let z = 0;
  for (let i = 0; i < n; i++) {
    probs[i] = Math.exp(scores[i] - max);
    z += probs[i];
  }
  let h = 0;
  const top: number[] = [];
  for (let i = 0; i < n; i++) {
    probs[i] /= z;
    if (probs[i] > 0) h -= probs[i] * Math.log2(probs[i]);
    // Tied with the maximum up to rounding in log space.
    if (max - scores[i] <= 1e-9 * Math.max(1, Math.abs(max))) top.push(i);
  }
  return { probs, entropyBits: Math.max(0, h), top };
}

interface Observations {
  sources: string[];
  sendTimes: Float64Array;
  sendSender: Int32Array;
  deliveriesTo: Map<string, Float64Array>;
}

/** Splits the trace into sorted S→P sends and per-recipient CS→S deliveries, using roles only. */
function observe(events: LinkEvent[], roles: Map<string, Role>): Observations {
  const sources = [...roles].filter(([, r]) => r === 'source').map(([e]) => e);
  sources.sort();
  const sourceIndex = new Map(sources.map((e, i) => [e, i] as const));
  const sends: Array<{ t: number; s: number }> = [];
  const deliveries = new Map<string, number[]>();
  for (const ev of events) {
    const fromRole = roles.get(ev.from);
    const toRole = roles.get(ev.to);
    if (fromRole === 'source' && toRole === 'proxy') {
      sends.push({ t: ev.timeMs, s: sourceIndex.get(ev.from) as number });
    } else if (fromRole === 'central' && toRole === 'source') {
      const list = deliveries.get(ev.to);
      if (list) list.push(ev.timeMs);
      else deliveries.set(ev.to, [ev.timeMs]);
    }
  }
  sends.sort((a, b) => a.t - b.t);
  const sendTimes = new Float64Array(sends.length);
  const sendSender = new Int32Array(sends.length);
  sends.forEach((x, i) => {
    sendTimes[i] = x.t;
    sendSender[i] = x.s;
  });
  const deliveriesTo = new Map<string, Float64Array>();
  for (const [to, list] of deliveries) deliveriesTo.set(to, Float64Array.from(list).sort());
  return { sources, sendTimes, sendSender, deliveriesTo };
}

/** A ground-truth delivery matched to an observed CS→T datagram. */
interface MatchedDelivery {
  message: number;
  recipient: string;
  /** Index of the datagram in deliveriesTo.get(recipient). */
  index: number;
  t: number;
}

export function analyseAnonymity(input: AdversaryInput, options: AdversaryOptions = {}): AnonymityFigures {
  const tolerance = options.deliveryToleranceMs ?? 5;
  const maxLag = options.maxDeliveryLagMs ?? 1000;
  const eps = options.processingAllowanceMs ?? 0;
  const eta = options.outlierWeight ?? 1e-3;
  const combine = options.combine ?? 'joint';
  const model = effectiveModel(input.meanDelayMs, input.delayStages, options.minMeanDelayMs ?? 1);
  const windowMs = 10 * model.stages * model.meanMs + 50;
  const logFloor = eta > 0 ? Math.log(eta / windowMs) : Number.NEGATIVE_INFINITY;
  // Precomputed constants of the Erlang log-pdf.
  const rate = 1 / model.meanMs;
  let logFact = 0;
  for (let i = 2; i < model.stages; i++) logFact += Math.log(i);
  const logConst = model.stages * Math.log(rate) - logFact;
  const logAtZero = model.stages === 1 ? Math.log(rate) : Number.NEGATIVE_INFINITY;
  const km1 = model.stages - 1;
  const logLik = (interval: number): number => {
    const x = interval - eps;
    const lp = x <= 0 ? logAtZero : logConst + km1 * Math.log(x) - rate * x;
    return logAddExp(lp, logFloor);
  };

  const obs = observe(input.events, input.roles);
  const n = obs.sources.length;
  const sourceIndex = new Map(obs.sources.map((e, i) => [e, i] as const));

  // Match ground-truth deliveries to observed CS→T datagrams.
  const matched: MatchedDelivery[] = [];
  const perMessage: number[][] = input.messages.map(() => []);
  input.messages.forEach((m, mi) => {
    const seen = new Set<string>();
    for (const d of m.deliveries) {
      const times = obs.deliveriesTo.get(d.recipient);
      if (!times) continue;
      const idx = upperBound(times, d.atMs + tolerance) - 1;
      if (idx < 0 || times[idx] < d.atMs - maxLag) continue;
      const key = `${d.recipient}\u0000${idx}`;
      if (seen.has(key)) continue;
      seen.add(key);
      matched.push({ message: mi, recipient: d.recipient, index: idx, t: times[idx] });
      perMessage[mi].push(times[idx]);
    }
  });

  // Sender inference.
  const entropies: number[] = [];
  let correct = 0;
  const scores = new Float64Array(n);
  const senderMax = new Float64Array(n);
  const senderAcc = new Float64Array(n);
  let ll = new Float64Array(1024);
  perMessage.forEach((ts, mi) => {
    if (ts.length === 0) return;
    scores.fill(Number.NEGATIVE_INFINITY);
    if (n > 0) {
      if (combine === 'joint') {
        let tMin = Number.POSITIVE_INFINITY;
        for (const t of ts) if (t < tMin) tMin = t;
        const lo = lowerBound(obs.sendTimes, tMin - windowMs);
        const hi = upperBound(obs.sendTimes, tMin);
        if (hi - lo > ll.length) ll = new Float64Array(2 * (hi - lo));
        senderMax.fill(Number.NEGATIVE_INFINITY);
        for (let j = lo; j < hi; j++) {
          const s = obs.sendTimes[j];
          let sum = 0;
          for (const t of ts) sum += logLik(t - s);
          ll[j - lo] = sum;
          const who = obs.sendSender[j];
          if (sum > senderMax[who]) senderMax[who] = sum;
        }
        senderAcc.fill(0);
        for (let j = lo; j < hi; j++) {
          const who = obs.sendSender[j];
          if (senderMax[who] !== Number.NEGATIVE_INFINITY) senderAcc[who] += Math.exp(ll[j - lo] - senderMax[who]);
        }
        for (let i = 0; i < n; i++) {
          if (senderMax[i] !== Number.NEGATIVE_INFINITY) scores[i] = senderMax[i] + Math.log(senderAcc[i]);
        }
      } else {
        scores.fill(0);
        for (const t of ts) {
          const lo = lowerBound(obs.sendTimes, t - windowMs);
          const hi = upperBound(obs.sendTimes, t);
          senderMax.fill(Number.NEGATIVE_INFINITY);
          if (hi - lo > ll.length) ll = new Float64Array(2 * (hi - lo));
          for (let j = lo; j < hi; j++) {
            const v = logLik(t - obs.sendTimes[j]);
            ll[j - lo] = v;
            const who = obs.sendSender[j];
            if (v > senderMax[who]) senderMax[who] = v;
          }
          senderAcc.fill(0);
          for (let j = lo; j < hi; j++) {
            const who = obs.sendSender[j];
            if (senderMax[who] !== Number.NEGATIVE_INFINITY) senderAcc[who] += Math.exp(ll[j - lo] - senderMax[who]);
          }
          // A delivery no one could have caused tells nothing: skip it rather than zero everyone.
          let any = false;
          for (let i = 0; i < n; i++) if (senderMax[i] !== Number.NEGATIVE_INFINITY) any = true;
          if (!any) continue;
          for (let i = 0; i < n; i++) {
            scores[i] +=
              senderMax[i] === Number.NEGATIVE_INFINITY ? senderMax[i] : senderMax[i] + Math.log(senderAcc[i]);
          }
        }
      }
    }
    const post = posteriorFromLogScores(scores);
    entropies.push(post.entropyBits);
    const truth = sourceIndex.get(input.messages[mi].sender);
    if (truth !== undefined && post.top.includes(truth)) correct += 1 / post.top.length;
  });

  // CS grouping inference.
  const tau = copyGapMedianMs(model);
  const real = dedupeDatagrams(matched).sort((a, b) => a.t - b.t);
  let tp = 0;
  let fn = 0;
  let tn = 0;
  let fp = 0;
  const grade = (a: MatchedDelivery, b: MatchedDelivery) => {
    const same = a.message === b.message;
    const predictSame = Math.abs(b.t - a.t) < tau;
    if (same && predictSame) tp++;
    else if (same) fn++;
    else if (predictSame) fp++;
    else tn++;
  };
  if ((options.grouping ?? 'adjacent') === 'adjacent') {
    for (let i = 1; i < real.length; i++) grade(real[i - 1], real[i]);
  } else {
    const w = options.groupingWindowMs ?? 3 * model.stages * model.meanMs;
    for (let i = 0; i < real.length; i++) {
      for (let j = i + 1; j < real.length && real[j].t - real[i].t <= w; j++) grade(real[i], real[j]);
    }
  }
  const positives = tp + fn;
  const negatives = tn + fp;
  // Without both classes there is nothing to discriminate: report chance.
  const grouping = positives > 0 && negatives > 0 ? (tp / positives + tn / negatives) / 2 : 0.5;

  const scored = entropies.length;
  return {
    entropy_bits_mean: scored ? entropies.reduce((a, b) => a + b, 0) / scored : 0,
    max_entropy_bits: n > 0 ? Math.log2(n) : 0,
    linking_accuracy: scored ? correct / scored : 0,
    random_guess_accuracy: n > 0 ? 1 / n : 0,
    cs_grouping_accuracy: grouping,
    candidate_senders: n,
    messages_scored: scored,
    cs_grouping_pairs: positives + negatives,
    cs_grouping_tau_ms: tau,
    entropies,
  };
}

/** One entry per observed datagram (two ground-truth deliveries can claim the same one; the first wins). */
function dedupeDatagrams(matched: MatchedDelivery[]): MatchedDelivery[] {
  const seen = new Set<string>();
  const out: MatchedDelivery[] = [];
  for (const m of matched) {
    const key = `${m.recipient}\u0000${m.index}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(m);
  }
  return out;
}

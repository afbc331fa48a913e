import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { simulate } from '../../src/sim/simulate.js';

const KEYS = [
  'delivered_ratio',
  'latency_ms',
  'deliveries',
  'expected_deliveries',
  'duplicates',
  'non_member_deliveries',
  'packets_per_s',
  'anonymity',
];
const ANON = [
  'entropy_bits_mean',
  'max_entropy_bits',
  'linking_accuracy',
  'random_guess_accuracy',
  'cs_grouping_accuracy',
];

t.test('a short simulation: delivery, no duplicates, no leaks, and delays + cover beat the ablation', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mixd-simtest-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const json = join(dir, 'report.json');
  const html = join(dir, 'report.html');
  const report = await simulate({
    proxies: 4,
    sources: 8,
    groups: 2,
    groupSize: 4,
    duration: 5,
    rate: 5,
    mu: 40,
    seed: 7,
    json,
    report: html,
    quiet: true,
  });
  const written = JSON.parse(readFileSync(json, 'utf8'));
  for (const k of KEYS) {
    t.ok(k in written, `JSON has ${k}`);
    t.ok(k in written.ablation, `JSON ablation has ${k}`);
  }
  for (const k of ['p50', 'p95', 'p99']) t.type(written.latency_ms[k], 'number', `latency_ms.${k}`);
  for (const k of ANON) {
    t.type(written.anonymity[k], 'number', `anonymity.${k}`);
    t.type(written.ablation.anonymity[k], 'number', `ablation.anonymity.${k}`);
  }
  t.ok(report.expected_deliveries > 20, `enough traffic to judge (${report.expected_deliveries} expected deliveries)`);
  t.ok(report.delivered_ratio >= 0.99, `delivered ${report.deliveries}/${report.expected_deliveries}`);
  t.equal(report.duplicates, 0, 'no duplicates');
  t.equal(report.non_member_deliveries, 0, 'nothing reaches a non-member');
  t.equal(report.ablation.duplicates, 0);
  t.equal(report.ablation.non_member_deliveries, 0);
  t.ok(
    report.ablation.anonymity.linking_accuracy > report.anonymity.linking_accuracy,
    `ablation links better (${report.ablation.anonymity.linking_accuracy}) than the defended run (${report.anonymity.linking_accuracy})`,
  );
  const page = readFileSync(html, 'utf8');
  t.match(page, /<svg/);
  t.notMatch(page, /<script src/);
});

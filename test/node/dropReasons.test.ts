/**
 * One list of drop reasons (src/node/dropReasons.ts), and the table in docs/protocol.md section 24
 * says exactly what it says: no reason counted that is not documented, none documented that cannot
 * be counted.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { controlDropReason, DROP_REASONS, groupDropReason, isDropReason } from '../../src/node/dropReasons.js';

const ROOT = join(import.meta.dirname, '..', '..');

t.test('docs/protocol.md section 24 lists exactly DROP_REASONS', async (t) => {
  const doc = readFileSync(join(ROOT, 'docs', 'protocol.md'), 'utf8');
  const start = doc.indexOf('## 24. Daemon drop reasons');
  const end = doc.indexOf('## 25.', start);
  t.ok(start > 0 && end > start, 'section 24 found');
  const documented = [...doc.slice(start, end).matchAll(/^\| `([a-z0-9_]+)` \|/gm)].map((m) => m[1] as string);
  t.same([...documented].sort(), [...DROP_REASONS].sort(), 'the same reasons');
  t.equal(new Set(documented).size, documented.length, 'each documented once');
  t.equal(new Set(DROP_REASONS).size, DROP_REASONS.length, 'each listed once');
});

t.test('reasons built from other layers are members', async (t) => {
  t.equal(controlDropReason('truncated'), 'control_truncated');
  t.equal(
    controlDropReason('bad_seal'),
    'control_bad_field',
    'a reason the control decoder never raises maps to bad_field',
  );
  t.equal(groupDropReason('duplicate'), 'group_duplicate');
  t.ok(isDropReason('rate_limited'));
  t.notOk(isDropReason('challenge_flood'), 'the global challenge table is gone');
});

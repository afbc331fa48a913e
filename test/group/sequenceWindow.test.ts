import fc from 'fast-check';
import t from 'tap';
import {
  advanceWindow,
  checkWindow,
  floorWindow,
  type SequenceWindow,
  WINDOW_BITS,
} from '../../src/group/sequenceWindow.js';

t.test('window basics', async (t) => {
  t.ok(WINDOW_BITS >= 64);
  let w: SequenceWindow | undefined;
  t.equal(checkWindow(w, 5), 'fresh');
  w = advanceWindow(w, 5);
  t.equal(checkWindow(w, 5), 'duplicate');
  t.equal(checkWindow(w, 4), 'fresh', 'reordered but new');
  w = advanceWindow(w, 4);
  t.equal(checkWindow(w, 4), 'duplicate');
  w = advanceWindow(w, 5 + WINDOW_BITS);
  t.equal(checkWindow(w, 5), 'too_old');
  t.equal(checkWindow(w, 6), 'fresh');
  t.equal(checkWindow(w, 5 + WINDOW_BITS), 'duplicate');
  const f = floorWindow(10);
  t.equal(checkWindow(f, 10), 'duplicate');
  t.equal(checkWindow(f, 3), 'duplicate');
  t.equal(checkWindow(f, 11), 'fresh');
});

t.test('property: the window accepts each number at most once and agrees with a reference set', async () => {
  fc.assert(
    fc.property(fc.array(fc.nat({ max: 400 }), { maxLength: 300 }), (seqs) => {
      let w: SequenceWindow | undefined;
      const seen = new Set<number>();
      let highest = -1;
      for (const s of seqs) {
        const v = checkWindow(w, s);
        const expected = seen.has(s) ? 'duplicate' : s <= highest - WINDOW_BITS ? 'too_old' : 'fresh';
        // A seen number that fell out of the window reports too_old, which is also a rejection.
        if (expected === 'fresh' && v !== 'fresh') return false;
        if (expected !== 'fresh' && v === 'fresh') return false;
        if (v === 'fresh') {
          w = advanceWindow(w, s);
          seen.add(s);
          highest = Math.max(highest, s);
        }
      }
      return true;
    }),
    { numRuns: 500 },
  );
});

/**
 * Hyperband's brackets, worked by hand (algorithms.md §7.4). The crc32 values are Python's
 * `binascii.crc32(s.encode())`, printed once and written here.
 */
import { HyperbandPruner, bracketBudget } from './hyperband.js';
import { correctlyRoundedLog, crc32, pyLog } from './python-math.js';
import { FakeStudy } from './test-utils/study.js';

const PY_CRC32: Record<string, number> = {
  'The quick brown fox jumps over the lazy dog': 1095738169,
  hb_0: 2407493257,
  hb_1: 4168637983,
  hb_2: 1634799525,
  hb_3: 376848179,
  hb_4: 2282924688,
  hb_5: 4279605766,
  hb_6: 1713163196,
  hb_7: 287046442,
  'étude_3': 2584895610,
};

/** A pruner whose brackets are built: R given, initialised by one call on an empty study. */
function built(options: ConstructorParameters<typeof HyperbandPruner>[0], name = 'hb'): HyperbandPruner {
  const p = new HyperbandPruner(options);
  const study = new FakeStudy('minimize', name);
  p.shouldPrune(study.view(), study.trials[study.add('RUNNING', [[0, 1]])]!);
  return p;
}

describe('hyperband', () => {
  it('crc32 is binascii.crc32 over UTF-8', () => {
    for (const [s, v] of Object.entries(PY_CRC32)) expect(crc32(s)).toBe(v);
  });

  it('R = 81, r = 1, η = 3: 5 brackets with budgets ⌈5·3^s/(s+1)⌉ = 81, 34, 15, 8, 5', () => {
    const p = built({ maxResource: 81 });
    expect(p.nBrackets).toBe(5);
    expect(p.budgets).toEqual([81, 34, 15, 8, 5]);
    expect([0, 1, 2, 3, 4].map((b) => bracketBudget(5, 3, b))).toEqual([81, 34, 15, 8, 5]);
  });

  it('assigns trial n to the bracket where crc32("<study>_<n>") mod 143 falls among the cumulative budgets 81, 115, 130, 138, 143', () => {
    const p = built({ maxResource: 81 });
    // hb_0: 2407493257 mod 143 = 26 → 0;  hb_1: 81 → 1;  hb_2: 73 → 0;  hb_3: 136 → 3;  hb_7: 111 → 1
    expect([0, 1, 2, 3, 7].map((n) => p.bracketOf('hb', n))).toEqual([0, 1, 0, 3, 1]);
    for (const n of [0, 1, 2, 3, 4, 5, 6, 7]) {
      let r = PY_CRC32[`hb_${n}`]! % 143;
      let b = 0;
      for (const budget of [81, 34, 15, 8, 5]) {
        r -= budget;
        if (r < 0) break;
        b++;
      }
      expect(p.bracketOf('hb', n)).toBe(b);
    }
  });

  it('counts brackets with CPython\'s math.log: ⌊log₃ 243⌋ is 4 there (4.999…), so R = 243 gives 5 brackets, not 6', () => {
    expect(pyLog(243, 3)).toBe(4.999999999999999);
    expect(pyLog(81, 3)).toBe(4);
    expect(pyLog(27, 3)).toBe(3); // V8: Math.log(27)/Math.log(3) = 3.0000000000000004
    expect(pyLog(1000, 10)).toBe(2.9999999999999996);
    expect(built({ maxResource: 243 }).nBrackets).toBe(5);
    expect(built({ maxResource: 243 }).budgets).toEqual([ 81, 34, 15, 8, 5 ]);
    expect(built({ maxResource: 100, minResource: 2, reductionFactor: 2 }).nBrackets).toBe(6); // log₂ 50 = 5.64
    // Correctly rounded where glibc is too (values printed by Python's math.log).
    expect(correctlyRoundedLog(0.1)).toBe(-2.3025850929940455);
    expect(correctlyRoundedLog(5e-324)).toBe(-744.4400719213812);
  });

  it("maxResource 'auto' waits for a completed trial: R = its last step + 1", () => {
    const study = new FakeStudy('minimize', 'hb');
    const p = new HyperbandPruner();
    const first = study.add('RUNNING');
    for (let s = 0; s < 27; s++) expect(p.shouldPrune(study.view(), study.report(first, s, 100))).toBe(false);
    expect(p.nBrackets).toBeUndefined();
    study.complete(first);
    p.shouldPrune(study.view(), study.report(study.add('RUNNING'), 0, 1));
    expect(p.maxResource).toBe(27);
    expect(p.nBrackets).toBe(4); // ⌊log₃ 27⌋ + 1
    expect(p.budgets).toEqual([27, 12, 6, 4]); // ⌈4·27/4⌉, ⌈4·9/3⌉, ⌈4·3/2⌉, ⌈4·1/1⌉
  });

  it('each bracket is successive halving with min early-stopping rate = its index, over its own trials only', () => {
    // R = 81, r = 1, η = 3. Trials 0, 2 are in bracket 0 (rung 0 ends at 1); trial 1 and 7 in bracket 1 (rung 0 ends at 3).
    const study = new FakeStudy('minimize', 'hb');
    const p = new HyperbandPruner({ maxResource: 81 });
    for (let n = 0; n < 8; n++) study.add('RUNNING');
    expect(p.shouldPrune(study.view(), study.report(0, 1, 5))).toBe(false);
    expect(study.rungs(0)).toEqual({ completed_rung_0: 5 });
    expect(p.shouldPrune(study.view(), study.report(2, 1, 6))).toBe(true); // bracket 0: [5, 6]
    expect(p.shouldPrune(study.view(), study.report(1, 1, 9))).toBe(false); // bracket 1: step 1 < 3
    expect(study.rungs(1)).toEqual({});
    // Bracket 1 does not see trial 0's or 2's rung 0: alone at its rung, trial 1 goes on with a worse value.
    expect(p.shouldPrune(study.view(), study.report(1, 3, 9))).toBe(false);
    expect(study.rungs(1)).toEqual({ completed_rung_0: 9 });
    expect(p.shouldPrune(study.view(), study.report(7, 3, 10))).toBe(true); // bracket 1: [9, 10]
    // Bracket 3 (trial 3): rung 0 ends at 3³ = 27.
    expect(p.shouldPrune(study.view(), study.report(3, 26, 1))).toBe(false);
    expect(study.rungs(3)).toEqual({});
    expect(p.shouldPrune(study.view(), study.report(3, 27, 1))).toBe(false);
    expect(study.rungs(3)).toEqual({ completed_rung_0: 1 });
  });

  it('bracketStudy is the view a sampler gets for a trial (its bracket\'s trials)', () => {
    const study = new FakeStudy('minimize', 'hb');
    for (let n = 0; n < 8; n++) study.add('RUNNING');
    const p = built({ maxResource: 81 });
    expect(p.bracketStudy(study.view(), study.trials[1]!).trials.map((t) => t.number)).toEqual([1, 7]);
    expect(p.bracketStudy(study.view(), study.trials[0]!).trials.map((t) => t.number)).toEqual([0, 2, 4, 5, 6]);
  });

  it('checks its params as Optuna does', () => {
    expect(() => new HyperbandPruner({ bootstrapCount: 1 })).toThrow(/incompatible/);
    expect(() => new HyperbandPruner({ reductionFactor: 1 })).toThrow(/reductionFactor/);
    expect(() => new HyperbandPruner({ maxResource: 1.5 })).toThrow(/maxResource/);
    expect(() => new HyperbandPruner({ maxResource: 1.5 })).toThrow(expect.objectContaining({ code: 'FT_PARAM_INVALID', about: { param: 'pruner.params.maxResource' } }));
  });
});

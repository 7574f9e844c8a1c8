import { Rng } from '@fairtune/core';
import { ACTIVITIES, DEFAULT_GROUP_EFFECT, activityAt, activitySchedule, ppgSignal, subjectProfile, type PhysiologyTrace, type SubjectProfile } from './physiology.js';

/** Seconds spent in each activity id (4-Hz activity track). */
function timeIn(schedule: { id: number; start: number }[], seconds: number): Map<number, number> {
  const act = activityAt(schedule, seconds, 4);
  const out = new Map<number, number>();
  for (const a of act) out.set(a, (out.get(a) ?? 0) + 0.25);
  return out;
}

describe('activitySchedule', () => {
  it('has every subject perform every protocol activity once, seated first, whatever the recording length', () => {
    // Before, activities took 12-22 % of the recording each, so a 10-min recording held only
    // 5-7 of the 8 and subjects differed in which (e.g. all high-motion ones): a between-subject
    // confound larger than the group effect.
    for (const seconds of [60, 240, 600, 3600]) {
      for (let seed = 1; seed <= 20; seed++) {
        const s = activitySchedule(new Rng(seed), seconds);
        const ids = s.filter((a) => a.id !== 0).map((a) => a.id);
        expect(ids[0]).toBe(1);
        expect([...ids].sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
        for (let k = 1; k < s.length; k++) expect(s[k]!.start).toBeGreaterThanOrEqual(s[k - 1]!.start);
        expect(s[0]!.start).toBe(0);
        expect(s[s.length - 1]!.start).toBeLessThan(seconds);
      }
    }
  });

  it('gives each activity its DaLiA protocol share (±25 % jitter) and at most 10 % to transients', () => {
    const seconds = 1200;
    const protocolTotal = ACTIVITIES.reduce((a, p) => a + p.protocolMinutes, 0);
    for (let seed = 1; seed <= 10; seed++) {
      const t = timeIn(activitySchedule(new Rng(seed), seconds), seconds);
      const transient = t.get(0) ?? 0;
      expect(transient).toBeGreaterThan(0);
      expect(transient).toBeLessThanOrEqual(0.1 * seconds + 8 * 0.5);
      const active = seconds - transient;
      for (const p of ACTIVITIES.slice(1)) {
        const nominal = (active * p.protocolMinutes) / protocolTotal;
        const got = t.get(p.id) ?? 0;
        // Jitter of ±25 % per weight moves a share by at most a factor 1.25/0.75 either way;
        // start times are rounded to whole seconds.
        expect(got).toBeGreaterThanOrEqual(nominal * (0.75 / 1.25) - 1);
        expect(got).toBeLessThanOrEqual(nominal * (1.25 / 0.75) + 1);
      }
    }
  });

  it('is reproducible from the seed', () => {
    expect(activitySchedule(new Rng(5), 600)).toEqual(activitySchedule(new Rng(5), 600));
    expect(activitySchedule(new Rng(5), 600)).not.toEqual(activitySchedule(new Rng(6), 600));
  });
});

describe('subjectProfile', () => {
  it("gives women a higher resting HR than men on average (a learnable sex difference, not only the group effect's noise)", () => {
    const mean = (sex: 'male' | 'female') => {
      const rng = new Rng(9);
      let sum = 0;
      for (let i = 0; i < 400; i++) {
        const hr = subjectProfile(rng, false, DEFAULT_GROUP_EFFECT, sex).restingHr;
        expect(hr).toBeGreaterThanOrEqual(sex === 'female' ? 62 : 56);
        expect(hr).toBeLessThanOrEqual(sex === 'female' ? 82 : 76);
        sum += hr;
      }
      return sum / 400;
    };
    expect(mean('female') - mean('male')).toBeGreaterThan(4);
    // The group effect itself does not move the resting HR.
    expect(subjectProfile(new Rng(3), true, DEFAULT_GROUP_EFFECT, 'male').restingHr).toBe(subjectProfile(new Rng(3), false, DEFAULT_GROUP_EFFECT, 'male').restingHr);
  });
});

/** Magnitude of the DFT of `x` at `hz` (sampling rate `fs`). */
function dftMag(x: Float64Array, fs: number, hz: number): number {
  let re = 0;
  let im = 0;
  for (let i = 0; i < x.length; i++) {
    re += x[i]! * Math.cos((2 * Math.PI * hz * i) / fs);
    im -= x[i]! * Math.sin((2 * Math.PI * hz * i) / fs);
  }
  return Math.hypot(re, im);
}

/** Second-to-first harmonic ratio of a still (no motion) 30-s PPG at exactly 60 bpm. */
function harmonicRatio(profile: SubjectProfile): number {
  const seconds = 30;
  const fs = 64;
  const trace: PhysiologyTrace = { hr: new Float64Array(seconds * 4).fill(60), beats: Float64Array.from({ length: seconds }, (_, k) => k), fsHr: 4 };
  const still = [0, 1, 2].map(() => new Float64Array(seconds * 32));
  const x = ppgSignal(new Rng(1), profile, trace, still, 32, seconds, fs);
  return dftMag(x, fs, 2) / dftMag(x, fs, 1);
}

describe('group effect: pulse morphology', () => {
  const off = { ...DEFAULT_GROUP_EFFECT, pulseReflection: 0 };

  it("gives the affected group a stronger, later reflected wave and a double-humped pulse (a learnable, not a noise, difference)", () => {
    let affectedRatio = 0;
    let otherRatio = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const on = subjectProfile(new Rng(seed), true, DEFAULT_GROUP_EFFECT, 'female');
      const base = subjectProfile(new Rng(seed), false, DEFAULT_GROUP_EFFECT, 'female');
      expect(on.dicroticRatio).toBeGreaterThanOrEqual(0.8);
      expect(base.dicroticRatio).toBeLessThanOrEqual(0.5);
      expect(on.dicroticPhase).toBeGreaterThanOrEqual(0.58);
      expect(base.dicroticPhase).toBe(0.45);
      // Everything else about the subject is drawn identically.
      expect(on.restingHr).toBe(base.restingHr);
      expect(on.systolicWidth).toBe(base.systolicWidth);
      affectedRatio += harmonicRatio(on) / 20;
      otherRatio += harmonicRatio(base) / 20;
    }
    // The reflected wave moves pulse energy from the beat rate to twice the beat rate.
    expect(affectedRatio).toBeGreaterThan(1.5 * otherRatio);
  });

  it('is absent when pulseReflection is 0 and scales in between', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const disabled = subjectProfile(new Rng(seed), true, off, 'female');
      const base = subjectProfile(new Rng(seed), false, off, 'female');
      // Only the noise multipliers of the group effect remain.
      expect({ ...disabled, artefactScale: 1, noiseScale: 1, labelNoiseBpm: 0 }).toEqual(base);
      expect(harmonicRatio({ ...disabled, noiseScale: 1, artefactScale: 1 })).toBeCloseTo(harmonicRatio(base), 10);
      const half = subjectProfile(new Rng(seed), true, { ...DEFAULT_GROUP_EFFECT, pulseReflection: 0.5 }, 'female');
      const full = subjectProfile(new Rng(seed), true, DEFAULT_GROUP_EFFECT, 'female');
      expect(half.dicroticRatio).toBeCloseTo((base.dicroticRatio + full.dicroticRatio) / 2, 12);
      expect(half.dicroticPhase).toBeCloseTo((base.dicroticPhase + full.dicroticPhase) / 2, 12);
    }
  });
});

describe('resting HR by sex', () => {
  it('differs by sex unless restingHrDifference is false, without changing the rest of the subject', () => {
    const none = { ...DEFAULT_GROUP_EFFECT, restingHrDifference: false };
    let differs = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const f = subjectProfile(new Rng(seed), false, DEFAULT_GROUP_EFFECT, 'female');
      const m = subjectProfile(new Rng(seed), false, DEFAULT_GROUP_EFFECT, 'male');
      if (f.restingHr !== m.restingHr) differs++;
      const f0 = subjectProfile(new Rng(seed), false, none, 'female');
      const m0 = subjectProfile(new Rng(seed), false, none, 'male');
      expect(f0.restingHr).toBe(m0.restingHr);
      expect(f0.restingHr).toBeGreaterThanOrEqual(58);
      expect(f0.restingHr).toBeLessThanOrEqual(78);
      expect(f0.amplitude).toBe(f.amplitude);
    }
    expect(differs).toBe(20);
  });
});

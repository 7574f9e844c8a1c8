import { Rng } from '@fairtune/core';
import { ACTIVITIES, DEFAULT_GROUP_EFFECT, activityAt, activitySchedule, subjectProfile } from './physiology.js';

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

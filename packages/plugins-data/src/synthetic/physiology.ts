/**
 * The physiological signal model behind every synthetic cohort (documented in
 * docs/datasets.md): activity-driven heart-rate trajectories, a two-Gaussian PPG pulse with a
 * dicrotic notch, respiration, wrist acceleration per activity, and motion artefacts in the
 * PPG driven by that acceleration. The group effect scales artefacts, sensor noise and label
 * noise for one group (irreducible error) and gives that group a different pulse morphology
 * (a learnable difference), so that fairness gaps exist for mitigations to close.
 */
import { Rng } from '@fairtune/core/plugin';

/** DaLiA activity ids (readme §II): 0 transient, 1 sitting, 2 stairs, 3 table soccer, 4 cycling, 5 driving, 6 lunch, 7 walking, 8 working. */
export interface ActivityProfile {
  readonly id: number;
  readonly name: string;
  /** Steady-state HR above the subject's resting HR (bpm). */
  readonly hrDelta: number;
  /** Dominant movement frequency (Hz) and acceleration amplitude (g). */
  readonly motionHz: number;
  readonly motionG: number;
  /**
   * Nominal duration in the DaLiA data-collection protocol (minutes; Reiss et al. 2019):
   * the synthetic schedule gives each activity this share of the recording.
   */
  readonly protocolMinutes: number;
}

export const ACTIVITIES: readonly ActivityProfile[] = [
  { id: 0, name: 'transient', hrDelta: 10, motionHz: 1.0, motionG: 0.15, protocolMinutes: 0 },
  { id: 1, name: 'sitting', hrDelta: 0, motionHz: 0.3, motionG: 0.02, protocolMinutes: 10 },
  { id: 2, name: 'stairs', hrDelta: 40, motionHz: 1.6, motionG: 0.45, protocolMinutes: 5 },
  { id: 3, name: 'table soccer', hrDelta: 25, motionHz: 2.2, motionG: 0.6, protocolMinutes: 5 },
  { id: 4, name: 'cycling', hrDelta: 45, motionHz: 1.2, motionG: 0.3, protocolMinutes: 8 },
  { id: 5, name: 'driving', hrDelta: 8, motionHz: 0.5, motionG: 0.08, protocolMinutes: 15 },
  { id: 6, name: 'lunch', hrDelta: 12, motionHz: 0.8, motionG: 0.12, protocolMinutes: 30 },
  { id: 7, name: 'walking', hrDelta: 30, motionHz: 1.8, motionG: 0.4, protocolMinutes: 10 },
  { id: 8, name: 'working', hrDelta: 5, motionHz: 0.6, motionG: 0.06, protocolMinutes: 20 },
];

export interface SubjectProfile {
  readonly restingHr: number;
  /** Pulse shape: relative dicrotic (reflected) wave amplitude, its position and width as fractions of the RR interval. */
  readonly dicroticRatio: number;
  readonly dicroticPhase: number;
  readonly dicroticWidth: number;
  readonly systolicWidth: number;
  /** PPG amplitude (arbitrary units, E4 BVP-like). */
  readonly amplitude: number;
  readonly respirationHz: number;
  /** Multipliers from the group effect (1 = no effect). */
  readonly artefactScale: number;
  readonly noiseScale: number;
  readonly labelNoiseBpm: number;
}

export interface GroupEffect {
  /** Attribute value that receives the effect (compared with the subject's `sex`). */
  readonly group: string;
  /** Multiplies motion-artefact amplitude in the PPG. */
  readonly artefactScale: number;
  /** Multiplies broadband sensor noise. */
  readonly noiseScale: number;
  /** Standard deviation (bpm) of noise added to that group's HR labels. */
  readonly labelNoiseBpm: number;
  /**
   * Strength (0-1) of the group's stronger and later reflected (diastolic) pulse wave: at 1 its
   * amplitude is 0.8-1.0 of the systolic peak (vs 0.25-0.5) and it peaks at 0.58-0.66 of the RR
   * interval (vs 0.45), so the pulse is double-humped with a strong second harmonic. Unlike the
   * noise terms this is a systematic, learnable difference: an HR estimator fitted mostly on the
   * other group's single-humped pulses errs more on this group, and can learn the morphology when
   * the group gets more weight (measurements in docs/datasets.md). 0 disables it (the group's pulses are drawn like the
   * other group's). Optional, defaulting to DEFAULT_PULSE_REFLECTION: it is not in
   * DEFAULT_GROUP_EFFECT because the loaders' param schema (additionalProperties: false) lists
   * the group-effect fields it accepts, and a default object with an unlisted field fails it.
   */
  readonly pulseReflection?: number;
  /**
   * Whether resting HR depends on sex (the ranges of `restingHrRange`; default true). False draws
   * every subject's resting HR from one range, for a cohort with no group difference at all.
   * Optional and without a schema default for the same reason as `pulseReflection`, and so that
   * cohorts and cache keys of pipelines that do not set it stay as they were.
   */
  readonly restingHrDifference?: boolean;
}

export const DEFAULT_GROUP_EFFECT: GroupEffect = { group: 'female', artefactScale: 1.8, noiseScale: 1.6, labelNoiseBpm: 1.5 };
export const DEFAULT_PULSE_REFLECTION = 1;

/**
 * Women's resting HR is on average a few bpm higher than men's (population studies report
 * 3-7 bpm): female 62-82, male 56-76 bpm (68 ± 10 when the sex is unknown). Besides realism,
 * this gives the sexes a learnable difference, so a training set that under-represents one sex
 * biases a model's HR prior against it — the situation group reweighting (IF, GroupDRO) can
 * correct — whereas the noise of the group effect alone only raises that group's error floor.
 */
export function restingHrRange(sex: 'male' | 'female' | undefined): [number, number] {
  return sex === 'female' ? [62, 82] : sex === 'male' ? [56, 76] : [58, 78];
}

export function subjectProfile(rng: Rng, affected: boolean, effect: GroupEffect, sex?: 'male' | 'female'): SubjectProfile {
  const restingHr = rng.uniform(...restingHrRange(effect.restingHrDifference === false ? undefined : sex));
  const dicroticRatio = rng.uniform(0.25, 0.5);
  const systolicWidth = rng.uniform(0.06, 0.09);
  const amplitude = rng.uniform(60, 140);
  const respirationHz = rng.uniform(0.2, 0.33);
  // Drawn for every subject, so the random stream (and thus everything else about a subject)
  // does not depend on whether the morphology effect is on.
  const reflectedRatio = rng.uniform(0.8, 1.0);
  const reflectedPhase = rng.uniform(0.58, 0.66);
  // Women's stronger wave reflection (higher augmentation index) is well documented; here it is
  // exaggerated into a distinct late diastolic peak so the effect on HR estimation is clear.
  const s = affected ? Math.min(1, Math.max(0, effect.pulseReflection ?? DEFAULT_PULSE_REFLECTION)) : 0;
  return {
    restingHr,
    dicroticRatio: dicroticRatio + s * (reflectedRatio - dicroticRatio),
    dicroticPhase: 0.45 + s * (reflectedPhase - 0.45),
    dicroticWidth: 0.07 + s * 0.015,
    systolicWidth,
    amplitude,
    respirationHz,
    artefactScale: affected ? effect.artefactScale : 1,
    noiseScale: affected ? effect.noiseScale : 1,
    labelNoiseBpm: affected ? effect.labelNoiseBpm : 0,
  };
}

/**
 * A random activity schedule covering `seconds`, as (activity id, start second) pairs. As in the
 * DaLiA protocol every subject performs every activity once (seated first, the rest in a
 * shuffled order), each for its protocol share of the recording (jittered ±25 %), with a short
 * transient (id 0) between activities. Fitting the whole protocol into any recording length
 * matters: if subjects did different subsets of activities (e.g. only the high-motion ones),
 * that alone would make some subjects far harder than others and swamp the group effect.
 */
export function activitySchedule(rng: Rng, seconds: number): { id: number; start: number }[] {
  const order = [2, 3, 4, 5, 6, 7, 8];
  rng.shuffle(order);
  order.unshift(1); // protocols start seated
  // Transients of 5-15 s, shrunk together so they never take more than 10 % of the recording.
  const transients = order.slice(1).map(() => rng.uniform(5, 15));
  const transientTotal = transients.reduce((a, b) => a + b, 0);
  const shrink = Math.min(1, (0.1 * seconds) / transientTotal);
  const weights = order.map((id) => ACTIVITIES[id]!.protocolMinutes * rng.uniform(0.75, 1.25));
  const weightTotal = weights.reduce((a, b) => a + b, 0);
  const active = seconds - transientTotal * shrink;
  const out: { id: number; start: number }[] = [];
  let t = 0;
  order.forEach((id, k) => {
    out.push({ id, start: Math.round(t) });
    t += (active * weights[k]!) / weightTotal;
    if (k < transients.length) {
      out.push({ id: 0, start: Math.round(t) });
      t += transients[k]! * shrink;
    }
  });
  return out;
}

/** Activity id at 4 Hz (DaLiA's activity rate). */
export function activityAt(schedule: readonly { id: number; start: number }[], seconds: number, fs = 4): Float64Array {
  const n = Math.round(seconds * fs);
  const out = new Float64Array(n);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const t = i / fs;
    while (k + 1 < schedule.length && schedule[k + 1]!.start <= t) k++;
    out[i] = schedule[k]!.id;
  }
  return out;
}

export interface PhysiologyTrace {
  /** True instantaneous HR at `fsHr` Hz (bpm). */
  readonly hr: Float64Array;
  /** Beat onset times in seconds. */
  readonly beats: Float64Array;
  readonly fsHr: number;
}

/** HR follows each activity's target with a first-order lag (τ = 25 s) plus slow variability. */
export function heartRate(rng: Rng, profile: SubjectProfile, activity4Hz: Float64Array, seconds: number): PhysiologyTrace {
  const fsHr = 4;
  const n = Math.round(seconds * fsHr);
  const hr = new Float64Array(n);
  let h = profile.restingHr;
  let wander = 0;
  for (let i = 0; i < n; i++) {
    const act = ACTIVITIES[activity4Hz[Math.min(i, activity4Hz.length - 1)]!] ?? ACTIVITIES[0]!;
    const target = profile.restingHr + act.hrDelta;
    h += (target - h) / (25 * fsHr);
    wander += -wander / (30 * fsHr) + rng.normal(0, 0.35);
    // Respiratory sinus arrhythmia: ±2 bpm at the breathing rate.
    hr[i] = Math.min(200, Math.max(40, h + wander + 2 * Math.sin(2 * Math.PI * profile.respirationHz * (i / fsHr))));
  }
  // Integrate the HR into beat times.
  const beats: number[] = [];
  let phase = rng.next();
  const dt = 1 / 256;
  for (let t = 0; t < seconds; t += dt) {
    phase += (hr[Math.min(n - 1, Math.floor(t * fsHr))]! / 60) * dt;
    if (phase >= 1) {
      phase -= 1;
      beats.push(t);
    }
  }
  return { hr, beats: Float64Array.from(beats), fsHr };
}

/** One pulse: systolic Gaussian plus a delayed dicrotic Gaussian; the valley between is the notch. */
function pulseShape(x: number, p: SubjectProfile): number {
  const sys = Math.exp(-((x - 0.18) ** 2) / (2 * p.systolicWidth ** 2));
  const dic = p.dicroticRatio * Math.exp(-((x - p.dicroticPhase) ** 2) / (2 * p.dicroticWidth ** 2));
  return sys + dic;
}

/** Wrist acceleration (g, x/y/z) at `fs` Hz: gravity, per-activity periodic motion and noise. */
export function wristAcceleration(rng: Rng, activity4Hz: Float64Array, seconds: number, fs: number): Float64Array[] {
  const n = Math.round(seconds * fs);
  const axes = [new Float64Array(n), new Float64Array(n), new Float64Array(n)];
  const phase = [rng.uniform(0, 6.28), rng.uniform(0, 6.28), rng.uniform(0, 6.28)];
  const gravity = [rng.uniform(-0.3, 0.3), rng.uniform(-0.4, 0.4), -0.9];
  let jitter = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    const t = i / fs;
    const act = ACTIVITIES[activity4Hz[Math.min(activity4Hz.length - 1, Math.floor(t * 4))]!] ?? ACTIVITIES[0]!;
    jitter = jitter.map((j) => j * 0.98 + rng.normal(0, 0.01));
    for (let a = 0; a < 3; a++) {
      const w = 2 * Math.PI * act.motionHz * t + phase[a]!;
      axes[a]![i] = gravity[a]! + act.motionG * (0.6 + 0.4 * a / 2) * (Math.sin(w) + 0.35 * Math.sin(2 * w + 1)) + jitter[a]! + rng.normal(0, 0.01);
    }
  }
  return axes;
}

/** PPG at `fs` Hz from beat times, with respiration, motion artefact coupled to `acc`, and noise. */
export function ppgSignal(
  rng: Rng,
  profile: SubjectProfile,
  trace: PhysiologyTrace,
  acc: readonly Float64Array[],
  accFs: number,
  seconds: number,
  fs: number,
): Float64Array {
  const n = Math.round(seconds * fs);
  const out = new Float64Array(n);
  const beats = trace.beats;
  let b = 0;
  let drift = 0;
  // Motion artefact: the PPG picks up the acceleration (minus gravity) through a lagged,
  // low-passed coupling, as tissue and sensor move.
  const accMean = acc.map((a) => a.reduce((s, v) => s + v, 0) / Math.max(1, a.length));
  let art = 0;
  const couple = [rng.uniform(0.5, 1), rng.uniform(0.3, 0.8), rng.uniform(0.2, 0.6)];
  for (let i = 0; i < n; i++) {
    const t = i / fs;
    while (b + 1 < beats.length && beats[b + 1]! <= t) b++;
    const t0 = beats[b] ?? 0;
    const t1 = beats[b + 1] ?? t0 + 60 / profile.restingHr;
    const period = Math.max(0.25, t1 - t0);
    const x = t >= t0 ? (t - t0) / period : 0;
    const pulse = t >= t0 ? pulseShape(x, profile) : 0;
    const resp = 0.15 * Math.sin(2 * Math.PI * profile.respirationHz * t);
    const ai = Math.min(acc[0]!.length - 1, Math.floor(t * accFs));
    let m = 0;
    for (let a = 0; a < 3; a++) m += couple[a]! * (acc[a]![ai]! - accMean[a]!);
    art = 0.85 * art + 0.15 * m;
    drift = 0.999 * drift + rng.normal(0, 0.004);
    const noise = rng.normal(0, 0.03 * profile.noiseScale);
    // E4 BVP is AC-coupled and inverted relative to absorbance; keep it zero-mean.
    out[i] = profile.amplitude * ((1 + resp) * (pulse - 0.35) + 3.0 * profile.artefactScale * art + drift + noise);
  }
  return out;
}

/** Mean instantaneous HR (from beat times) per window, as DaLiA's label (8-s windows, 2-s shift). */
export function windowLabels(beats: Float64Array, seconds: number, windowS = 8, shiftS = 2): Float64Array {
  const nWin = Math.floor((seconds - windowS) / shiftS) + 1;
  const out = new Float64Array(Math.max(0, nWin));
  for (let j = 0; j < out.length; j++) {
    const a = j * shiftS;
    const e = a + windowS;
    let sum = 0;
    let cnt = 0;
    for (let k = 1; k < beats.length; k++) {
      const tb = beats[k]!;
      if (tb < a) continue;
      if (tb >= e) break;
      sum += 60 / (tb - beats[k - 1]!);
      cnt++;
    }
    out[j] = cnt ? sum / cnt : NaN;
  }
  return out;
}

/** A simple synthetic ECG (mV) from beat times: P, QRS and T waves as Gaussians. */
export function ecgSignal(rng: Rng, beats: Float64Array, seconds: number, fs: number, delay = 0): Float64Array {
  const n = Math.round(seconds * fs);
  const out = new Float64Array(n);
  const waves = [
    { at: -0.16, w: 0.025, a: 0.12 },
    { at: -0.02, w: 0.008, a: -0.1 },
    { at: 0, w: 0.01, a: 1.1 },
    { at: 0.025, w: 0.01, a: -0.25 },
    { at: 0.25, w: 0.045, a: 0.3 },
  ];
  for (const tb0 of beats) {
    const tb = tb0 - delay;
    const lo = Math.max(0, Math.floor((tb - 0.3) * fs));
    const hi = Math.min(n, Math.ceil((tb + 0.45) * fs));
    for (let i = lo; i < hi; i++) {
      const t = i / fs - tb;
      let v = 0;
      for (const w of waves) v += w.a * Math.exp(-((t - w.at) ** 2) / (2 * w.w * w.w));
      out[i]! += v;
    }
  }
  for (let i = 0; i < n; i++) out[i]! += rng.normal(0, 0.01);
  return out;
}

export function seedFor(seed: number, label: string): Rng {
  return Rng.derive(seed, label);
}

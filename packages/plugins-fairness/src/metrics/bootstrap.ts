/**
 * Uncertainty: subject-level bootstrap confidence intervals and aggregation across seeds.
 *
 * Windows of one subject are strongly correlated, so resampling windows would give intervals
 * that are far too narrow; we resample SUBJECTS with replacement and take all windows of each
 * drawn subject (a subject drawn twice contributes its windows twice). Resampling is stratified
 * by the subject's group signature (the set of group ids its samples carry; one group for
 * subject-level attributes such as sex), so every replicate has the same number of subjects in
 * each group and group metrics stay defined. The interval is the percentile interval
 * [q_{α/2}, q_{1−α/2}] of the replicate values (numpy's linear interpolation). Replicates in
 * which a metric is undefined (NaN) are left out for that metric and counted.
 */
import { Rng } from '@fairtune/core/plugin';
import { quantileSorted } from './common.js';

export interface ConfidenceInterval {
  readonly lo: number;
  readonly hi: number;
  /** Replicates in which the metric was defined. */
  readonly valid: number;
}

export interface BootstrapOptions {
  /** Number of replicates B (default 200). */
  readonly replicates?: number;
  /** Two-sided level: the interval covers 1 − α (default 0.05). */
  readonly alpha?: number;
  readonly seed: number;
  /** Called after each replicate (progress, cancellation). */
  readonly onReplicate?: (done: number, total: number) => void | Promise<void>;
}

export interface SubjectResample {
  /** Sample indices of the replicate (with repeats). */
  readonly samples: Int32Array;
  /** Drawn subject ids (with repeats). */
  readonly subjects: Int32Array;
  /**
   * Per sample of `samples`, the index of its subject draw in `subjects`: a subject drawn twice
   * counts as two subjects in subject-weighted metrics, as in a resample of distinct people.
   */
  readonly draws: Int32Array;
}

/** Groups the samples by subject and the subjects by stratum (group signature). */
export class SubjectResampler {
  readonly #samplesOf = new Map<number, number[]>();
  readonly #strata: number[][];

  constructor(subject: ArrayLike<number>, group?: ArrayLike<number>) {
    if (group && group.length !== subject.length) throw new RangeError(`bootstrap: ${subject.length} subject ids but ${group.length} group ids`);
    const groupsOf = new Map<number, Set<number>>();
    for (let i = 0; i < subject.length; i++) {
      const s = subject[i]!;
      let list = this.#samplesOf.get(s);
      if (!list) {
        this.#samplesOf.set(s, (list = []));
        groupsOf.set(s, new Set());
      }
      list.push(i);
      if (group) groupsOf.get(s)!.add(group[i]!);
    }
    const strata = new Map<string, number[]>();
    for (const s of [...this.#samplesOf.keys()].sort((a, b) => a - b)) {
      const key = [...groupsOf.get(s)!].sort((a, b) => a - b).join(',');
      let list = strata.get(key);
      if (!list) strata.set(key, (list = []));
      list.push(s);
    }
    this.#strata = [...strata.keys()].sort().map((k) => strata.get(k)!);
  }

  get subjectCount(): number {
    return this.#samplesOf.size;
  }

  samplesOf(subject: number): readonly number[] {
    return this.#samplesOf.get(subject) ?? [];
  }

  /** One replicate: within each stratum, as many subjects as it has, drawn with replacement. */
  draw(rng: Rng): SubjectResample {
    const subjects: number[] = [];
    const samples: number[] = [];
    const draws: number[] = [];
    for (const stratum of this.#strata) {
      for (let k = 0; k < stratum.length; k++) {
        const s = stratum[rng.int(stratum.length)]!;
        for (const i of this.#samplesOf.get(s)!) {
          samples.push(i);
          draws.push(subjects.length);
        }
        subjects.push(s);
      }
    }
    return { samples: Int32Array.from(samples), subjects: Int32Array.from(subjects), draws: Int32Array.from(draws) };
  }
}

/** Percentile interval of the finite values. */
export function percentileInterval(values: readonly number[], alpha: number): ConfidenceInterval {
  const finite = Float64Array.from(values.filter((v) => Number.isFinite(v))).sort();
  return { lo: quantileSorted(finite, alpha / 2), hi: quantileSorted(finite, 1 - alpha / 2), valid: finite.length };
}

/**
 * Bootstrap CIs of every scalar returned by `compute` (keys are metric names). `compute` gets a
 * subject-level replicate; keys missing from a replicate count as undefined there.
 */
export async function bootstrapBySubject(
  resampler: SubjectResampler,
  compute: (replicate: SubjectResample) => Record<string, number>,
  options: BootstrapOptions,
): Promise<Record<string, ConfidenceInterval>> {
  const B = options.replicates ?? 200;
  const alpha = options.alpha ?? 0.05;
  if (!Number.isInteger(B) || B < 1) throw new RangeError(`bootstrap replicates must be a positive integer, got ${B}`);
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`bootstrap alpha must be in (0, 1), got ${alpha}`);
  const rng = new Rng(options.seed);
  const values = new Map<string, number[]>();
  for (let b = 0; b < B; b++) {
    const rep = compute(resampler.draw(rng));
    for (const [k, v] of Object.entries(rep)) {
      let list = values.get(k);
      if (!list) values.set(k, (list = []));
      list.push(v);
    }
    await options.onReplicate?.(b + 1, B);
  }
  const out: Record<string, ConfidenceInterval> = {};
  for (const [k, list] of values) out[k] = percentileInterval(list, alpha);
  return out;
}

export interface SeedAggregate {
  readonly mean: number;
  /** Sample standard deviation (ddof = 1); NaN for a single seed. */
  readonly std: number;
  /** Seeds in which the metric was defined. */
  readonly n: number;
}

/** Mean ± sample std of each metric across runs (seeds); NaN values are skipped per metric. */
export function aggregateSeeds(runs: readonly Record<string, number>[]): Record<string, SeedAggregate> {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r)))];
  const out: Record<string, SeedAggregate> = {};
  for (const k of keys) {
    const v = runs.map((r) => r[k]).filter((x): x is number => x !== undefined && Number.isFinite(x));
    const n = v.length;
    const mean = n ? v.reduce((a, b) => a + b, 0) / n : Number.NaN;
    const std = n > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : Number.NaN;
    out[k] = { mean, std, n };
  }
  return out;
}

/**
 * The comparison part of `report.compare`, as pure functions: which runs may be compared, the
 * paired statistics of every method against the baseline, the verdict on how the gap moved
 * (works / levelling down / …, the rules of docs/experiments.md) and the error-vs-gap trade-off
 * with its Pareto front.
 *
 * A change against the baseline is only computed between runs on the same evaluation set
 * (dataset and split) with the same stage seed (same subject split and initialisation); runs on
 * another evaluation set, or with a seed the baseline lacks, are never compared with it.
 */
import { deriveSeed } from '@fairtune/core/plugin';
import { comparePaired, holmAdjust, paretoFront, type MeanInterval, type PairedComparison } from '../metrics/paired.js';

export interface CompareRun {
  readonly method: string;
  /** Evaluation-set key (dataset and split). */
  readonly evalSet: string;
  /** Stage seed recorded by eval.metrics; null when the artifact has none. */
  readonly seed: number | null;
  /** Evaluated samples. */
  readonly n?: number;
  /** Flat metric values (`overall.mae`, `groups.female.mae`, …). */
  readonly values: Readonly<Record<string, number>>;
}

export interface ComparisonSpec {
  readonly baseline: string;
  /** Metrics to compare (flat keys). */
  readonly keys: readonly string[];
  /** Group name → flat key of its group metric (levelling down). */
  readonly groupKeys: Readonly<Record<string, string>>;
  /** Flat key of the gap between groups. */
  readonly gapKey: string;
  /** The group metric is a score (AUC) rather than an error (MAE). */
  readonly higherIsBetter: boolean;
  /** The report stage's seed; bootstrap seeds derive from it. */
  readonly seed: number;
  readonly replicates: number;
  readonly alpha: number;
  /** A better-served group counts as worse off when its metric moves the wrong way by more than this. */
  readonly tolerance: number;
  /** Flat key of the overall metric (error, or score when higherIsBetter). */
  readonly overallKey: string;
  /** Harm: the overall metric's change lies entirely beyond this many units the wrong way. */
  readonly harmMargin: number;
}

export interface MetricComparison extends PairedComparison {
  /** Holm-adjusted p of the sign-flip / Wilcoxon test across the methods compared on this metric and evaluation set. */
  readonly signFlipHolm: number;
  readonly wilcoxonHolm: number;
}

export interface LevellingDownSeed {
  readonly seed: number | null;
  readonly gapChange: number;
  readonly betterChange: number;
  readonly worseChange: number;
  /** The gap shrank on this seed while the better-served group moved the wrong way by more than the tolerance. */
  readonly flagged: boolean;
}

export type VerdictCategory = 'works' | 'levelling down' | 'gap closes, mechanism unclear' | 'no detectable effect' | 'harm';

export interface LevellingDown {
  /** Better- and worse-served groups: best and worst baseline mean over the paired seeds. */
  readonly betterGroup: string;
  readonly worseGroup: string;
  readonly n: number;
  /** Mean changes (method − baseline) with their CIs, as in the per-metric statistics. */
  readonly gap: { readonly mean: number; readonly ci: MeanInterval };
  readonly better: { readonly mean: number; readonly ci: MeanInterval };
  readonly worse: { readonly mean: number; readonly ci: MeanInterval };
  readonly seeds: LevellingDownSeed[];
  readonly flaggedSeeds: number;
  /** 'ci' with two or more pairs; 'point estimate' with one (no interval: the rules read the single difference). */
  readonly basis: 'ci' | 'point estimate';
  readonly verdict: VerdictCategory;
  /** The overall error's change lies entirely beyond +harmMargin (an additional harm, whatever the verdict). */
  readonly overallHarm: boolean;
  /** verdict === 'levelling down'. */
  readonly flagged: boolean;
}
export interface MethodComparison {
  readonly method: string;
  readonly seeds: (number | null)[];
  readonly metrics: Record<string, MetricComparison>;
  readonly levellingDown: LevellingDown | null;
}

export interface EvalSetComparison {
  readonly evalSet: string;
  readonly baseline: string;
  readonly methods: MethodComparison[];
}

const seedKey = (s: number | null) => (s === null ? 'none' : String(s));
const mean = (v: readonly number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : Number.NaN);

/**
 * Every method against the baseline within each evaluation set, paired by seed. Holm's
 * adjustment runs per evaluation set and metric across the methods compared there.
 */
export function compareMethods(runs: readonly CompareRun[], spec: ComparisonSpec): { sets: EvalSetComparison[]; warnings: string[] } {
  const warnings: string[] = [];
  // The verdict reads the gap, every group and the overall metric: compared whether listed or not.
  const keys = [...new Set([...spec.keys, spec.gapKey, spec.overallKey, ...Object.values(spec.groupKeys)])];
  const evalSets = [...new Set(runs.map((r) => r.evalSet))];
  const sets: EvalSetComparison[] = [];
  for (const evalSet of evalSets) {
    const here = runs.filter((r) => r.evalSet === evalSet);
    const bySeed = (method: string) => {
      const out = new Map<string, CompareRun>();
      for (const r of here.filter((x) => x.method === method)) {
        const k = seedKey(r.seed);
        if (out.has(k)) warnings.push(`${method} on ${evalSet}: two runs with seed ${k}; only the first is paired`);
        else out.set(k, r);
      }
      return out;
    };
    const base = bySeed(spec.baseline);
    if (base.size === 0) continue;
    const methods: MethodComparison[] = [];
    for (const method of [...new Set(here.map((r) => r.method))]) {
      if (method === spec.baseline) continue;
      const mine = bySeed(method);
      const pairs = [...mine].filter(([k]) => base.has(k)).map(([, m]) => ({ m, b: base.get(seedKey(m.seed))! }));
      if (pairs.length === 0) {
        warnings.push(`${method} on ${evalSet}: no run with the seed of a ${spec.baseline} run (${[...mine.keys()].join(', ')} vs ${[...base.keys()].join(', ')}); no change against ${spec.baseline} computed`);
        continue;
      }
      const unpaired = [...mine.keys()].filter((k) => !base.has(k));
      if (unpaired.length) warnings.push(`${method} on ${evalSet}: seed ${unpaired.join(', ')} has no ${spec.baseline} run and is left out of the paired comparison`);
      for (const { m, b } of pairs) {
        if (m.n !== undefined && b.n !== undefined && m.n !== b.n) warnings.push(`${method} on ${evalSet}, seed ${seedKey(m.seed)}: ${m.n} samples evaluated but ${b.n} for ${spec.baseline}; the pair is compared as it is`);
      }
      const metrics: Record<string, MetricComparison> = {};
      for (const key of keys) {
        const x = pairs.map(({ m }) => m.values[key] ?? Number.NaN);
        const y = pairs.map(({ b }) => b.values[key] ?? Number.NaN);
        const c = comparePaired(x, y, { seed: deriveSeed(spec.seed, `paired:${evalSet}:${method}:${key}`), replicates: spec.replicates, alpha: spec.alpha });
        if (c.n > 0) metrics[key] = { ...c, signFlipHolm: Number.NaN, wilcoxonHolm: Number.NaN };
      }
      methods.push({ method, seeds: pairs.map(({ m }) => m.seed), metrics, levellingDown: levellingDown(pairs, metrics, spec) });
    }
    for (const key of keys) {
      const withKey = methods.filter((m) => m.metrics[key]);
      const sf = holmAdjust(withKey.map((m) => m.metrics[key]!.signFlip.p));
      const wx = holmAdjust(withKey.map((m) => m.metrics[key]!.wilcoxon.p));
      withKey.forEach((m, i) => (m.metrics[key] = { ...m.metrics[key]!, signFlipHolm: sf[i]!, wilcoxonHolm: wx[i]! }));
    }
    if (methods.length > 0) sets.push({ evalSet, baseline: spec.baseline, methods });
  }
  return { sets, warnings };
}

/**
 * Which way the gap moved and why. The better-served group is the one with the best baseline
 * mean over the paired seeds (lowest error, or highest score), the worse-served group the one
 * with the worst. With Δ = method − baseline and its CI [lo, hi] (for one pair, lo = hi = Δ),
 * for an error metric (signs flip for a score):
 * - gap hi < 0 (the gap closes) and worse-served hi < 0: **works** (it closes by helping the
 *   worse-served group);
 * - gap hi < 0, worse-served not entirely below 0, better-served lo > tolerance: **levelling down**
 *   (it closes by harming the better-served group);
 * - gap hi < 0 otherwise: gap closes, mechanism unclear;
 * - gap lo > 0: **harm**; otherwise: no detectable effect.
 * `overallHarm` adds: the overall error's CI lies entirely above +harmMargin.
 * Per seed, a seed is flagged when its gap shrank while the better-served group moved the wrong
 * way by more than the tolerance. Null with fewer than two groups defined on the baseline.
 */
function levellingDown(pairs: readonly { m: CompareRun; b: CompareRun }[], metrics: Readonly<Record<string, PairedComparison>>, spec: ComparisonSpec): LevellingDown | null {
  const sign = spec.higherIsBetter ? -1 : 1; // sign · Δ > 0 means worse
  const baseMean = (g: string) => mean(pairs.map(({ b }) => b.values[spec.groupKeys[g]!] ?? Number.NaN).filter(Number.isFinite));
  const groups = Object.keys(spec.groupKeys).filter((g) => Number.isFinite(baseMean(g)) && metrics[spec.groupKeys[g]!]);
  const gap = metrics[spec.gapKey];
  if (groups.length < 2 || !gap) return null;
  const sorted = [...groups].sort((x, y) => sign * (baseMean(x) - baseMean(y)));
  const betterGroup = sorted[0]!;
  const worseGroup = sorted[sorted.length - 1]!;
  const better = metrics[spec.groupKeys[betterGroup]!]!;
  const worse = metrics[spec.groupKeys[worseGroup]!]!;
  const basis = gap.n >= 2 && Number.isFinite(gap.ci.lo) ? 'ci' : 'point estimate';
  // [lo, hi] of a change, or the single difference twice.
  const range = (c: PairedComparison): [number, number] => (basis === 'ci' && Number.isFinite(c.ci.lo) ? [c.ci.lo, c.ci.hi] : [c.mean, c.mean]);
  // In "worse" units: [lo, hi] of sign · Δ.
  const harmRange = (c: PairedComparison): [number, number] => {
    const [lo, hi] = range(c);
    return sign > 0 ? [lo, hi] : [-hi, -lo];
  };
  const [gapLo, gapHi] = range(gap);
  let verdict: VerdictCategory;
  if (gapHi < 0) {
    if (harmRange(worse)[1] < 0) verdict = 'works';
    else if (harmRange(better)[0] > spec.tolerance) verdict = 'levelling down';
    else verdict = 'gap closes, mechanism unclear';
  } else if (gapLo > 0) verdict = 'harm';
  else verdict = 'no detectable effect';
  const overall = metrics[spec.overallKey];
  const overallHarm = overall !== undefined && harmRange(overall)[0] > spec.harmMargin;
  const change = (m: CompareRun, b: CompareRun, key: string) => (m.values[key] ?? Number.NaN) - (b.values[key] ?? Number.NaN);
  const seeds = pairs
    .map(({ m, b }) => {
      const gapChange = change(m, b, spec.gapKey);
      const betterChange = change(m, b, spec.groupKeys[betterGroup]!);
      return { seed: m.seed, gapChange, betterChange, worseChange: change(m, b, spec.groupKeys[worseGroup]!), flagged: gapChange < 0 && sign * betterChange > spec.tolerance };
    })
    .filter((x) => Number.isFinite(x.gapChange) && Number.isFinite(x.betterChange));
  const part = (c: PairedComparison) => ({ mean: c.mean, ci: c.ci });
  return {
    betterGroup,
    worseGroup,
    n: gap.n,
    gap: part(gap),
    better: part(better),
    worse: part(worse),
    seeds,
    flaggedSeeds: seeds.filter((x) => x.flagged).length,
    basis,
    verdict,
    overallHarm,
    flagged: verdict === 'levelling down',
  };
}

export interface TradeoffPoint {
  readonly evalSet: string;
  readonly method: string;
  readonly seed: number | null;
  readonly error: number;
  readonly gap: number;
}

export interface TradeoffMean {
  readonly evalSet: string;
  readonly method: string;
  readonly error: number;
  readonly gap: number;
  readonly runs: number;
  readonly onFront: boolean;
}

/**
 * Overall error against gap, one point per run, the mean of each method per evaluation set, and
 * which of those means lie on the lower-left Pareto front (no other method is at least as good
 * on both and better on one).
 */
export function tradeoff(runs: readonly CompareRun[], error: (values: Readonly<Record<string, number>>) => number, gapKey: string): { points: TradeoffPoint[]; means: TradeoffMean[] } {
  const points = runs
    .map((r) => ({ evalSet: r.evalSet, method: r.method, seed: r.seed, error: error(r.values), gap: r.values[gapKey] ?? Number.NaN }))
    .filter((p) => Number.isFinite(p.error) && Number.isFinite(p.gap));
  const means: TradeoffMean[] = [];
  for (const evalSet of [...new Set(points.map((p) => p.evalSet))]) {
    const here = points.filter((p) => p.evalSet === evalSet);
    const ms = [...new Set(here.map((p) => p.method))].map((method) => {
      const mine = here.filter((p) => p.method === method);
      return { evalSet, method, error: mean(mine.map((p) => p.error)), gap: mean(mine.map((p) => p.gap)), runs: mine.length };
    });
    const front = new Set(paretoFront(ms.map((m) => ({ x: m.error, y: m.gap }))));
    ms.forEach((m, i) => means.push({ ...m, onFront: front.has(i) }));
  }
  return { points, means };
}

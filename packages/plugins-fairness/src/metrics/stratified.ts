/**
 * Regression error within strata of the samples, per group: the regression analogue of
 * equalized odds (is a group's error larger at the same true heart rate, or during the same
 * activity?). Strata are bins of the true value (`binIndex`, edges in target units) or the codes
 * of a categorical label such as DaLiA's activity (`categoryStrata`). Definitions
 * (docs/fairness.md, "Regression: bias, agreement, strata, subject weighting"):
 * - bin k of edges e_0 < … < e_{m−1}: bin 0 is y < e_0, bin k is e_{k−1} ≤ y < e_k, bin m is
 *   y ≥ e_{m−1} (lower edge inclusive, numpy `digitize(y, edges, right=False)`);
 * - per cell (stratum × group): n windows, distinct subjects, MAE and bias (mean of ŷ − y);
 * - gap per stratum: max − min of the cell MAEs over the groups allowed to take part (the caller
 *   decides, e.g. groups and cells with at least `minSubjects` subjects); NaN with fewer than two.
 */
import { checkFinite, checkSameLength, spread, type NumArray } from './common.js';

export interface StratumCell {
  readonly n: number;
  readonly subjects: number;
  readonly mae: number;
  readonly bias: number;
}

export interface StratifiedErrors {
  /** Stratum names; index = stratum id. */
  readonly strata: readonly string[];
  /** One cell per stratum over all samples (unknown group included). */
  readonly overall: readonly StratumCell[];
  /** Per observed group id (ascending), one cell per stratum. */
  readonly groups: ReadonlyMap<number, readonly StratumCell[]>;
}

/** Stratum (bin) of each value: the number of edges ≤ v, so 0 … edges.length. Edges must increase strictly. */
export function binIndex(values: NumArray, edges: readonly number[]): Int32Array {
  checkEdges(edges);
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    let k = 0;
    while (k < edges.length && v >= edges[k]!) k++;
    out[i] = k;
  }
  return out;
}

/** Names of the bins of `edges`: `<e0`, `e0–e1`, …, `≥e_last`. */
export function binLabels(edges: readonly number[]): string[] {
  checkEdges(edges);
  return [`<${edges[0]}`, ...edges.slice(1).map((e, k) => `${edges[k]}–${e}`), `≥${edges[edges.length - 1]}`];
}

function checkEdges(edges: readonly number[]): void {
  if (edges.length === 0) throw new RangeError('bin edges: at least one edge is needed');
  edges.forEach((e, k) => {
    if (!Number.isFinite(e)) throw new RangeError(`bin edges: edge ${k} is ${e}, expected a finite number`);
    if (k > 0 && !(e > edges[k - 1]!)) throw new RangeError(`bin edges must increase strictly: ${edges.join(', ')}`);
  });
}

/**
 * Strata of a categorical label (codes per sample, e.g. activity ids stored as numbers): one
 * stratum per distinct finite code, in ascending code order, named by `names[code]` when given,
 * else by the code. Non-finite codes get stratum −1 (in no stratum).
 */
export function categoryStrata(codes: NumArray, names: Readonly<Record<string, string>> = {}): { stratum: Int32Array; codes: number[]; names: string[] } {
  const distinct = [...new Set(Array.from({ length: codes.length }, (_, i) => codes[i]!).filter((c) => Number.isFinite(c)))].sort((a, b) => a - b);
  const id = new Map(distinct.map((c, k) => [c, k]));
  const stratum = Int32Array.from({ length: codes.length }, (_, i) => id.get(codes[i]!) ?? -1);
  return { stratum, codes: distinct, names: distinct.map((c) => names[String(c)] ?? String(c)) };
}

/**
 * MAE, bias, windows and subjects per stratum, overall and per group. `stratum` holds a stratum
 * id per sample (−1 = none), `group` a group id (−1 = unknown: overall only), `subject` a subject
 * id (a bootstrap passes one id per subject draw).
 */
export function stratifiedErrors(yTrue: NumArray, yPred: NumArray, stratum: NumArray, strata: readonly string[], group: NumArray, subject: NumArray): StratifiedErrors {
  checkSameLength('stratifiedErrors', { yTrue, yPred, stratum, group, subject });
  checkFinite('stratifiedErrors', 'yTrue', yTrue);
  checkFinite('stratifiedErrors', 'yPred', yPred);
  const S = strata.length;
  interface Acc { n: number; abs: number; signed: number; subjects: Set<number> }
  const fresh = (): Acc[] => Array.from({ length: S }, () => ({ n: 0, abs: 0, signed: 0, subjects: new Set<number>() }));
  const overall = fresh();
  const byGroup = new Map<number, Acc[]>();
  for (let i = 0; i < yTrue.length; i++) {
    const s = stratum[i]!;
    if (s < 0) continue;
    if (!Number.isInteger(s) || s >= S) throw new RangeError(`stratifiedErrors: stratum[${i}] is ${s}, expected −1 or an id below ${S}`);
    const d = yPred[i]! - yTrue[i]!;
    const g = group[i]!;
    const targets = [overall[s]!];
    if (g >= 0) {
      let acc = byGroup.get(g);
      if (!acc) byGroup.set(g, (acc = fresh()));
      targets.push(acc[s]!);
    }
    for (const a of targets) {
      a.n++;
      a.abs += Math.abs(d);
      a.signed += d;
      a.subjects.add(subject[i]!);
    }
  }
  const cell = (a: Acc): StratumCell => ({ n: a.n, subjects: a.subjects.size, mae: a.n ? a.abs / a.n : Number.NaN, bias: a.n ? a.signed / a.n : Number.NaN });
  return {
    strata: [...strata],
    overall: overall.map(cell),
    groups: new Map([...byGroup.entries()].sort((a, b) => a[0] - b[0]).map(([g, acc]) => [g, acc.map(cell)])),
  };
}

/**
 * Gap of each stratum: max − min of the cell MAEs over the groups for which `eligible(group,
 * stratum)` holds and the cell has samples; NaN when fewer than two such cells exist.
 */
export function stratumGaps(s: StratifiedErrors, eligible: (group: number, stratum: number) => boolean = () => true): number[] {
  return s.strata.map((_, k) => {
    const maes = [...s.groups.entries()].filter(([g, cells]) => cells[k]!.n > 0 && eligible(g, k)).map(([, cells]) => cells[k]!.mae);
    return maes.length >= 2 ? spread(maes) : Number.NaN;
  });
}

const nameOf = (names: readonly string[], g: number) => names[g] ?? String(g);

/** JSON shape of a stratification: cells keyed by stratum name, per group name; gaps by stratum. */
export function stratifiedJson(s: StratifiedErrors, gaps: readonly number[], groupNames: readonly string[]): {
  strata: string[];
  overall: Record<string, StratumCell>;
  groups: Record<string, Record<string, StratumCell>>;
  maeGap: Record<string, number>;
} {
  const byName = (cells: readonly StratumCell[]) => Object.fromEntries(s.strata.map((name, k) => [name, cells[k]!]));
  return {
    strata: [...s.strata],
    overall: byName(s.overall),
    groups: Object.fromEntries([...s.groups].map(([g, cells]) => [nameOf(groupNames, g), byName(cells)])),
    maeGap: Object.fromEntries(s.strata.map((name, k) => [name, gaps[k]!])),
  };
}

/**
 * Flat keys of a stratification for bootstrap CIs: `<prefix>.overall.<stratum>.mae|bias`,
 * `<prefix>.groups.<group>.<stratum>.mae|bias` and `<prefix>.maeGap.<stratum>`.
 */
export function flattenStratified(prefix: string, s: StratifiedErrors, gaps: readonly number[], groupNames: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  s.strata.forEach((name, k) => {
    out[`${prefix}.overall.${name}.mae`] = s.overall[k]!.mae;
    out[`${prefix}.overall.${name}.bias`] = s.overall[k]!.bias;
    for (const [g, cells] of s.groups) {
      out[`${prefix}.groups.${nameOf(groupNames, g)}.${name}.mae`] = cells[k]!.mae;
      out[`${prefix}.groups.${nameOf(groupNames, g)}.${name}.bias`] = cells[k]!.bias;
    }
    out[`${prefix}.maeGap.${name}`] = gaps[k]!;
  });
  return out;
}

/**
 * The metric summary shared by `fairtune metrics` and the `eval.metrics` stage: `overall`
 * values and `groups` keyed by group name, in the shape documented in docs/fairness.md.
 */
import type { TaskKind } from '@fairtune/core/plugin';
import { classificationMetrics } from './classification.js';
import { regressionMetrics } from './regression.js';
import { eligibleSpread, groupIndices, type NumArray } from './common.js';

export interface TaskMetricsInput {
  readonly task: TaskKind;
  readonly yTrue: NumArray;
  readonly yPred: NumArray;
  /** Group id per sample (−1 = unknown). */
  readonly group: NumArray;
  /** Name of each group id. */
  readonly groupNames: readonly string[];
  readonly threshold?: number;
  readonly eceBins?: number;
  /**
   * Subject id per sample (a bootstrap replicate passes one id per subject draw): adds the
   * number of subjects per group and, for regression, the subject-weighted MAE and its gap.
   */
  readonly subject?: NumArray;
  /**
   * Group ids that take part in gaps (maeGap, subjectMaeGap; aucGap, demographic parity and
   * equalized odds differences); absent = every group. See `eligibleSpread`.
   */
  readonly gapGroups?: ReadonlySet<number>;
}

export interface TaskMetrics {
  readonly overall: Record<string, number>;
  readonly groups: Record<string, Record<string, number>>;
  readonly warnings: string[];
}

function nameOf(names: readonly string[], g: number): string {
  return names[g] ?? String(g);
}

export function computeTaskMetrics(input: TaskMetricsInput): TaskMetrics {
  const { yTrue, yPred, group, groupNames, subject, gapGroups } = input;
  if (input.task === 'regression') {
    const r = regressionMetrics(yTrue, yPred, group, subject ? { subject } : {});
    const ids = r.groups.map((g) => g.group);
    const groups: Record<string, Record<string, number>> = {};
    for (const g of r.groups) {
      groups[nameOf(groupNames, g.group)] = {
        n: g.n,
        ...(g.subjects !== undefined ? { subjects: g.subjects } : {}),
        mae: g.mae,
        rmse: g.rmse,
        bias: g.bias,
        sd: g.sd,
        loaLower: g.loaLower,
        loaUpper: g.loaUpper,
        ...(g.subjectMae !== undefined ? { subjectMae: g.subjectMae } : {}),
      };
    }
    return {
      overall: {
        mae: r.mae,
        rmse: r.rmse,
        maeGap: eligibleSpread(r.groups.map((g) => g.mae), ids, gapGroups),
        worstGroupMae: r.worstGroupMae,
        bias: r.bias,
        sd: r.sd,
        loaLower: r.loaLower,
        loaUpper: r.loaUpper,
        ...(r.subjectMae !== undefined ? { subjectMae: r.subjectMae, subjectMaeGap: eligibleSpread(r.groups.map((g) => g.subjectMae!), ids, gapGroups) } : {}),
      },
      groups,
      warnings: [],
    };
  }
  const c = classificationMetrics(yTrue, yPred, group, { threshold: input.threshold, eceBins: input.eceBins, groupNames });
  const ids = c.groups.map((g) => g.group);
  const subjectsOf = subject ? new Map([...groupIndices(group)].map(([g, idx]) => [g, new Set(idx.map((i) => subject[i]!)).size])) : undefined;
  const groups: Record<string, Record<string, number>> = {};
  for (const g of c.groups) {
    groups[nameOf(groupNames, g.group)] = {
      n: g.n,
      ...(subjectsOf ? { subjects: subjectsOf.get(g.group)! } : {}),
      auc: g.auc,
      accuracy: g.accuracy,
      tpr: g.tpr,
      fpr: g.fpr,
      selectionRate: g.selectionRate,
    };
  }
  return {
    overall: {
      auc: c.auc,
      minAuc: c.minAuc,
      aucGap: gapGroups ? eligibleSpread(c.groups.map((g) => g.auc), ids, gapGroups) : c.aucGap,
      accuracy: c.accuracy,
      // With every group eligible these equal fairlearn's between-groups differences (classification.ts).
      equalizedOddsDifference: gapGroups
        ? Math.max(eligibleSpread(c.groups.map((g) => g.tpr), ids, gapGroups), eligibleSpread(c.groups.map((g) => g.fpr), ids, gapGroups))
        : c.equalizedOddsDifference,
      demographicParityDifference: gapGroups ? eligibleSpread(c.groups.map((g) => g.selectionRate), ids, gapGroups) : c.demographicParityDifference,
      ece: c.ece,
    },
    groups,
    warnings: [...c.warnings],
  };
}

/** Metric values as computed (numbers) or as read back from a metrics artifact's JSON (null = undefined). */
type MetricValue = number | null | undefined;

const num = (v: MetricValue): number => (typeof v === 'number' ? v : Number.NaN);

/** Flat keys of the representation metrics (the eval.metrics bootstrap and the report share them). */
export function flattenRepresentation(r: { readonly mmd2?: MetricValue; readonly silhouette?: MetricValue }): Record<string, number> {
  return { 'representation.mmd2': num(r.mmd2), 'representation.silhouette': num(r.silhouette) };
}

/**
 * Flat `overall.<metric>` / `groups.<name>.<metric>` (sample and subject counts left out) and, when present,
 * `representation.<metric>` scalars: the keys of bootstrap CIs and of the comparison report.
 * Accepts computed metrics or their JSON form, where an undefined value was written as null
 * (read back as NaN).
 */
export function flattenMetrics(m: {
  readonly overall: Readonly<Record<string, MetricValue>>;
  readonly groups: Readonly<Record<string, Readonly<Record<string, MetricValue>>>>;
  readonly representation?: { readonly mmd2?: MetricValue; readonly silhouette?: MetricValue };
}): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m.overall)) out[`overall.${k}`] = num(v);
  for (const [g, values] of Object.entries(m.groups)) {
    for (const [k, v] of Object.entries(values)) if (k !== 'n' && k !== 'subjects') out[`groups.${g}.${k}`] = num(v);
  }
  if (m.representation) Object.assign(out, flattenRepresentation(m.representation));
  return out;
}

/** JSON cannot hold NaN/±Infinity: undefined metric values are written as null. */
export function jsonNumber(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

/** Deep-copies a value, turning non-finite numbers into null. */
export function toJsonSafe<T>(value: T): unknown {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)));
}

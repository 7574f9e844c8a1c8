/**
 * `report.compare`: one comparison report of several methods (mitigations) — a methods ×
 * metrics table with CIs (or mean ± std across seeds when a method has several runs), each
 * method's change against the baseline (ERM) computed only between runs on the same evaluation
 * set with the same seed (`metrics.meta.seed`, the eval.metrics stage seed): mean paired
 * difference with a bootstrap CI, effect size d_z, exact sign-flip and Wilcoxon signed-rank
 * tests Holm-adjusted across methods, and the levelling-down flag (src/report/compare.ts,
 * src/metrics/paired.ts). SVG figures rendered offline with Vega-Lite: per-group error bars, the
 * error-vs-gap trade-off with its Pareto front, 2-D PCA projections of embeddings coloured by
 * group, training curves. Writes report.md, report.json and the figures (+ .vl.json) into the
 * stage's workDir and lists them in the `report` artifact's files.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { artifact, deriveSeed, FairtuneError, inputPorts, requireArray, Rng, runAsync, stageInputs, type JsonObject, type KindArtifact, type MetricsMeta, type StagePlugin } from '@fairtune/core/plugin';
import { aggregateSeeds } from '../metrics/bootstrap.js';
import { flattenMetrics, toJsonSafe } from '../metrics/summary.js';
import { compareMethods, tradeoff, type CompareRun, type EvalSetComparison } from '../report/compare.js';
import { pca } from '../report/pca.js';
import { table1Markdown } from '../report/table1.js';
import { table2Markdown, type Table2Row } from '../report/table2.js';
import { writeFigure } from '../report/render.js';
import { selectSplitRows } from './split.js';
import { transferMatrixMarkdown, type MatrixRow } from '../report/transfer-matrix.js';

export interface ReportCompareParams {
  title: string;
  baseline: string;
  split: string | null;
  maxPoints: number;
  statistics: { replicates: number; alpha: number; levellingDownTolerance: number; harmMargin: number };
  /** The FairTune paper's Table 2 layout (classification only); absent: no such section. */
  table2?: { rows: Table2Row[] };
}

const COMPARE_INPUTS = inputPorts({
  metrics: { kind: 'metrics', multiple: true, description: 'eval.metrics outputs, labelled by meta.method; several per method = seeds.' },
  embeddings: { kind: 'embeddings', multiple: true, optional: true, description: 'Embeddings to project in 2-D, labelled by meta.method.' },
  curves: { kind: ['json', 'model'], multiple: true, optional: true, description: 'Training curves: meta.history or meta.curves, labelled by meta.method.' },
});

interface Cell {
  value: number;
  lo?: number;
  hi?: number;
  std?: number;
  n?: number;
}

const num = (v: number | null | undefined): number => (typeof v === 'number' ? v : Number.NaN);

/** Flat metric keys of one eval.metrics output (nulls read back as NaN), as in its CIs. */
function flat(m: MetricsMeta): Record<string, number> {
  return flattenMetrics({ overall: m.overall ?? {}, groups: m.groups ?? {}, ...(m.representation ? { representation: m.representation } : {}) });
}

function fmt(v: number | undefined, digits = 3): string {
  if (v === undefined || !Number.isFinite(v)) return 'n/a';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return v.toFixed(digits);
}

function cellText(c: Cell | undefined): string {
  if (!c || !Number.isFinite(c.value)) return 'n/a';
  if (c.n !== undefined && c.n > 1) return `${fmt(c.value)} ± ${fmt(c.std)} (${c.n} seeds)`;
  if (c.lo !== undefined && c.hi !== undefined && Number.isFinite(c.lo) && Number.isFinite(c.hi)) return `${fmt(c.value)} [${fmt(c.lo)}, ${fmt(c.hi)}]`;
  return fmt(c.value);
}

const LABELS: Record<string, string> = {
  'overall.mae': 'MAE',
  'overall.rmse': 'RMSE',
  'overall.maeGap': 'Gap (max−min MAE)',
  'overall.worstGroupMae': 'Worst-group MAE',
  'overall.auc': 'AUC',
  'overall.minAuc': 'Worst-group AUC',
  'overall.aucGap': 'AUC gap',
  'overall.accuracy': 'Accuracy',
  'overall.equalizedOddsDifference': 'EOdds diff',
  'overall.demographicParityDifference': 'DP diff',
  'overall.ece': 'ECE',
  'representation.mmd2': 'MMD²',
  'representation.silhouette': 'Silhouette',
};

/** A column label for a metric key; group names may hold "|" (intersections), escaped for Markdown tables. */
function label(key: string): string {
  if (LABELS[key]) return LABELS[key]!;
  const m = /^groups\.(.*)\.(\w+)$/.exec(key);
  return cell(m ? `${m[2]!.toUpperCase()} (${m[1]})` : key);
}

/** Text in a Markdown table cell: "|" would end the cell. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/**
 * Classification: the table again as the FairTune paper's Table 1 lays it out (metrics as rows,
 * methods as columns, percent), one table per evaluation set.
 */
function table1Section(evalSets: readonly string[], rows: ReadonlyArray<{ method: string; evalSet: string }>, rowLabel: (m: string, e: string) => string, cells: ReadonlyMap<string, Record<string, Cell>>, level: number): string[] {
  const out = [
    '## Table 1 layout',
    '',
    `The FairTune paper's Table 1 (overall, worst-group and gap AUC) with its appendix's EOddsD and DPD, in percent: value [${Math.round(100 * level)}% bootstrap CI] for one run, mean ± std (n seeds) for repeated runs.`,
    '',
  ];
  for (const evalSet of evalSets) {
    const methods = rows.filter((r) => r.evalSet === evalSet).map((r) => ({ label: cell(r.method), cells: cells.get(rowLabel(r.method, r.evalSet))! }));
    if (evalSets.length > 1) out.push(`On ${evalSet}:`, '');
    out.push(...table1Markdown(methods), '');
  }
  return out;
}

interface Curve {
  method: string;
  epoch: number;
  series: string;
  value: number;
}

/** Training curves from a `json`/`model` artifact: meta.history (rows per epoch) or meta.curves (name → values). */
function readCurves(a: KindArtifact<'json' | 'model'>, fallback: string): Curve[] {
  // A json artifact's meta is any JSON value: read it as an object whose fields are checked one by one below.
  const meta = (a.meta ?? {}) as JsonObject;
  const method = typeof meta.method === 'string' ? meta.method : fallback;
  const out: Curve[] = [];
  if (Array.isArray(meta.history)) {
    meta.history.forEach((row, i) => {
      if (row === null || typeof row !== 'object' || Array.isArray(row)) throw new FairtuneError('FT_INPUT_CONTENT', `curves artifact (${method}): history[${i}] is not an object`, { port: 'curves' });
      const epoch = typeof row.epoch === 'number' ? row.epoch : i;
      for (const [k, v] of Object.entries(row)) if (k !== 'epoch' && typeof v === 'number' && Number.isFinite(v)) out.push({ method, epoch, series: k, value: v });
    });
  } else if (meta.curves && typeof meta.curves === 'object' && !Array.isArray(meta.curves)) {
    for (const [series, values] of Object.entries(meta.curves)) {
      if (!Array.isArray(values)) throw new FairtuneError('FT_INPUT_CONTENT', `curves artifact (${method}): curves.${series} is not an array of numbers`, { port: 'curves' });
      values.forEach((v, epoch) => {
        if (typeof v === 'number' && Number.isFinite(v)) out.push({ method, epoch, series, value: v });
      });
    }
  } else {
    throw new FairtuneError('FT_INPUT_CONTENT', `curves artifact (${method}, kind ${a.kind}) has neither meta.history (array of per-epoch objects) nor meta.curves (name → number[])`, { port: 'curves' });
  }
  return out;
}

/** "dalia test split (2486 samples, 22 subjects); but-ppg all samples (…)", with ranges when runs differ (one split per seed). */
function evaluatedOn(metas: readonly MetricsMeta[]): string {
  const range = (xs: readonly (number | undefined)[]) => {
    const v = xs.filter((x): x is number => typeof x === 'number');
    if (v.length === 0) return '?';
    const lo = Math.min(...v);
    const hi = Math.max(...v);
    return lo === hi ? String(lo) : `${lo}–${hi}`;
  };
  const byData = new Map<string, MetricsMeta[]>();
  for (const m of metas) {
    const key = evalSetOf(m);
    byData.set(key, [...(byData.get(key) ?? []), m]);
  }
  return [...byData].map(([key, ms]) => `${key} (${range(ms.map((m) => m.n))} samples, ${range(ms.map((m) => m.subjects))} subjects${ms.length > 1 ? ` per run, ${ms.length} runs` : ''})`).join('; ');
}

/**
 * The evaluation set of a metrics artifact: dataset and split ("dalia test split", "but-ppg all
 * samples"), prefixed by the training dataset when the metrics name it ("mimic → but-ppg all
 * samples"), so models trained on different datasets are never pooled or paired.
 */
function evalSetOf(m: MetricsMeta): string {
  return `${m.trainedOn ? `${m.trainedOn} → ` : ''}${m.dataset ?? '?'} ${m.split ? `${m.split} split` : 'all samples'}`;
}

const signed = (v: number, digits = 3) => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${fmt(v, digits)}` : 'n/a');

function pText(p: number): string {
  if (!Number.isFinite(p)) return 'n/a';
  return p < 1e-4 ? p.toExponential(1) : p.toFixed(4);
}

/** `+0.123 [−0.050, 0.300]`: mean paired difference with its bootstrap CI when there is one. */
function deltaText(c: { mean: number; ci: { lo: number; hi: number } }): string {
  return `${signed(c.mean)}${Number.isFinite(c.ci.lo) ? ` [${fmt(c.ci.lo)}, ${fmt(c.ci.hi)}]` : ''}`;
}

interface StatsOptions {
  baseline: string;
  units: string;
  alpha: number;
  level: number;
  replicates: number;
  tolerance: number;
  harmMargin: number;
  overallLabel: string;
  /** Keys with a per-metric statistics table. */
  statKeys: string[];
  /** All compared keys (summary table). */
  summaryKeys: string[];
  groupMetric: string;
  higherIsBetter: boolean;
  heading: string;
}

/** The Markdown of one evaluation set's comparison: summary, per-metric statistics, levelling down. */
function comparisonMarkdown(set: EvalSetComparison, o: StatsOptions): string[] {
  const md: string[] = [];
  const k = set.methods.length;
  const units = o.units ? ` (${o.units})` : '';
  md.push(
    `## ${o.heading}`,
    '',
    `d_s = method − ${o.baseline} on the same evaluation set and seed s (same subject split and initialisation); n = seeds paired. ` +
      `Cells: mean d [${Math.round(100 * o.level)} % bootstrap CI resampling seed pairs, B = ${o.replicates}] (relative change 100·mean d / |mean ${o.baseline}|). ` +
      'Negative means lower: better for errors, gaps, MMD² and Silhouette; worse for AUC.',
    '',
    `| Method | n | ${o.summaryKeys.map(label).join(' | ')} |`,
    `|---|---:|${o.summaryKeys.map(() => '---:').join('|')}|`,
    ...set.methods.map((m) => {
      const n = Math.max(0, ...Object.values(m.metrics).map((c) => c.n));
      return `| ${m.method} | ${n} | ${o.summaryKeys
        .map((key) => {
          const c = m.metrics[key];
          return c ? `${deltaText(c)}${Number.isFinite(c.relativePercent) ? ` (${c.relativePercent >= 0 ? '+' : ''}${c.relativePercent.toFixed(1)} %)` : ''}` : 'n/a';
        })
        .join(' | ')} |`;
    }),
    '',
  );
  const maxN = Math.max(0, ...set.methods.flatMap((m) => Object.values(m.metrics).map((c) => c.n)));
  if (maxN >= 2) {
    md.push(
      '### Paired statistics',
      '',
      `Δ = mean d${units} [${Math.round(100 * o.level)} % CI]; d_z = mean d / SD(d) (Cohen's d for paired data); lower/higher: seeds on which the method was below/above ${o.baseline}. ` +
        `Tests, two-sided, secondary to the CI and effect size: p_perm = exact sign-flip permutation test of the mean difference (all 2^n sign patterns; Monte Carlo above n = 20), ` +
        `p_W = Wilcoxon signed-rank test (zero differences dropped, exact null over the mid-ranks); ${k === 1 ? `Holm = the same (one method compared with ${o.baseline}).` : `Holm = Holm-adjusted across the ${k} methods compared with ${o.baseline} on this metric.`}`,
      '',
    );
    let impossible = false;
    for (const key of o.statKeys) {
      const rows = set.methods.filter((m) => m.metrics[key]);
      if (rows.length === 0) continue;
      const kPerm = rows.filter((m) => Number.isFinite(m.metrics[key]!.signFlip.p)).length;
      const kW = rows.filter((m) => Number.isFinite(m.metrics[key]!.wilcoxon.p)).length;
      // † where no data with this many non-zero differences could give p < alpha (all-zero differences: nothing to test, p = 1).
      const mark = (p: number, minP: number, nonzero: number) => {
        const never = Number.isFinite(p) && nonzero > 0 && minP >= o.alpha;
        if (never) impossible = true;
        return `${pText(p)}${never ? ' †' : ''}`;
      };
      md.push(
        `#### ${label(key)}`,
        '',
        `| Method | n | Δ${units} [CI] | d_z | lower/higher | p_perm | Holm | p_W | Holm |`,
        '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
        ...rows.map((m) => {
          const c = m.metrics[key]!;
          return `| ${m.method} | ${c.n} | ${deltaText(c)} | ${fmt(c.dz, 2)} | ${c.lower}/${c.higher} | ${mark(c.signFlip.p, c.signFlip.minAttainableP, c.signFlip.nonzero)} | ${mark(c.signFlipHolm, Math.min(1, kPerm * c.signFlip.minAttainableP), c.signFlip.nonzero)} | ${mark(c.wilcoxon.p, c.wilcoxon.minAttainableP, c.wilcoxon.nonzero)} | ${mark(c.wilcoxonHolm, Math.min(1, kW * c.wilcoxon.minAttainableP), c.wilcoxon.nonzero)} |`;
        }),
        '',
      );
    }
    if (impossible) {
      const n = maxN;
      md.push(
        `† This p-value cannot fall below ${o.alpha} whatever the data: with n non-zero paired differences the smallest two-sided p of an exact paired test is 2/2^n ` +
          `(${pText(2 / 2 ** n)} for n = ${n}; n ≥ 6 is needed for p < 0.05), and Holm multiplies the smallest p by the number of methods (${k}). ` +
          'Read the CI and d_z instead; more seeds (10 give 2/2^10 ≈ 0.002) make the tests informative.',
        '',
      );
    }
  }
  const ld = set.methods.filter((m) => m.levellingDown);
  if (ld.length > 0) {
    const G = o.groupMetric.toUpperCase();
    const u = o.units ? ` ${o.units}` : '';
    const [down, up] = o.higherIsBetter ? ['above', 'below'] : ['below', 'above'];
    md.push(
      '### How the gap moved: works, levelling down, harm',
      '',
      `The better-served group is the one with the ${o.higherIsBetter ? 'highest' : 'lowest'} mean ${o.baseline} ${G} over the paired seeds, the worse-served group the one with the ${o.higherIsBetter ? 'lowest' : 'highest'}. ` +
        `From the ${Math.round(100 * o.level)} % CIs of the mean changes (the statistics above): the gap's CI entirely below 0 and the worse-served group's ${G} CI entirely ${down} 0 → **works**; ` +
        `the gap's CI below 0, the worse-served group's not, and the better-served group's ${G} CI entirely ${up} ${o.tolerance === 0 ? '0' : `${o.higherIsBetter ? '−' : '+'}${o.tolerance}${u} (the tolerance)`} → **levelling down** (the gap closes by making the better-served group worse); ` +
        `the gap's CI below 0 otherwise → gap closes, mechanism unclear; the gap's CI entirely above 0 → **harm**; otherwise no detectable effect. ` +
        `The overall ${o.overallLabel}'s CI entirely beyond ${o.higherIsBetter ? `−${o.harmMargin}` : `+${o.harmMargin}`}${u} is marked as harm too. With one seed the single differences stand in for the CIs. ` +
        '"seeds" counts the seeds on which the gap shrank while the better-served group got worse beyond the tolerance.',
      '',
      `| Method | n | Δ gap${units} [CI] | worse-served group: Δ ${G} [CI] | better-served group: Δ ${G} [CI] | seeds | verdict |`,
      '|---|---:|---:|---:|---:|---:|---|',
      ...ld.map((m) => {
        const l = m.levellingDown!;
        const v = l.verdict === 'levelling down' || l.verdict === 'harm' || l.verdict === 'works' ? `**${l.verdict}**` : l.verdict;
        const extra = [l.overallHarm ? `**harm**: overall ${o.overallLabel} CI beyond ${o.higherIsBetter ? `−${o.harmMargin}` : `+${o.harmMargin}`}${u}` : '', l.basis === 'point estimate' ? 'one seed: point estimates, no CI' : ''].filter(Boolean);
        return `| ${m.method} | ${l.n} | ${deltaText(l.gap)} | ${cell(l.worseGroup)} ${deltaText(l.worse)} | ${cell(l.betterGroup)} ${deltaText(l.better)} | ${l.flaggedSeeds}/${l.seeds.length} | ${v}${extra.length ? ` (${extra.join('; ')})` : ''} |`;
      }),
      '',
    );
  }
  return md;
}

export const reportCompareStage: StagePlugin<ReportCompareParams> = {
  type: 'report.compare',
  version: '6', // 6: "|" in group names (intersections) escaped in Markdown tables
  description:
    'Methods × metrics comparison report (Markdown, JSON, SVG figures) with CIs; changes against the baseline (ERM) paired by evaluation set and seed, with bootstrap CIs, effect sizes, exact sign-flip and Wilcoxon tests (Holm), a works / levelling-down / harm verdict and the error-vs-gap trade-off.',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      title: { type: 'string', default: 'Fairness comparison' },
      baseline: { type: 'string', default: 'erm', description: 'Method the changes are computed against, on each evaluation set, paired by seed.' },
      split: { type: ['string', 'null'], default: 'test', description: 'Split of the embeddings to project (null = all).' },
      maxPoints: { type: 'integer', minimum: 10, default: 1000, description: 'Points per method in the embedding projection (seeded subsample).' },
      // No schema default, so the cache keys of reports without it stay as they were.
      table2: {
        type: 'object',
        additionalProperties: false,
        required: ['rows'],
        description: "Also lay the classification metrics out like the FairTune paper's Table 2 (its ablation): one row per variant, overall / worst-group / gap AUC in percent with CIs.",
        properties: {
          rows: {
            type: 'array',
            minItems: 1,
            description: 'The variants in table order.',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['method', 'objective', 'space'],
              properties: {
                method: { type: 'string', minLength: 1, description: "The metrics' method label (eval.metrics label)." },
                objective: { type: 'string', description: 'The search objective, e.g. worst-group AUC.' },
                space: { type: 'string', description: 'The mask space, e.g. 36-bit (3 a block).' },
              },
            },
          },
        },
      },
      statistics: {
        type: 'object',
        additionalProperties: false,
        default: {},
        description: 'Paired comparison against the baseline (docs/fairness.md, "Comparing methods").',
        properties: {
          replicates: { type: 'integer', minimum: 100, default: 10000, description: 'Bootstrap replicates (resampling seed pairs) of each mean paired difference.' },
          alpha: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.05, description: 'CIs cover 1 − alpha; p-values that can never fall below alpha are marked.' },
          levellingDownTolerance: { type: 'number', minimum: 0, default: 0, description: "Levelling down: the better-served group's CI must lie beyond this change the wrong way (metric units)." },
          harmMargin: { type: 'number', minimum: 0, default: 1, description: "Harm: the overall metric's change CI lies entirely beyond this many units the wrong way (default 1, i.e. +1 bpm of MAE)." },
        },
      },
    },
  },
  inputs: COMPARE_INPUTS,
  outputs: { report: { kind: 'report' } },
  run: (ctx) =>
    runAsync(ctx.signal, async (emit) => {
      const p = ctx.params;
      const inputs = stageInputs(ctx.inputs, COMPARE_INPUTS);
      const metricArts = inputs.metrics;
      if (metricArts.length === 0) throw new FairtuneError('FT_INPUT_MISSING', 'report.compare needs at least one metrics artifact', { port: 'metrics' });
      const runs = metricArts.map((a, i) => ({ method: a.meta.method ?? `run ${i + 1}`, meta: a.meta }));
      const tasks = new Set(runs.map((r) => r.meta.task));
      if (tasks.size !== 1) throw new FairtuneError('FT_INPUT_CONTENT', `report.compare: metrics artifacts mix tasks (${[...tasks].join(', ')})`, { port: 'metrics' });
      const task = runs[0]!.meta.task ?? 'regression';
      const methods = [...new Set(runs.map((r) => r.method))];
      if (methods.includes(p.baseline)) {
        // The baseline goes first in every table and figure.
        methods.splice(methods.indexOf(p.baseline), 1);
        methods.unshift(p.baseline);
      }
      const synthetic = runs.some((r) => r.meta.synthetic);
      const warnings: string[] = [];
      if (!methods.includes(p.baseline)) warnings.push(`baseline method "${p.baseline}" is not among the inputs (${methods.join(', ')}): no changes against it`);

      // Rows: one per method and evaluation set (dataset and split). A label used on two
      // evaluation sets is shown with the set; its runs there are never pooled as seeds.
      const evalSets = [...new Set(runs.map((r) => evalSetOf(r.meta)))];
      const rows = methods.flatMap((method) => evalSets.filter((e) => runs.some((r) => r.method === method && evalSetOf(r.meta) === e)).map((evalSet) => ({ method, evalSet })));
      const ambiguous = new Set(methods.filter((m) => rows.filter((r) => r.method === m).length > 1));
      const rowLabel = (method: string, evalSet: string) => (ambiguous.has(method) ? `${method} (${evalSet})` : method);

      // Per row: one run → value with its bootstrap CI; several runs → mean ± std over seeds.
      const cells = new Map<string, Record<string, Cell>>();
      for (const { method, evalSet } of rows) {
        const mine = runs.filter((r) => r.method === method && evalSetOf(r.meta) === evalSet);
        const out: Record<string, Cell> = {};
        if (mine.length === 1) {
          const m = mine[0]!.meta;
          for (const [k, v] of Object.entries(flat(m))) {
            const ci = m.ci?.intervals?.[k];
            out[k] = { value: v, ...(ci ? { lo: num(ci.lo), hi: num(ci.hi) } : {}) };
          }
        } else {
          for (const [k, a] of Object.entries(aggregateSeeds(mine.map((r) => flat(r.meta))))) out[k] = { value: a.mean, std: a.std, n: a.n };
        }
        cells.set(rowLabel(method, evalSet), out);
        for (const w of mine.flatMap((r) => r.meta.warnings ?? [])) warnings.push(`${rowLabel(method, evalSet)}: ${w}`);
      }
      const labels = rows.map((r) => rowLabel(r.method, r.evalSet));
      const groupNames = [...new Set(runs.flatMap((r) => Object.keys(r.meta.groups ?? {})))];
      const groupMetric = task === 'regression' ? 'mae' : 'auc';
      const headline =
        task === 'regression'
          ? ['overall.mae', 'overall.maeGap', 'overall.worstGroupMae']
          : ['overall.auc', 'overall.minAuc', 'overall.aucGap', 'overall.equalizedOddsDifference', 'overall.demographicParityDifference', 'overall.ece'];
      const hasRep = runs.some((r) => r.meta.representation);
      const repKeys = hasRep ? ['representation.mmd2', 'representation.silhouette'] : [];
      const groupKeys = groupNames.map((g) => `groups.${g}.${groupMetric}`);
      const columns = [...headline.slice(0, 1), ...groupKeys, ...headline.slice(1), ...repKeys];
      const gapKey = task === 'regression' ? 'overall.maeGap' : 'overall.aucGap';
      // The metrics of interest get a statistics table each: the gap, the worst group, every group, overall.
      const statKeys = task === 'regression' ? ['overall.maeGap', 'overall.worstGroupMae', ...groupKeys, 'overall.mae'] : ['overall.aucGap', 'overall.minAuc', ...groupKeys, 'overall.auc'];

      // Changes against the baseline: only between runs on the same evaluation set and seed.
      const compareRuns: CompareRun[] = runs.map((r) => ({ method: r.method, evalSet: evalSetOf(r.meta), seed: typeof r.meta.seed === 'number' ? r.meta.seed : null, ...(typeof r.meta.n === 'number' ? { n: r.meta.n } : {}), values: flat(r.meta) }));
      const comparison = compareMethods(compareRuns, {
        baseline: p.baseline,
        keys: columns,
        groupKeys: Object.fromEntries(groupNames.map((g) => [g, `groups.${g}.${groupMetric}`])),
        gapKey,
        higherIsBetter: task !== 'regression',
        seed: ctx.seed,
        replicates: p.statistics.replicates,
        alpha: p.statistics.alpha,
        tolerance: p.statistics.levellingDownTolerance,
        overallKey: task === 'regression' ? 'overall.mae' : 'overall.auc',
        harmMargin: p.statistics.harmMargin,
      });
      warnings.push(...comparison.warnings);
      const comparisonOf = (method: string, evalSet: string) => comparison.sets.find((s) => s.evalSet === evalSet)?.methods.find((m) => m.method === method);
      const errorOf = (v: Readonly<Record<string, number>>) => (task === 'regression' ? v['overall.mae'] ?? Number.NaN : 1 - (v['overall.auc'] ?? Number.NaN));
      const trade = tradeoff(compareRuns, errorOf, gapKey);
      const labelOf = (method: string, evalSet: string) => rowLabel(method, evalSet);
      const first0 = runs[0]!.meta;

      // Figures.
      const files: Record<string, string> = {};
      const figures: { name: string; caption: string }[] = [];
      const add = async (name: string, caption: string, spec: TopLevelSpec) => {
        const f = await writeFigure(ctx.workDir, name, spec);
        files[f.svg] = join(ctx.workDir, f.svg);
        files[f.spec] = join(ctx.workDir, f.spec);
        figures.push({ name: f.svg, caption });
        await emit.checkpoint();
      };
      const barRows = labels.flatMap((method) =>
        groupNames.map((g) => {
          const c = cells.get(method)![`groups.${g}.${groupMetric}`];
          const lo = c?.n !== undefined && c.n > 1 ? c.value - num(c.std) : c?.lo;
          const hi = c?.n !== undefined && c.n > 1 ? c.value + num(c.std) : c?.hi;
          return { method, group: g, value: c?.value ?? null, lo: Number.isFinite(lo) ? lo : null, hi: Number.isFinite(hi) ? hi : null };
        }),
      );
      if (groupNames.length > 0) {
        const yTitle = task === 'regression' ? 'MAE' : 'AUC';
        await add('per-group-' + groupMetric, `Per-group ${yTitle} by method; error bars: bootstrap CI over subjects (one run) or ± std across seeds.`, {
          $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
          title: `Per-group ${yTitle}`,
          data: { values: barRows },
          encoding: {
            x: { field: 'group', type: 'nominal', title: 'group' },
            xOffset: { field: 'method', type: 'nominal', sort: labels },
            color: { field: 'method', type: 'nominal', sort: labels },
          },
          layer: [
            { mark: 'bar', encoding: { y: { field: 'value', type: 'quantitative', title: yTitle } } },
            // A constant colour overrides the shared method colour, so the part of the CI inside the bar stays visible.
            { mark: { type: 'rule', strokeWidth: 1.5 }, encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color: { value: 'black' } } },
          ],
          width: Math.max(200, 60 * groupNames.length * labels.length),
          height: 220,
        });
      }

      // Trade-off: overall error against gap, one point per run, method means as diamonds, and
      // the Pareto front of the means (lower-left is better) as a dashed staircase.
      if (trade.points.length > 0) {
        const units = first0.target?.units ? ` (${first0.target.units})` : '';
        const xTitle = task === 'regression' ? `MAE${units}` : '1 − AUC';
        const yTitle = task === 'regression' ? `Gap: max − min group MAE${units}` : 'AUC gap (max − min)';
        const values = [
          ...trade.points.map((q) => ({ kind: 'run', evalSet: q.evalSet, method: labelOf(q.method, q.evalSet), seed: q.seed, error: q.error, gap: q.gap })),
          ...trade.means.map((q) => ({ kind: 'mean', evalSet: q.evalSet, method: labelOf(q.method, q.evalSet), runs: q.runs, error: q.error, gap: q.gap, onFront: q.onFront })),
          ...trade.means.filter((q) => q.onFront).map((q) => ({ kind: 'front', evalSet: q.evalSet, method: labelOf(q.method, q.evalSet), error: q.error, gap: q.gap })),
        ];
        const x = { field: 'error', type: 'quantitative', title: xTitle, scale: { zero: false }, axis: { format: '~g' } } as const;
        const y = { field: 'gap', type: 'quantitative', title: yTitle, scale: { zero: false }, axis: { format: '~g' } } as const;
        const color = { field: 'method', type: 'nominal', sort: labels, legend: { labelLimit: 400 } } as const;
        const layer = [
          {
            transform: [{ filter: "datum.kind === 'front'" }],
            mark: { type: 'line', interpolate: 'step-after', color: 'black', strokeDash: [4, 3], strokeWidth: 1 },
            encoding: { x, y, order: { field: 'error', type: 'quantitative' } },
          },
          { transform: [{ filter: "datum.kind === 'run'" }], mark: { type: 'point', filled: true, opacity: 0.55, size: 40 }, encoding: { x, y, color } },
          {
            transform: [{ filter: "datum.kind === 'mean'" }],
            mark: { type: 'point', shape: 'diamond', filled: true, size: 170, stroke: 'black', strokeWidth: 1 },
            encoding: { x, y, color },
          },
        ];
        const spec = (evalSets.length > 1
          ? { facet: { column: { field: 'evalSet', type: 'nominal', title: null, sort: evalSets } }, spec: { layer, width: 260, height: 220 }, resolve: { scale: { x: 'independent', y: 'independent' } } }
          : { layer, width: 320, height: 240 }) as unknown as Record<string, unknown>;
        await add(
          'tradeoff',
          `Overall ${task === 'regression' ? 'MAE' : 'error (1 − AUC)'} against the gap: one dot per run (method × seed), diamonds = method means, dashed = Pareto front of the means${evalSets.length > 1 ? ' per evaluation set' : ''} (lower-left is better; ${trade.means.filter((q) => q.onFront).map((q) => labelOf(q.method, q.evalSet)).join(', ')} on it).`,
          { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title: 'Error against gap', data: { values }, ...spec } as TopLevelSpec,
        );
      }

      const embArts = inputs.embeddings ?? [];
      const projections: JsonObject[] = [];
      if (embArts.length > 0) {
        const points: { method: string; group: string; pc1: number; pc2: number }[] = [];
        for (const [i, a] of embArts.entries()) {
          const meta = a.meta;
          const method = meta.method ?? `embeddings ${i + 1}`;
          const z = requireArray(a, 'z');
          if (z.shape.length !== 2) throw new FairtuneError('FT_ARRAY_MISSING', `embeddings (${method}) array "z" has shape [${z.shape.join(', ')}], expected [N, D]`, { port: 'embeddings' });
          const [N, D] = z.shape as [number, number];
          // Same rule as eval.metrics: a split that the embeddings lack is an error, not "all rows".
          let rows = selectSplitRows(a, meta.splits, N, p.split, `embeddings (${method})`, 'embeddings');
          if (rows.length > p.maxPoints) rows = new Rng(deriveSeed(ctx.seed, `projection-${i}`)).shuffle(rows).slice(0, p.maxPoints).sort((x, y) => x - y);
          if (rows.length < 2) {
            warnings.push(`embeddings (${method}): fewer than 2 points, no projection`);
            continue;
          }
          const data = new Float64Array(rows.length * D);
          rows.forEach((r, k) => {
            for (let j = 0; j < D; j++) data[k * D + j] = z.data[r * D + j]!;
          });
          const res = pca({ data, rows: rows.length, dim: D }, 2, { seed: deriveSeed(ctx.seed, `pca-${i}`) });
          const k = res.explainedVariance.length;
          const group = a.arrays['group'];
          rows.forEach((r, idx) => {
            const g = group ? group.data[r]! : -1;
            points.push({ method, group: g >= 0 ? (meta.groups?.names[g] ?? String(g)) : 'unknown', pc1: res.scores[idx * k]!, pc2: k > 1 ? res.scores[idx * k + 1]! : 0 });
          });
          projections.push({ method, points: rows.length, explainedVarianceRatio: Array.from(res.explainedVariance, (v) => v / res.totalVariance) });
        }
        if (points.length > 0) {
          await add('embeddings-pca', 'First two principal components of the penultimate-layer embeddings (PCA per method), coloured by group.', {
            $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
            title: 'Embeddings (PCA) by group',
            data: { values: points },
            mark: { type: 'circle', size: 14, opacity: 0.6 },
            encoding: {
              x: { field: 'pc1', type: 'quantitative', title: 'PC1' },
              y: { field: 'pc2', type: 'quantitative', title: 'PC2' },
              color: { field: 'group', type: 'nominal' },
              column: { field: 'method', type: 'nominal', sort: methods },
            },
            resolve: { scale: { x: 'independent', y: 'independent' } },
            width: 220,
            height: 220,
          });
        }
      }

      const curveArts = inputs.curves ?? [];
      if (curveArts.length > 0) {
        const curves = curveArts.flatMap((a, i) => readCurves(a, `curves ${i + 1}`));
        if (curves.length > 0) {
          await add('training-curves', 'Training curves per epoch.', {
            $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
            title: 'Training curves',
            data: { values: curves },
            mark: { type: 'line', point: true },
            encoding: {
              x: { field: 'epoch', type: 'quantitative' },
              y: { field: 'value', type: 'quantitative', title: null },
              color: { field: 'method', type: 'nominal', sort: methods },
              facet: { field: 'series', type: 'nominal', columns: 3, title: null },
            },
            resolve: { scale: { y: 'independent' } },
            width: 220,
            height: 160,
          });
        } else warnings.push('training-curve inputs hold no numeric values');
      }

      // Markdown.
      const first = runs[0]!.meta;
      const md: string[] = [`# ${p.title}`, ''];
      if (synthetic) {
        md.push('> **Synthetic data.** At least one evaluated dataset was generated by a synthetic cohort generator (meta.synthetic); the numbers demonstrate the pipeline and the mechanisms, not clinical performance.', '');
      }
      md.push(
        `Task: ${task}${first.target ? ` (${first.target.name}${first.target.units ? `, ${first.target.units}` : ''})` : ''}. ` +
          `Evaluated on ${evaluatedOn(runs.map((r) => r.meta))}.`,
        '',
        `Cells: value [${Math.round(100 * (first.ci?.level ?? 0.95))}% bootstrap CI resampling subjects] for a single run, or mean ± sample std across seeds.`,
        '',
        '## Methods × metrics',
        '',
        ...(evalSets.length > 1
          ? [
              `| Method | Evaluated on | ${columns.map(label).join(' | ')} |`,
              `|---|---|${columns.map(() => '---:').join('|')}|`,
              ...rows.map(({ method, evalSet }) => `| ${rowLabel(method, evalSet)} | ${evalSet} | ${columns.map((k) => cellText(cells.get(rowLabel(method, evalSet))![k])).join(' | ')} |`),
            ]
          : [
              `| Method | ${columns.map(label).join(' | ')} |`,
              `|---|${columns.map(() => '---:').join('|')}|`,
              ...labels.map((l) => `| ${l} | ${columns.map((k) => cellText(cells.get(l)![k])).join(' | ')} |`),
            ]),
        '',
      );
      if (p.table2 && task !== 'classification') throw new FairtuneError('FT_PARAM_INVALID', 'report.compare: table2 is the AUC layout of a classification comparison; these metrics are regression', { param: 'table2' });
      if (p.table2) {
        const level = Math.round(100 * (first.ci?.level ?? 0.95));
        md.push('## Table 2 layout', '', `The FairTune paper's Table 2 (ablation of the search objective and the mask space), in percent: value [${level}% bootstrap CI] for one run, mean ± std (n seeds) for repeated runs. Groups: ${groupNames.map(cell).join(', ') || 'none'}.`, '');
        for (const evalSet of evalSets) {
          if (evalSets.length > 1) md.push(`On ${evalSet}:`, '');
          const here = new Set(rows.filter((r) => r.evalSet === evalSet).map((r) => r.method));
          const t2 = table2Markdown(p.table2.rows, (m) => (here.has(m) ? cells.get(rowLabel(m, evalSet)) : undefined), cell);
          md.push(...t2.lines, '');
          for (const m of t2.missing) warnings.push(`table2: row "${m}" has no metrics${evalSets.length > 1 ? ` on ${evalSet}` : ''} (inputs: ${methods.join(', ')})`);
        }
      }
      if (task === 'classification') md.push(...table1Section(evalSets, rows, rowLabel, cells, first.ci?.level ?? 0.95));
      // The paper's layout when the runs name their training dataset: pairs × methods.
      const matrixRows: MatrixRow[] = rows.flatMap(({ method, evalSet }) => {
        const r = runs.find((x) => x.method === method && evalSetOf(x.meta) === evalSet);
        return r?.meta.trainedOn ? [{ method, evalSet, source: r.meta.trainedOn, target: r.meta.dataset ?? '?' }] : [];
      });
      md.push(
        ...transferMatrixMarkdown({
          rows: matrixRows,
          methods,
          baseline: p.baseline,
          metrics: task === 'regression' ? [{ key: 'overall.mae', title: 'MAE' }, { key: 'overall.maeGap', title: 'Gap (max − min group MAE)' }] : [{ key: 'overall.auc', title: 'AUC' }, { key: 'overall.aucGap', title: 'AUC gap' }],
          cell: (r, key) => cells.get(rowLabel(r.method, r.evalSet))?.[key],
          delta: (r, key) => comparisonOf(r.method, r.evalSet)?.metrics[key],
          format: (v) => fmt(v),
          units: task === 'regression' ? (first.target?.units ?? '') : '',
        }),
      );
      for (const set of comparison.sets) {
        md.push(
          ...comparisonMarkdown(set, {
            baseline: p.baseline,
            units: task === 'regression' ? (first.target?.units ?? '') : '',
            alpha: p.statistics.alpha,
            level: 1 - p.statistics.alpha,
            replicates: p.statistics.replicates,
            tolerance: p.statistics.levellingDownTolerance,
            harmMargin: p.statistics.harmMargin,
            overallLabel: task === 'regression' ? 'MAE' : 'AUC',
            statKeys,
            summaryKeys: columns,
            groupMetric,
            higherIsBetter: task !== 'regression',
            heading: `Change against ${p.baseline}${evalSets.length > 1 ? ` on ${set.evalSet}` : ''}, paired by seed`,
          }),
        );
      }
      if (comparison.sets.length === 0 && methods.includes(p.baseline)) {
        const sets = evalSets.map((e) => `${e}: ${rows.filter((r) => r.evalSet === e).map((r) => r.method).join(', ')}`).join('; ');
        md.push(
          `## Change against ${p.baseline}`,
          '',
          `None: a change against the baseline is computed only between methods evaluated on the same evaluation set (dataset and split) with the same seed, and no other method shares an evaluation set and seed with ${p.baseline} here (${sets}).`,
          '',
        );
      }
      if (figures.length > 0) {
        md.push('## Figures', '');
        for (const f of figures) md.push(`![${f.caption}](${f.name})`, '', `*${f.caption}*`, '');
      }
      md.push(
        '## Definitions',
        '',
        (task === 'classification'
          ? 'AUC per group (ROC AUC of the predicted probabilities within the group); worst-group AUC = the smallest per-group AUC; AUC gap = max − min of the per-group AUCs; EOdds diff = the larger of the between-group differences in true-positive and false-positive rates at the threshold; DP diff = the between-group difference in positive-prediction rates; ECE = expected calibration error; '
          : 'MAE per group; gap = max − min of the per-group MAEs (|MAE_a − MAE_b| for two groups); ') +
          'MMD² = unbiased RBF-kernel MMD² between groups’ embeddings (median-heuristic bandwidth, max over group pairs); Silhouette = scikit-learn silhouette of embeddings labelled by group (lower = less demographic clustering). See docs/fairness.md.',
        '',
      );
      if (warnings.length > 0) md.push('## Warnings', '', ...warnings.map((w) => `- ${w}`), '');

      const json = toJsonSafe({
        title: p.title,
        synthetic,
        task,
        baseline: p.baseline,
        evaluationSets: evalSets,
        methods: rows.map(({ method, evalSet }) => {
          const c = comparisonOf(method, evalSet);
          return {
            method,
            evaluationSet: evalSet,
            ...(matrixRows.some((r) => r.evalSet === evalSet) ? { pair: { source: matrixRows.find((r) => r.evalSet === evalSet)!.source, target: matrixRows.find((r) => r.evalSet === evalSet)!.target } } : {}),
            runs: runs.filter((r) => r.method === method && evalSetOf(r.meta) === evalSet).length,
            seeds: runs.filter((r) => r.method === method && evalSetOf(r.meta) === evalSet).map((r) => r.meta.seed ?? null),
            metrics: cells.get(rowLabel(method, evalSet)),
            relativeToBaselinePercent: c ? Object.fromEntries(Object.entries(c.metrics).map(([k, m]) => [k, m.relativePercent])) : null,
            pairedToBaseline: c ? { seeds: c.seeds, ...c.metrics } : null,
            levellingDown: c?.levellingDown ?? null,
          };
        }),
        statistics: {
          pairing: 'same evaluation set (dataset, split) and stage seed',
          ci: { method: 'percentile bootstrap of the mean paired difference, resampling seed pairs', level: 1 - p.statistics.alpha, replicates: p.statistics.replicates },
          effectSize: "Cohen's d_z = mean(d) / sd(d), ddof = 1",
          tests: {
            signFlip: 'exact two-sided sign-flip permutation test of the mean difference (all 2^n sign patterns for n <= 20, else 100000 seeded random patterns)',
            wilcoxon: "two-sided Wilcoxon signed-rank, zero_method 'wilcox' (zeros dropped), mid-ranks, exact null over the ranks",
            multiplicity: 'Holm step-down across the methods compared on each metric and evaluation set',
          },
          verdict: 'docs/fairness.md "Comparing methods": works / levelling down / gap closes, mechanism unclear / harm / no detectable effect, from the CIs',
          levellingDownTolerance: p.statistics.levellingDownTolerance,
          harmMargin: p.statistics.harmMargin,
        },
        tradeoff: {
          error: task === 'regression' ? 'overall.mae' : '1 - overall.auc',
          gap: gapKey,
          points: trade.points.map((q) => ({ ...q, method: labelOf(q.method, q.evalSet) })),
          means: trade.means.map((q) => ({ ...q, method: labelOf(q.method, q.evalSet) })),
        },
        columns,
        projections,
        figures,
        warnings,
      });
      writeFileSync(join(ctx.workDir, 'report.md'), md.join('\n'));
      writeFileSync(join(ctx.workDir, 'report.json'), `${JSON.stringify(json, null, 2)}\n`);
      files['report.md'] = join(ctx.workDir, 'report.md');
      files['report.json'] = join(ctx.workDir, 'report.json');
      emit.log('info', `report.compare: ${methods.length} methods on ${evalSets.length} evaluation set${evalSets.length === 1 ? '' : 's'}, ${figures.length} figures`);
      emit.artifact('report', artifact('report', { title: p.title, synthetic, methods: labels, figures: figures.map((f) => f.name) } as JsonObject, {}, files));
    }),
};

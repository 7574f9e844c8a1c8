/**
 * `report.compare`: one comparison report of several methods (mitigations) — a methods ×
 * metrics table with CIs (or mean ± std across seeds when a method has several runs), the
 * relative change of every method against the baseline (ERM), differences paired by seed when
 * methods share seeds (`metrics.meta.seed`, the eval.metrics stage seed), and SVG figures rendered
 * offline with Vega-Lite: per-group error bars, 2-D PCA projections of embeddings coloured by
 * group, training curves. Writes report.md, report.json and the figures (+ .vl.json) into the
 * stage's workDir and lists them in the `report` artifact's files.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { artifact, deriveSeed, requireArray, Rng, runAsync, type Artifact, type EmbeddingsMeta, type JsonObject, type StagePlugin } from '@fairtune/core';
import { aggregateSeeds } from '../metrics/bootstrap.js';
import { flattenMetrics, toJsonSafe } from '../metrics/summary.js';
import { pca } from '../report/pca.js';
import { writeFigure } from '../report/render.js';
import { selectSplitRows } from './split.js';

export interface ReportCompareParams {
  title: string;
  baseline: string;
  split: string | null;
  maxPoints: number;
}

/** The parts of a metrics artifact's meta (written by eval.metrics) the report reads. */
/** Per-seed difference method − baseline over seeds both have: mean, sample std, count, how often negative. */
interface PairedDelta {
  mean: number;
  std: number;
  n: number;
  lower: number;
}

interface MetricsMeta {
  method?: string | null;
  dataset?: string;
  synthetic?: boolean;
  task?: 'regression' | 'classification';
  split?: string | null;
  seed?: number;
  n?: number;
  subjects?: number;
  target?: { name: string; units?: string };
  overall?: Record<string, number | null>;
  groups?: Record<string, Record<string, number | null>>;
  representation?: { mmd2?: number | null; silhouette?: number | null };
  ci?: { level?: number; intervals?: Record<string, { lo: number | null; hi: number | null }> };
  warnings?: string[];
}

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

function label(key: string): string {
  if (LABELS[key]) return LABELS[key]!;
  const m = /^groups\.(.*)\.(\w+)$/.exec(key);
  return m ? `${m[2]!.toUpperCase()} (${m[1]})` : key;
}

interface Curve {
  method: string;
  epoch: number;
  series: string;
  value: number;
}

/** Training curves from a `json`/`model` artifact: meta.history (rows per epoch) or meta.curves (name → values). */
function readCurves(a: Artifact, fallback: string): Curve[] {
  const meta = a.meta as JsonObject;
  const method = typeof meta.method === 'string' ? meta.method : fallback;
  const out: Curve[] = [];
  if (Array.isArray(meta.history)) {
    meta.history.forEach((row, i) => {
      if (row === null || typeof row !== 'object' || Array.isArray(row)) throw new Error(`curves artifact (${method}): history[${i}] is not an object`);
      const epoch = typeof row.epoch === 'number' ? row.epoch : i;
      for (const [k, v] of Object.entries(row)) if (k !== 'epoch' && typeof v === 'number' && Number.isFinite(v)) out.push({ method, epoch, series: k, value: v });
    });
  } else if (meta.curves && typeof meta.curves === 'object' && !Array.isArray(meta.curves)) {
    for (const [series, values] of Object.entries(meta.curves)) {
      if (!Array.isArray(values)) throw new Error(`curves artifact (${method}): curves.${series} is not an array of numbers`);
      values.forEach((v, epoch) => {
        if (typeof v === 'number' && Number.isFinite(v)) out.push({ method, epoch, series, value: v });
      });
    }
  } else {
    throw new Error(`curves artifact (${method}, kind ${a.kind}) has neither meta.history (array of per-epoch objects) nor meta.curves (name → number[])`);
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
    const key = `${m.dataset ?? '?'} ${m.split ? `${m.split} split` : 'all samples'}`;
    byData.set(key, [...(byData.get(key) ?? []), m]);
  }
  return [...byData].map(([key, ms]) => `${key} (${range(ms.map((m) => m.n))} samples, ${range(ms.map((m) => m.subjects))} subjects${ms.length > 1 ? ` per run, ${ms.length} runs` : ''})`).join('; ');
}

export const reportCompareStage: StagePlugin<ReportCompareParams> = {
  type: 'report.compare',
  version: '4',
  description: 'Methods × metrics comparison report (Markdown, JSON, SVG figures) with CIs and relative change against ERM.',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      title: { type: 'string', default: 'Fairness comparison' },
      baseline: { type: 'string', default: 'erm', description: 'Method the relative changes are computed against.' },
      split: { type: ['string', 'null'], default: 'test', description: 'Split of the embeddings to project (null = all).' },
      maxPoints: { type: 'integer', minimum: 10, default: 1000, description: 'Points per method in the embedding projection (seeded subsample).' },
    },
  },
  inputs: {
    metrics: { kind: 'metrics', multiple: true, description: 'eval.metrics outputs, labelled by meta.method; several per method = seeds.' },
    embeddings: { kind: 'embeddings', multiple: true, optional: true, description: 'Embeddings to project in 2-D, labelled by meta.method.' },
    curves: { kind: ['json', 'model'], multiple: true, optional: true, description: 'Training curves: meta.history or meta.curves, labelled by meta.method.' },
  },
  outputs: { report: { kind: 'report' } },
  run: (ctx) =>
    runAsync(ctx.signal, async (emit) => {
      const p = ctx.params;
      const asList = (port: string) => {
        const v = ctx.inputs[port];
        return v === undefined ? [] : Array.isArray(v) ? (v as Artifact[]) : [v as Artifact];
      };
      const metricArts = asList('metrics');
      if (metricArts.length === 0) throw new Error('report.compare needs at least one metrics artifact');
      const runs = metricArts.map((a, i) => ({ method: (a.meta as MetricsMeta).method ?? `run ${i + 1}`, meta: a.meta as MetricsMeta }));
      const tasks = new Set(runs.map((r) => r.meta.task));
      if (tasks.size !== 1) throw new Error(`report.compare: metrics artifacts mix tasks (${[...tasks].join(', ')})`);
      const task = runs[0]!.meta.task ?? 'regression';
      const methods = [...new Set(runs.map((r) => r.method))];
      if (methods.includes(p.baseline)) {
        // The baseline goes first in every table and figure.
        methods.splice(methods.indexOf(p.baseline), 1);
        methods.unshift(p.baseline);
      }
      const synthetic = runs.some((r) => r.meta.synthetic);
      const warnings: string[] = [];
      if (!methods.includes(p.baseline)) warnings.push(`baseline method "${p.baseline}" is not among the inputs (${methods.join(', ')}): no relative changes`);

      // Per method: one run → value with its bootstrap CI; several runs → mean ± std over seeds.
      const cells = new Map<string, Record<string, Cell>>();
      for (const method of methods) {
        const mine = runs.filter((r) => r.method === method);
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
        cells.set(method, out);
        for (const w of mine.flatMap((r) => r.meta.warnings ?? [])) warnings.push(`${method}: ${w}`);
      }
      const groupNames = [...new Set(runs.flatMap((r) => Object.keys(r.meta.groups ?? {})))];
      const groupMetric = task === 'regression' ? 'mae' : 'auc';
      const headline =
        task === 'regression'
          ? ['overall.mae', 'overall.maeGap', 'overall.worstGroupMae']
          : ['overall.auc', 'overall.minAuc', 'overall.aucGap', 'overall.equalizedOddsDifference', 'overall.demographicParityDifference', 'overall.ece'];
      const hasRep = runs.some((r) => r.meta.representation);
      const repKeys = hasRep ? ['representation.mmd2', 'representation.silhouette'] : [];
      const columns = [...headline.slice(0, 1), ...groupNames.map((g) => `groups.${g}.${groupMetric}`), ...headline.slice(1), ...repKeys];
      const relKeys = [...headline, ...repKeys];
      const base = cells.get(p.baseline);
      const relative: Record<string, Record<string, number>> = {};
      if (base) {
        for (const method of methods) {
          if (method === p.baseline) continue;
          relative[method] = {};
          for (const k of relKeys) {
            const b = base[k]?.value ?? Number.NaN;
            const m = cells.get(method)![k]?.value ?? Number.NaN;
            relative[method]![k] = b !== 0 ? (100 * (m - b)) / Math.abs(b) : Number.NaN;
          }
        }
      }

      // Paired by seed: a method's run and the baseline's run with the same seed share the split
      // and initialisation, so their difference is free of the split-to-split spread.
      const paired: Record<string, Record<string, PairedDelta>> = {};
      if (base) {
        const baseBySeed = new Map(runs.filter((r) => r.method === p.baseline && r.meta.seed !== undefined).map((r) => [r.meta.seed!, flat(r.meta)]));
        for (const method of methods) {
          if (method === p.baseline) continue;
          const pairs = runs.filter((r) => r.method === method && r.meta.seed !== undefined && baseBySeed.has(r.meta.seed)).map((r) => ({ m: flat(r.meta), b: baseBySeed.get(r.meta.seed!)! }));
          if (pairs.length < 2) continue;
          paired[method] = {};
          for (const k of relKeys) {
            const d = pairs.map(({ m, b }) => (m[k] ?? Number.NaN) - (b[k] ?? Number.NaN)).filter((x) => Number.isFinite(x));
            if (d.length === 0) continue;
            const a = aggregateSeeds(d.map((x) => ({ d: x })))['d']!;
            paired[method]![k] = { mean: a.mean, std: a.std, n: a.n, lower: d.filter((x) => x < 0).length };
          }
        }
      }

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
      const barRows = methods.flatMap((method) =>
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
            xOffset: { field: 'method', type: 'nominal', sort: methods },
            color: { field: 'method', type: 'nominal', sort: methods },
          },
          layer: [
            { mark: 'bar', encoding: { y: { field: 'value', type: 'quantitative', title: yTitle } } },
            // A constant colour overrides the shared method colour, so the part of the CI inside the bar stays visible.
            { mark: { type: 'rule', strokeWidth: 1.5 }, encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color: { value: 'black' } } },
          ],
          width: Math.max(200, 60 * groupNames.length * methods.length),
          height: 220,
        });
      }

      const embArts = asList('embeddings');
      const projections: JsonObject[] = [];
      if (embArts.length > 0) {
        const points: { method: string; group: string; pc1: number; pc2: number }[] = [];
        for (const [i, a] of embArts.entries()) {
          const meta = a.meta as unknown as EmbeddingsMeta;
          const method = meta.method ?? `embeddings ${i + 1}`;
          const z = requireArray(a, 'z');
          if (z.shape.length !== 2) throw new Error(`embeddings (${method}) array "z" has shape [${z.shape.join(', ')}], expected [N, D]`);
          const [N, D] = z.shape as [number, number];
          // Same rule as eval.metrics: a split that the embeddings lack is an error, not "all rows".
          let rows = selectSplitRows(a, meta.splits, N, p.split, `embeddings (${method})`);
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

      const curveArts = asList('curves');
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
        `| Method | ${columns.map(label).join(' | ')} |`,
        `|---|${columns.map(() => '---:').join('|')}|`,
        ...methods.map((method) => `| ${method} | ${columns.map((k) => cellText(cells.get(method)![k])).join(' | ')} |`),
        '',
      );
      if (Object.keys(relative).length > 0) {
        md.push(
          `## Relative change against ${p.baseline}`,
          '',
          '100·(method − baseline)/|baseline|; negative means lower (better for errors, gaps, MMD² and Silhouette; worse for AUC).',
          '',
          `| Method | ${relKeys.map(label).join(' | ')} |`,
          `|---|${relKeys.map(() => '---:').join('|')}|`,
          ...Object.entries(relative).map(([method, r]) => `| ${method} | ${relKeys.map((k) => (Number.isFinite(r[k]!) ? `${r[k]! >= 0 ? '+' : ''}${r[k]!.toFixed(1)}%` : 'n/a')).join(' | ')} |`),
          '',
        );
      }
      if (Object.keys(paired).length > 0) {
        md.push(
          `## Paired differences against ${p.baseline} (same seed)`,
          '',
          `method − ${p.baseline} on runs with the same seed (same split and initialisation): mean ± sample std over seeds, and on how many seeds the method was lower.`,
          '',
          `| Method | ${relKeys.map(label).join(' | ')} |`,
          `|---|${relKeys.map(() => '---:').join('|')}|`,
          ...Object.entries(paired).map(([method, r]) => `| ${method} | ${relKeys.map((k) => (r[k] ? `${r[k]!.mean >= 0 ? '+' : ''}${fmt(r[k]!.mean)} ± ${fmt(r[k]!.std)} (lower on ${r[k]!.lower}/${r[k]!.n})` : 'n/a')).join(' | ')} |`),
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
        'MAE per group; gap = max − min of the per-group MAEs (|MAE_a − MAE_b| for two groups); MMD² = unbiased RBF-kernel MMD² between groups’ embeddings (median-heuristic bandwidth, max over group pairs); Silhouette = scikit-learn silhouette of embeddings labelled by group (lower = less demographic clustering). See docs/fairness.md.',
        '',
      );
      if (warnings.length > 0) md.push('## Warnings', '', ...warnings.map((w) => `- ${w}`), '');

      const json = toJsonSafe({
        title: p.title,
        synthetic,
        task,
        baseline: p.baseline,
        methods: methods.map((method) => ({
          method,
          runs: runs.filter((r) => r.method === method).length,
          metrics: cells.get(method),
          relativeToBaselinePercent: relative[method] ?? null,
          pairedToBaseline: paired[method] ?? null,
        })),
        columns,
        projections,
        figures,
        warnings,
      });
      writeFileSync(join(ctx.workDir, 'report.md'), md.join('\n'));
      writeFileSync(join(ctx.workDir, 'report.json'), `${JSON.stringify(json, null, 2)}\n`);
      files['report.md'] = join(ctx.workDir, 'report.md');
      files['report.json'] = join(ctx.workDir, 'report.json');
      emit.log('info', `report.compare: ${methods.length} methods, ${figures.length} figures`);
      emit.artifact('report', artifact('report', { title: p.title, synthetic, methods, figures: figures.map((f) => f.name) } as JsonObject, {}, files));
    }),
};

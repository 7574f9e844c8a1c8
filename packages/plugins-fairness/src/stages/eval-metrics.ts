/**
 * `eval.metrics`: every metric of a predictions artifact on one split — task metrics overall
 * and per group (for regression also bias, Bland–Altman limits of agreement, subject-weighted
 * MAE, and MAE per group within bins of the true value and within activities), representation
 * metrics (MMD², Silhouette) of the optional embeddings, and subject-level bootstrap CIs of all
 * of them from the same replicates. Groups with fewer than `minSubjects` subjects are reported,
 * flagged, and left out of every gap.
 */
import {
  artifact,
  deriveSeed,
  FairtuneError,
  optionalInput,
  requireArray,
  requireInput,
  runAsync,
  type Artifact,
  type JsonObject,
  type MetricsMeta,
  type StagePlugin,
} from '@fairtune/core/plugin';
import { InvalidValueError, take } from '../metrics/common.js';
import type { SubjectResample } from '../metrics/bootstrap.js';
import { LOA_Z } from '../metrics/agreement.js';
import { binIndex, binLabels, categoryStrata, flattenStratified, stratifiedErrors, stratifiedJson, stratumGaps, type StratifiedErrors } from '../metrics/stratified.js';
import { evaluatePredictions } from '../metrics/evaluate.js';
import { RepresentationAnalysis, type RepresentationResult } from '../metrics/representation.js';
import { flattenRepresentation, toJsonSafe } from '../metrics/summary.js';
import { selectSplitRows } from './split.js';

export interface EvalMetricsParams {
  split: string | null;
  label?: string;
  trainedOn?: string;
  threshold: number;
  eceBins: number;
  bootstrap: { replicates: number; alpha: number };
  representation: { maxSamples: number; sigma: number | null };
  minSubjects: number;
  targetBins: number[];
  activity: { column: string; names: Record<string, string> };
}

/** PPG-DaLiA's activity ids (its readme, §II), the default names of `activity.names`. */
export const DALIA_ACTIVITY_NAMES: Readonly<Record<string, string>> = {
  '0': 'transient',
  '1': 'sitting',
  '2': 'stairs',
  '3': 'table soccer',
  '4': 'cycling',
  '5': 'driving',
  '6': 'lunch',
  '7': 'walking',
  '8': 'working',
};

/** A regression breakdown of the evaluated rows by strata (true-value bins or activities), with the cells allowed into each stratum's gap. */
interface Breakdown {
  readonly key: 'byTargetBin' | 'byActivity';
  readonly stratum: Float64Array;
  readonly names: readonly string[];
  readonly extra: JsonObject;
  readonly point: StratifiedErrors;
  readonly eligible: (group: number, stratum: number) => boolean;
}

/** Throws unless every present array among `names` has `n` elements, naming the artifact and array (`port`: the input it came through). */
function checkRows(a: Artifact, names: readonly string[], n: number, port: string): void {
  for (const name of names) {
    const arr = a.arrays[name];
    if (arr && (arr.data?.length ?? -1) !== n) {
      throw new FairtuneError('FT_ARRAY_MISSING', `${a.kind} artifact array "${name}" has ${arr.data?.length ?? 'no'} elements, expected ${n} (one per row)`, { port });
    }
  }
}

/**
 * The metric functions throw an InvalidValueError on values they cannot use (a non-finite target
 * or prediction, a classification target other than 0/1, a group id that is not an integer): here
 * the values are the predictions input's, so it is about that input's content (same message,
 * FT_INPUT_CONTENT). Every other error, a bug included, passes through unchanged.
 */
function predictionsContent(e: unknown): never {
  throw e instanceof InvalidValueError ? new FairtuneError('FT_INPUT_CONTENT', e.message, { port: 'predictions' }, { cause: e }) : e;
}

function representationJson(r: RepresentationResult, names: readonly string[], analysis: RepresentationAnalysis): JsonObject {
  return toJsonSafe({
    kernel: 'rbf',
    estimator: 'unbiased',
    sigma: analysis.sigma,
    bandwidth: 'see sigma; median heuristic unless representation.sigma was set',
    mmd2: r.mmd2,
    mmd2Mean: r.mmd2Mean,
    pairs: r.pairs.map((p) => ({ a: names[p.a] ?? String(p.a), b: names[p.b] ?? String(p.b), mmd2: p.mmd2 })),
    silhouette: r.silhouette,
    n: r.n,
    subsampled: analysis.subsampled,
  }) as JsonObject;
}

export const evalMetricsStage: StagePlugin<EvalMetricsParams> = {
  type: 'eval.metrics',
  // 4: bias, Bland–Altman limits, subject-weighted MAE, MAE by true-value bin and by activity, subjects per group, minSubjects.
  version: '4',
  description:
    'Regression or classification metrics overall and per group (regression: also bias, Bland–Altman limits of agreement, subject-weighted MAE, MAE by true-value bin and by activity), MMD² and Silhouette of embeddings, subject-level bootstrap CIs; groups below minSubjects are flagged and left out of gaps.',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      split: { type: ['string', 'null'], default: 'test', description: 'Split to evaluate (null = all rows).' },
      label: { type: 'string', minLength: 1, description: 'Row label in reports (default: the method recorded in the predictions, i.e. the training strategy).' },
      // No default, so existing stages keep their cache keys.
      trainedOn: {
        type: 'string',
        minLength: 1,
        description: 'The dataset the model was fine-tuned on (e.g. "mimic"): report.compare then treats the evaluation set as a source → target pair, keeps pairs apart and adds the transfer-matrix tables.',
      },
      threshold: { type: 'number', default: 0.5, description: 'Classification: ŷ = [p ≥ threshold].' },
      eceBins: { type: 'integer', minimum: 1, default: 15 },
      bootstrap: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          replicates: { type: 'integer', minimum: 0, default: 200, description: 'Bootstrap replicates resampling subjects (0 = no CIs).' },
          alpha: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.05 },
        },
      },
      representation: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          maxSamples: { type: 'integer', minimum: 2, default: 2000, description: 'Seeded subsample of embeddings for the O(n²) metrics.' },
          sigma: { type: ['number', 'null'], exclusiveMinimum: 0, default: null, description: 'RBF bandwidth; null = median heuristic.' },
        },
      },
      minSubjects: {
        type: 'integer',
        minimum: 1,
        default: 5,
        description:
          'A group with fewer subjects in the evaluated rows is reported but flagged (warning, smallGroups) and takes part in no gap; a gap left with fewer than two groups is null. Within a stratum (true-value bin, activity) a group needs this many subjects there to enter that stratum\'s gap.',
      },
      targetBins: {
        type: 'array',
        items: { type: 'number' },
        minItems: 1,
        default: [60, 80, 100, 120],
        description: 'Regression: increasing edges of the bins of the true target (bpm for heart rate): <60, 60–80, 80–100, 100–120, ≥120; lower edge inclusive.',
      },
      activity: {
        type: 'object',
        additionalProperties: false,
        default: {},
        description: 'Regression: MAE per group within each activity, when the predictions carry the label as array aux/<column>.',
        properties: {
          column: { type: 'string', minLength: 1, default: 'activity', description: 'Label name (predictions array aux/<column>).' },
          names: {
            type: 'object',
            additionalProperties: { type: 'string' },
            default: DALIA_ACTIVITY_NAMES,
            description: "Code → name (default: PPG-DaLiA's activity ids); unnamed codes are shown as numbers.",
          },
        },
      },
    },
  },
  inputs: {
    predictions: { kind: 'predictions', description: 'yTrue, yPred, subject, group, split arrays; optional aux/<label> arrays (e.g. aux/activity).' },
    embeddings: { kind: 'embeddings', optional: true, description: 'z [N, D] with subject, group, split for MMD² and Silhouette.' },
  },
  outputs: { metrics: { kind: 'metrics' } },
  run: (ctx) =>
    runAsync(ctx.signal, async (emit) => {
      const p = ctx.params;
      const pred = requireInput(ctx.inputs, 'predictions', 'predictions');
      const meta = pred.meta;
      const warnings: string[] = [];
      const nPred = requireArray(pred, 'yTrue').data.length;
      checkRows(pred, ['yPred', 'subject', 'group', 'split'], nPred, 'predictions');
      const rows = selectSplitRows(pred, meta.splits, nPred, p.split, undefined, 'predictions');
      const yTrue = take(requireArray(pred, 'yTrue').data, rows);
      const yPred = take(requireArray(pred, 'yPred').data, rows);
      const subject = take(requireArray(pred, 'subject').data, rows);
      const groupNames = meta.groups?.names ?? [];
      const groupArr = pred.arrays['group'];
      if (!groupArr) warnings.push('predictions artifact has no "group" array: no per-group metrics');
      const group = groupArr ? take(groupArr.data, rows) : new Float64Array(rows.length).fill(-1);

      // Small groups: reported, flagged, and left out of every gap.
      const subjectsOf = new Map<number, Set<number>>();
      group.forEach((g, i) => {
        if (g < 0) return;
        let set = subjectsOf.get(g);
        if (!set) subjectsOf.set(g, (set = new Set()));
        set.add(subject[i]!);
      });
      const nameOf = (g: number) => groupNames[g] ?? String(g);
      const groupIds = [...subjectsOf.keys()].sort((a, b) => a - b);
      const small = groupIds.filter((g) => subjectsOf.get(g)!.size < p.minSubjects);
      const gapGroups = small.length > 0 ? new Set(groupIds.filter((g) => !small.includes(g))) : undefined;
      let gapNote: string | null = null;
      for (const g of small) {
        warnings.push(`group "${nameOf(g)}" has ${subjectsOf.get(g)!.size} subject(s) in the evaluated rows, fewer than minSubjects = ${p.minSubjects}: its metrics are reported but it takes part in no gap`);
      }
      if (gapGroups && gapGroups.size < 2) {
        gapNote = `no gap reported (null): ${gapGroups.size === 0 ? 'no group has' : 'only one group has'} at least ${p.minSubjects} subjects (${groupIds.map((g) => `${nameOf(g)}: ${subjectsOf.get(g)!.size}`).join(', ')})`;
        warnings.push(gapNote);
      } else if (gapGroups) {
        gapNote = `gaps are over ${[...gapGroups].map(nameOf).join(', ')} only (${small.map(nameOf).join(', ')} below minSubjects = ${p.minSubjects})`;
      }
      const taskWarningsAt = warnings.length;
      const task = { task: meta.task, yTrue, yPred, group, groupNames, threshold: p.threshold, eceBins: p.eceBins, subject, ...(gapGroups ? { gapGroups } : {}) };

      // Regression breakdowns: per group within bins of the true value, and within activities
      // when the predictions carry the label. Which cells enter a stratum's gap is fixed on the
      // evaluated rows and kept in the bootstrap replicates.
      const breakdowns: Breakdown[] = [];
      if (meta.task === 'regression') {
        const eligibleCells = (point: StratifiedErrors) => {
          const ok = new Set<string>();
          for (const [g, cells] of point.groups) cells.forEach((c, k) => (!gapGroups || gapGroups.has(g)) && c.subjects >= p.minSubjects && ok.add(`${g}:${k}`));
          return (g: number, k: number) => ok.has(`${g}:${k}`);
        };
        const add = (key: Breakdown['key'], stratum: Float64Array, names: readonly string[], extra: JsonObject) => {
          let point: StratifiedErrors;
          try {
            point = stratifiedErrors(yTrue, yPred, stratum, names, group, subject);
          } catch (e) {
            predictionsContent(e);
          }
          breakdowns.push({ key, stratum, names, extra, point, eligible: eligibleCells(point) });
        };
        const edges = p.targetBins;
        edges.forEach((e, k) => {
          if (k > 0 && !(e > edges[k - 1]!)) throw new FairtuneError('FT_PARAM_INVALID', `targetBins must increase strictly, got [${edges.join(', ')}]`, { param: 'targetBins' });
        });
        add('byTargetBin', Float64Array.from(binIndex(yTrue, edges)), binLabels(edges), { edges: [...edges], units: meta.target?.units ?? null, binOf: 'true value; lower edge inclusive' });
        const auxName = `aux/${p.activity.column}`;
        const auxArr = pred.arrays[auxName];
        if (auxArr) {
          checkRows(pred, [auxName], nPred, 'predictions');
          const cs = categoryStrata(take(auxArr.data, rows), p.activity.names);
          add('byActivity', Float64Array.from(cs.stratum), cs.names, { column: p.activity.column, codes: cs.codes });
        } else {
          emit.log('info', `no "${auxName}" array in the predictions: no MAE by ${p.activity.column}`);
        }
      }
      const flattenBreakdowns = (rep: SubjectResample): Record<string, number> => {
        const out: Record<string, number> = {};
        for (const b of breakdowns) {
          const s = stratifiedErrors(take(yTrue, rep.samples), take(yPred, rep.samples), take(b.stratum, rep.samples), b.names, take(group, rep.samples), rep.draws);
          Object.assign(out, flattenStratified(b.key, s, stratumGaps(s, b.eligible), groupNames));
        }
        return out;
      };

      // Representation metrics on the embeddings of the same split; subjects are matched by name.
      let analysis: RepresentationAnalysis | undefined;
      let repPoint: RepresentationResult | undefined;
      const positionsOf = new Map<number, number[]>();
      const emb = optionalInput(ctx.inputs, 'embeddings', 'embeddings');
      if (emb) {
        const emeta = emb.meta;
        const z = requireArray(emb, 'z');
        if (z.shape.length !== 2) throw new FairtuneError('FT_ARRAY_MISSING', `embeddings artifact array "z" has shape [${z.shape.join(', ')}], expected [N, D]`, { port: 'embeddings' });
        checkRows(emb, ['subject', 'group', 'split'], z.shape[0]!, 'embeddings');
        const erows = selectSplitRows(emb, emeta.splits, z.shape[0]!, p.split, undefined, 'embeddings');
        const D = z.shape[1]!;
        const zSel = new Float64Array(erows.length * D);
        erows.forEach((r, k) => zSel.set(z.data.subarray(r * D, (r + 1) * D) as ArrayLike<number>, k * D));
        const eg = take(requireArray(emb, 'group').data, erows);
        const es = take(requireArray(emb, 'subject').data, erows);
        analysis = new RepresentationAnalysis({ data: zSel, rows: erows.length, dim: D }, eg, {
          maxSamples: p.representation.maxSamples,
          sigma: p.representation.sigma ?? undefined,
          seed: deriveSeed(ctx.seed, 'representation-subsample'),
        });
        repPoint = analysis.compute();
        warnings.push(...repPoint.warnings);
        const predSubject = new Map(meta.subjects.map((s, i) => [s, i]));
        analysis.rows.forEach((row, pos) => {
          const name = emeta.subjects[es[row]!];
          const sid = name === undefined ? undefined : predSubject.get(name);
          if (sid === undefined) return;
          let list = positionsOf.get(sid);
          if (!list) positionsOf.set(sid, (list = []));
          list.push(pos);
        });
        if (positionsOf.size === 0 && analysis.rows.length > 0) warnings.push('no embedding subject matches a prediction subject: representation metrics get no bootstrap CIs');
      }

      const repAnalysis = analysis;
      // Task metrics and their subject-level CIs; the representation metrics ride on the same
      // bootstrap replicates through `replicateMetrics`.
      const point = await evaluatePredictions(task, {
        subject,
        ...(p.bootstrap.replicates > 0
          ? {
              bootstrap: {
                replicates: p.bootstrap.replicates,
                alpha: p.bootstrap.alpha,
                seed: deriveSeed(ctx.seed, 'bootstrap'),
                onReplicate: async (done: number, total: number) => {
                  if (done % 10 === 0 || done === total) {
                    emit.progress(done, total, 'bootstrap', 'replicates');
                    await emit.checkpoint();
                  }
                },
              },
            }
          : {}),
        ...(breakdowns.length > 0 || (repAnalysis && positionsOf.size > 0)
          ? {
              replicateMetrics: (rep: SubjectResample) => ({
                ...flattenBreakdowns(rep),
                ...(repAnalysis && positionsOf.size > 0 ? flattenRepresentation(repAnalysis.compute(Array.from(rep.subjects).flatMap((s) => positionsOf.get(s) ?? []))) : {}),
              }),
            }
          : {}),
      }).catch(predictionsContent);
      warnings.splice(taskWarningsAt, 0, ...point.warnings);
      const ci: JsonObject | undefined = point.ci
        ? (toJsonSafe({
            level: 1 - p.bootstrap.alpha,
            method: 'percentile',
            unit: 'subject',
            stratified: 'by group signature',
            replicates: p.bootstrap.replicates,
            subjects: new Set(subject).size,
            intervals: point.ci,
          }) as JsonObject)
        : undefined;

      for (const [k, v] of Object.entries(point.overall)) if (Number.isFinite(v)) emit.metric(k, v);
      if (repPoint && Number.isFinite(repPoint.mmd2)) emit.metric('mmd2', repPoint.mmd2);
      if (repPoint && Number.isFinite(repPoint.silhouette)) emit.metric('silhouette', repPoint.silhouette);
      for (const w of warnings) emit.log('warn', w);

      const out = toJsonSafe({
        method: ctx.params.label ?? meta.method ?? null,
        dataset: meta.dataset,
        ...(ctx.params.trainedOn ? { trainedOn: ctx.params.trainedOn } : {}),
        synthetic: meta.synthetic,
        task: meta.task,
        target: meta.target,
        split: p.split,
        // The stage seed: runs of two methods with the same seed share split and initialisation, so reports can pair them.
        seed: ctx.seed,
        n: rows.length,
        subjects: new Set(subject).size,
        groupAttributes: meta.groups?.attributes ?? [],
        groupNames: [...groupNames],
        ...(meta.task === 'classification' ? { threshold: p.threshold, eceBins: p.eceBins } : {}),
        overall: point.overall,
        groups: point.groups,
        minSubjects: p.minSubjects,
        smallGroups: small.map((g) => ({ group: nameOf(g), subjects: subjectsOf.get(g)!.size })),
        gapGroups: (gapGroups ? [...gapGroups] : groupIds).map(nameOf),
        gapNote,
        ...(meta.task === 'regression'
          ? { agreement: { difference: 'prediction − reference (ŷ − y)', sd: 'sample SD, ddof = 1', z: LOA_Z, limits: 'bias ± z·sd' } }
          : {}),
        ...Object.fromEntries(breakdowns.map((b) => [b.key, { ...b.extra, ...stratifiedJson(b.point, stratumGaps(b.point, b.eligible), groupNames) }])),
        ...(repPoint && analysis ? { representation: representationJson(repPoint, groupNames, analysis) } : {}),
        ...(ci ? { ci } : {}),
        warnings,
      }) as MetricsMeta;
      emit.artifact('metrics', artifact('metrics', out));
    }),
};

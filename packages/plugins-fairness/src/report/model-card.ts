/**
 * A short model card (after Mitchell et al. 2019, "Model Cards for Model Reporting") of one
 * trained model: what it is, how it was trained (method and its params), on which data and
 * groups (sizes per split), its metrics with CIs on every evaluation (overall, per group, by
 * true-value bin and by activity), whether the data were synthetic, the intended use and the
 * known limits. Built from the model artifact's meta, the eval.metrics outputs, and optionally
 * the fine-tune's predictions (every split: group sizes). `report.model-card` writes it as
 * model-card.md and model-card.json.
 */
import type { GroupsMeta, InputSpec, JsonObject, JsonValue, MetricsMeta, ModelMeta, PredictionsMeta, StratifiedMetrics } from '@fairtune/core/plugin';

/** Subjects and windows of one split, overall and per group. */
export interface SplitSize {
  subjects: number;
  windows: number;
  groups: Record<string, { subjects: number; windows: number }>;
}

export interface ModelCardInput {
  readonly title?: string;
  readonly model: ModelMeta;
  readonly metrics: readonly MetricsMeta[];
  /** The fine-tune's predictions on every split (for the data section). */
  readonly training?: { meta: PredictionsMeta; sizes: Record<string, SplitSize> };
  readonly intendedUse: string;
  readonly limitations: readonly string[];
}

/** A value with its CI, as the card writes it. */
interface Valued {
  value: number | null;
  lo?: number | null;
  hi?: number | null;
}

interface CardStrataJson {
  strata: string[];
  /** group → stratum → MAE and subjects of the cell */
  mae: Record<string, Record<string, { mae: number | null; subjects: number }>>;
  maeGap: Record<string, number | null>;
}

export interface CardEvaluation {
  label: string | null;
  evaluatedOn: string;
  dataset: string | null;
  synthetic: boolean | null;
  split: string | null;
  windows: number | null;
  subjects: number | null;
  ciLevel: number | null;
  ciReplicates: number | null;
  metrics: Record<string, Valued>;
  groups: Record<string, { windows: number | null; subjects: number | null; [metric: string]: Valued | number | null }>;
  minSubjects: number | null;
  smallGroups: { group: string; subjects: number }[];
  gapNote: string | null;
  byTargetBin: (CardStrataJson & { edges: number[] | null; units: string | null }) | null;
  byActivity: CardStrataJson | null;
}

/** `model-card.json`. */
export interface ModelCard {
  schema: 'fairtune-model-card/1';
  title: string;
  synthetic: boolean;
  model: { architecture: string; task: string; target: { name: string; units?: string } | null; parameters: number; trainableParameters: number | null; config: JsonValue; input: InputSpec };
  method: { name: string; training: JsonObject | null; bestEpoch: number | null; strategyState: JsonValue };
  data: { dataset: string; synthetic: boolean; splits: Record<string, SplitSize> } | null;
  groups: GroupsMeta | null;
  evaluations: CardEvaluation[];
  intendedUse: string;
  limitations: string[];
}

/** Subjects and windows per split and group, from a predictions artifact's subject, group and split arrays. */
export function splitSizes(meta: PredictionsMeta, subject: ArrayLike<number>, group: ArrayLike<number> | undefined, split: ArrayLike<number> | undefined): Record<string, SplitSize> {
  const names = meta.groups?.names ?? [];
  const out: Record<string, { subjects: Set<number>; windows: number; groups: Map<string, { subjects: Set<number>; windows: number }> }> = {};
  for (let i = 0; i < subject.length; i++) {
    const sp = split ? (meta.splits?.[split[i]!] ?? 'unassigned') : 'all';
    const s = (out[sp] ??= { subjects: new Set(), windows: 0, groups: new Map() });
    s.subjects.add(subject[i]!);
    s.windows++;
    const g = group ? group[i]! : -1;
    const gname = g >= 0 ? (names[g] ?? String(g)) : 'unknown';
    let gs = s.groups.get(gname);
    if (!gs) s.groups.set(gname, (gs = { subjects: new Set(), windows: 0 }));
    gs.subjects.add(subject[i]!);
    gs.windows++;
  }
  const order = [...(meta.splits ?? []), 'unassigned', 'all'];
  const groupOrder = (g: string) => (g === 'unknown' ? names.length : names.indexOf(g) >= 0 ? names.indexOf(g) : names.length - 0.5);
  return Object.fromEntries(
    Object.entries(out)
      .sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0]))
      .map(([sp, s]) => [
        sp,
        {
          subjects: s.subjects.size,
          windows: s.windows,
          groups: Object.fromEntries([...s.groups].sort((a, b) => groupOrder(a[0]) - groupOrder(b[0])).map(([g, v]) => [g, { subjects: v.subjects.size, windows: v.windows }])),
        },
      ]),
  );
}

const REGRESSION_KEYS = ['mae', 'rmse', 'bias', 'loaLower', 'loaUpper', 'subjectMae', 'maeGap', 'subjectMaeGap', 'worstGroupMae'] as const;
const CLASSIFICATION_KEYS = ['auc', 'minAuc', 'aucGap', 'accuracy', 'equalizedOddsDifference', 'demographicParityDifference', 'ece'] as const;
const GROUP_KEYS = { regression: ['mae', 'bias', 'loaLower', 'loaUpper', 'subjectMae'], classification: ['auc', 'accuracy', 'tpr', 'fpr', 'selectionRate'] } as const;

/** Shorter labels in the per-group table. */
const GROUP_LABEL: Record<string, string> = { bias: 'Bias', loaLower: 'LoA lower', loaUpper: 'LoA upper', tpr: 'TPR', fpr: 'FPR', selectionRate: 'Selection rate' };

const LABEL: Record<string, string> = {
  mae: 'MAE',
  rmse: 'RMSE',
  bias: 'Bias (mean of prediction − reference)',
  loaLower: 'Lower 95 % limit of agreement',
  loaUpper: 'Upper 95 % limit of agreement',
  subjectMae: 'Subject-weighted MAE',
  maeGap: 'Gap (max − min group MAE)',
  subjectMaeGap: 'Gap of subject-weighted MAE',
  worstGroupMae: 'Worst-group MAE',
  auc: 'AUC',
  minAuc: 'Worst-group AUC',
  aucGap: 'AUC gap',
  accuracy: 'Accuracy',
  equalizedOddsDifference: 'Equalized-odds difference',
  demographicParityDifference: 'Demographic-parity difference',
  ece: 'ECE',
  'representation.mmd2': 'MMD² between groups (embeddings)',
  'representation.silhouette': 'Silhouette by group (embeddings)',
};

function valued(m: MetricsMeta, flatKey: string, value: number | null | undefined): Valued {
  const ci = m.ci?.intervals?.[flatKey];
  return { value: typeof value === 'number' ? value : null, ...(ci ? { lo: ci.lo, hi: ci.hi } : {}) };
}

function fmt(v: number | null | undefined, digits = 2): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return 'n/a';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return v.toFixed(digits);
}

function valuedText(v: Valued | undefined): string {
  if (!v || v.value === null) return 'n/a';
  return typeof v.lo === 'number' && typeof v.hi === 'number' ? `${fmt(v.value)} [${fmt(v.lo)}, ${fmt(v.hi)}]` : fmt(v.value);
}

/** A Markdown table cell: intersectional group names such as `female|>50` contain the column separator. */
const cell = (text: string) => text.replace(/\|/g, '\\|');

function evaluationName(m: MetricsMeta): string {
  return `${m.dataset ?? '?'} ${m.split ? `${m.split} split` : 'all samples'}`;
}

function describeProcessing(spec: InputSpec): string {
  const steps = (spec.processing ?? []).map((s) => (s.op === 'bandpass' ? `band-pass ${s.low}–${s.high} Hz (Butterworth order ${s.order}, zero-phase)` : `resampled to ${s.fs} Hz`));
  return steps.length ? steps.join(', then ') : 'none recorded';
}

function describeGroups(g: GroupsMeta | undefined): string {
  if (!g) return 'none (no group attribute)';
  const attrs = g.attributes.map((a) => (a === 'age' && g.ageThreshold !== undefined ? `age (≤${g.ageThreshold} / >${g.ageThreshold} years)` : a)).join(' × ');
  return `${attrs}: ${g.names.join(', ')}`;
}

/** The card as a JSON object (`model-card.json`); undefined numbers are null. */
export function buildModelCard(input: ModelCardInput): ModelCard {
  const m = input.model;
  const training = input.training;
  const synthetic = Boolean(training?.meta.synthetic) || input.metrics.some((x) => x.synthetic === true);
  const task = m.task ?? input.metrics[0]?.task ?? 'regression';
  const method = m.method ?? training?.meta.method ?? input.metrics[0]?.method ?? 'unknown';
  const evaluations = input.metrics.map((x): CardEvaluation => {
    const keys = task === 'classification' ? CLASSIFICATION_KEYS : REGRESSION_KEYS;
    const metrics: Record<string, Valued> = {};
    for (const k of keys) if (x.overall && k in x.overall) metrics[k] = valued(x, `overall.${k}`, x.overall[k]);
    if (x.representation) {
      metrics['representation.mmd2'] = valued(x, 'representation.mmd2', x.representation.mmd2);
      metrics['representation.silhouette'] = valued(x, 'representation.silhouette', x.representation.silhouette);
    }
    const groups = Object.fromEntries(
      Object.entries(x.groups ?? {}).map(([g, v]) => [
        g,
        {
          windows: v['n'] ?? null,
          subjects: v['subjects'] ?? null,
          ...Object.fromEntries(GROUP_KEYS[task].filter((k) => k in v).map((k) => [k, valued(x, `groups.${g}.${k}`, v[k])])),
        },
      ]),
    );
    const strata = (s: StratifiedMetrics | undefined): CardStrataJson | null =>
      s ? { strata: [...s.strata], mae: Object.fromEntries(Object.entries(s.groups).map(([g, cells]) => [g, Object.fromEntries(s.strata.map((k) => [k, { mae: cells[k]?.mae ?? null, subjects: cells[k]?.subjects ?? 0 }]))])), maeGap: s.maeGap } : null;
    return {
      label: x.method ?? null,
      evaluatedOn: evaluationName(x),
      dataset: x.dataset ?? null,
      synthetic: x.synthetic ?? null,
      split: x.split ?? null,
      windows: x.n ?? null,
      subjects: x.subjects ?? null,
      ciLevel: x.ci?.level ?? null,
      ciReplicates: x.ci?.replicates ?? null,
      metrics,
      groups,
      minSubjects: x.minSubjects ?? null,
      smallGroups: (x.smallGroups ?? []).map((g) => ({ ...g })),
      gapNote: x.gapNote ?? null,
      byTargetBin: x.byTargetBin ? { edges: x.byTargetBin.edges ? [...x.byTargetBin.edges] : null, units: x.byTargetBin.units ?? null, ...strata(x.byTargetBin)! } : null,
      byActivity: strata(x.byActivity),
    };
  });
  const card: ModelCard = {
      schema: 'fairtune-model-card/1',
      title: input.title ?? `Model card: ${method}`,
      synthetic,
      model: {
        architecture: m.architecture,
        task,
        target: m.target ?? training?.meta.target ?? null,
        parameters: m.parameterCount,
        trainableParameters: m.trainableParameterCount ?? null,
        config: m.config,
        input: m.inputSpec,
      },
      method: { name: method, training: m.training ?? null, bestEpoch: m.bestEpoch ?? null, strategyState: m.strategyState ?? null },
      data: training ? { dataset: training.meta.dataset, synthetic: training.meta.synthetic, splits: training.sizes } : null,
      groups: m.groups ?? training?.meta.groups ?? null,
      evaluations,
      intendedUse: input.intendedUse,
      limitations: limitations(input, task, synthetic),
  };
  return JSON.parse(JSON.stringify(card, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))) as ModelCard;
}

/** Known limits, derived from the inputs, then the author's own. */
function limitations(input: ModelCardInput, task: string, synthetic: boolean): string[] {
  const out: string[] = [];
  if (synthetic) {
    out.push('Synthetic data: the model was trained and/or evaluated on a synthetic cohort written in the datasets\' formats; its figures describe the generator\'s population, not people, and say nothing about clinical performance.');
  }
  for (const x of input.metrics) {
    for (const g of x.smallGroups ?? []) {
      out.push(`${evaluationName(x)}: group ${g.group} has ${g.subjects} subject(s), fewer than minSubjects = ${x.minSubjects}; its metrics are imprecise and it is left out of every gap.`);
    }
    if (x.gapNote && /no gap reported/.test(x.gapNote)) out.push(`${evaluationName(x)}: ${x.gapNote}.`);
    if (typeof x.subjects === 'number' && x.subjects < 30) {
      out.push(`${evaluationName(x)}: ${x.subjects} subjects; CIs are percentile bootstraps over subjects and are wide (and may under-cover) with so few.`);
    }
    if (task === 'regression' && x.byActivity === undefined) out.push(`${evaluationName(x)}: no activity labels, so no error by activity.`);
  }
  const g = input.model.groups ?? input.training?.meta.groups;
  if (g) {
    const notes = [];
    if (g.attributes.includes('sex')) notes.push('sex is recorded as binary');
    if (g.attributes.includes('age')) notes.push(`age is binarised at ${g.ageThreshold ?? '?'} years`);
    out.push(`Groups: ${notes.length ? `${notes.join('; ')}; ` : ''}other attributes (skin tone, ethnicity, health status) were not evaluated.`);
  }
  const train = input.training?.sizes['train'];
  const known = Object.entries(train?.groups ?? {}).filter(([name]) => name !== 'unknown');
  const counts = known.map(([, v]) => v.subjects);
  if (train && known.length > 1 && Math.max(...counts) >= 1.5 * Math.min(...counts)) {
    out.push(`Training subjects are imbalanced across groups: ${known.map(([name, v]) => `${name} ${Math.round((100 * v.subjects) / train.subjects)} %`).join(', ')} (of ${train.subjects}).`);
  }
  if (task === 'regression') {
    out.push('Limits of agreement treat windows as independent; windows of one subject are correlated (and overlap), so the limits describe windows, while their CIs resample subjects.');
  }
  return [...out, ...input.limitations];
}

/** The card as Markdown (`model-card.md`). */
export function modelCardMarkdown(c: ModelCard): string {
  const units = c.model.target?.units ? ` ${c.model.target.units}` : '';
  const md: string[] = [`# ${c.title}`, ''];
  if (c.synthetic) md.push('> **Synthetic data.** Trained and/or evaluated on a synthetic cohort: the figures below describe the generator, not people.', '');
  const cfg = (c.model.config ?? {}) as Record<string, JsonValue>;
  md.push(
    '## Model',
    '',
    `- ${c.model.architecture}${typeof cfg['preset'] === 'string' ? ` (preset ${cfg['preset']})` : ''}: ${c.model.parameters.toLocaleString('en-US')} parameters${c.model.trainableParameters !== null ? `, ${c.model.trainableParameters.toLocaleString('en-US')} trained in fine-tuning` : ''}.`,
    `- Task: ${c.model.task}${c.model.target ? ` of ${c.model.target.name}${units ? ` (${units.trim()})` : ''}` : ''}.`,
    `- Input: ${c.model.input.length} samples at ${c.model.input.fs ?? '?'} Hz${c.model.input.fs ? ` (${fmt(c.model.input.length / c.model.input.fs, 0)} s)` : ''} of ${(c.model.input.signals ?? ['the signal']).join(', ')}; processing: ${describeProcessing(c.model.input)}.`,
    '',
    '## Method',
    '',
    `- Training strategy: **${c.method.name}**${c.method.training?.['strategy'] ? `, params ${JSON.stringify((c.method.training['strategy'] as { params?: JsonValue }).params ?? {})}` : ''}.`,
  );
  if (c.method.training) {
    const t = c.method.training;
    const pick = ['epochs', 'batchSize', 'learningRate', 'optimizer', 'weightDecay', 'warmupSteps', 'auxWeight', 'pooling', 'mask', 'patience', 'seed'].filter((k) => t[k] !== undefined);
    md.push(`- Settings: ${pick.map((k) => `${k} ${JSON.stringify(t[k])}`).join(', ')}${c.method.bestEpoch !== null ? `; best validation epoch ${c.method.bestEpoch}` : ''}.`);
  } else {
    md.push('- Settings: not recorded in the model (trained before train.finetune version 5).');
  }
  md.push('', '## Data and groups', '');
  md.push(`- Groups: ${describeGroups(c.groups ?? undefined)}.`);
  if (c.data) {
    md.push(`- Trained on ${c.data.dataset} (${c.data.synthetic ? 'synthetic' : 'real'} data). Subjects (windows) per split and group:`, '');
    const groupNames = [...new Set(Object.values(c.data.splits).flatMap((s) => Object.keys(s.groups)))];
    md.push(`| split | all | ${groupNames.map(cell).join(' | ')} |`, `|---|---:|${groupNames.map(() => '---:').join('|')}|`);
    for (const [sp, s] of Object.entries(c.data.splits)) {
      md.push(`| ${sp} | ${s.subjects} (${s.windows}) | ${groupNames.map((g) => (s.groups[g] ? `${s.groups[g]!.subjects} (${s.groups[g]!.windows})` : '0')).join(' | ')} |`);
    }
  } else {
    md.push('- Training data sizes: not available (connect the fine-tune\'s predictions to the `predictions` input).');
  }
  md.push('');
  for (const e of c.evaluations) {
    md.push(`## Evaluation: ${e.evaluatedOn}${e.label ? ` (${e.label})` : ''}`, '');
    md.push(
      `${e.synthetic ? 'Synthetic' : 'Real'} data, ${e.windows ?? '?'} windows of ${e.subjects ?? '?'} subjects.` +
        (e.ciLevel !== null ? ` Brackets: ${Math.round(100 * e.ciLevel)} % percentile bootstrap CI resampling subjects (B = ${e.ciReplicates ?? '?'}).` : ' No CIs (bootstrap off).'),
      '',
    );
    md.push('| metric | value |', '|---|---:|');
    for (const [k, v] of Object.entries(e.metrics)) md.push(`| ${LABEL[k] ?? k} | ${valuedText(v)} |`);
    md.push('');
    if (e.gapNote) md.push(`Gaps: ${e.gapNote}.`, '');
    const gkeys = c.model.task === 'classification' ? GROUP_KEYS.classification : GROUP_KEYS.regression;
    const groupNames = Object.keys(e.groups);
    if (groupNames.length) {
      md.push(`| group | subjects | windows | ${gkeys.map((k) => GROUP_LABEL[k] ?? LABEL[k] ?? k).join(' | ')} |`, `|---|---:|---:|${gkeys.map(() => '---:').join('|')}|`);
      for (const g of groupNames) {
        const v = e.groups[g]!;
        md.push(`| ${cell(g)} | ${v.subjects ?? '?'} | ${v.windows ?? '?'} | ${gkeys.map((k) => valuedText(v[k] as Valued | undefined)).join(' | ')} |`);
      }
      md.push('');
      if (c.model.task !== 'classification') md.push('Bias = mean of prediction − reference; LoA = Bland–Altman 95 % limits of agreement, bias ± 1.96·SD (SD with ddof 1); subject-weighted MAE = mean over subjects of each subject\'s MAE.', '');
    }
    for (const [title, s] of [
      [`MAE by true ${c.model.target?.name ?? 'value'}${units ? ` (${units.trim()})` : ''}`, e.byTargetBin],
      ['MAE by activity', e.byActivity],
    ] as const) {
      if (!s || groupNames.length === 0) continue;
      md.push(`${title}, per group (subjects in the cell); gap over groups with at least minSubjects subjects in the cell:`, '');
      md.push(`| stratum | ${groupNames.map(cell).join(' | ')} | gap |`, `|---|${groupNames.map(() => '---:').join('|')}|---:|`);
      for (const k of s.strata) {
        md.push(`| ${cell(k)} | ${groupNames.map((g) => { const c = s.mae[g]?.[k]; return c && c.subjects > 0 ? `${fmt(c.mae)} (${c.subjects})` : '–'; }).join(' | ')} | ${fmt(s.maeGap[k])} |`);
      }
      md.push('');
    }
  }
  md.push('## Intended use', '', c.intendedUse, '', '## Known limits', '', ...c.limitations.map((l) => `- ${l}`), '');
  return md.join('\n');
}

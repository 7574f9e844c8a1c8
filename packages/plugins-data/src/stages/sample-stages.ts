/** preprocess.quality, split.subjects and groups.attributes: samples → samples. */
import { injectable } from 'inversify';
import { FairtuneError, Rng, artifact, groupValue, ndarray, requireInput, runAsync, subjectGroups, type AttributeValue, type NdArray, type QualityChecks, type SamplesMeta, type StageContext, type StagePlugin } from '@fairtune/core/plugin';
import { compactSubjects, filterSamples, qualityMask } from '@fairtune/signal';
import { prefixedError } from '../errors.js';

export interface QualityParams {
  useQualityFlag: boolean;
  maxFlatFraction: number;
  maxClippingFraction: number;
  targetRange: [number, number];
}

@injectable()
export class QualityStage implements StagePlugin<QualityParams> {
  readonly type = 'preprocess.quality';
  readonly version = '2';
  readonly description = 'Drops windows that fail quality checks: dataset quality flag (BUT-PPG Quality = 0), flat lines, clipping, implausible targets.';
  readonly paramsSchema = {
    type: 'object',
    additionalProperties: false,
    properties: {
      useQualityFlag: { type: 'boolean', default: true, description: "Drop windows whose 'aux/quality' label is 0 (when present)." },
      maxFlatFraction: { type: 'number', minimum: 0, maximum: 1, default: 0.25 },
      maxClippingFraction: { type: 'number', minimum: 0, maximum: 1, default: 0.2 },
      targetRange: { type: 'array', items: { type: 'number' }, minItems: 2, maxItems: 2, default: [30, 220], description: 'Plausible target range (HR bpm).' },
    },
  };
  readonly inputs = { samples: { kind: 'samples' } };
  readonly outputs = { samples: { kind: 'samples' } };
  run(ctx: StageContext<QualityParams>) {
    return runAsync(ctx.signal, async (emit) => {
      const p = ctx.params;
      const input = requireInput(ctx.inputs, 'samples', 'samples');
      const checks: QualityChecks = { useQualityFlag: p.useQualityFlag, maxFlatFraction: p.maxFlatFraction, maxClippingFraction: p.maxClippingFraction, targetRange: p.targetRange };
      const { keep, kept, dropped } = qualityMask(input.arrays, checks);
      const n = keep.length;
      emit.log('info', `quality: kept ${kept}/${n} windows (dropped: flag ${dropped.flag}, flat ${dropped.flat}, clipping ${dropped.clipping}, target ${dropped.target})`);
      emit.metric('quality.kept', kept);
      emit.metric('quality.dropped', n - kept);
      if (kept === 0) throw new FairtuneError('FT_INPUT_CONTENT', `preprocess.quality dropped all ${n} windows`, { port: 'samples' });
      // The checks travel with the samples (and into models trained on them), so eval.predict can apply them to another dataset.
      const out = compactSubjects({ ...input.meta, quality: checks }, filterSamples(input.arrays, keep));
      if (out.removed.length) emit.log('warn', `quality: ${out.removed.length} subject(s) lost every window and leave the samples: ${out.removed.join(', ')}`);
      emit.artifact('samples', artifact('samples', out.meta, out.arrays));
    });
  }
}

export interface SplitParams {
  train: number;
  validation: number;
  test: number;
  /**
   * A subject attribute, or several stratified jointly (e.g. ["label", "skinType"]; "label" is
   * the subject's binary target). With a list, `attr` passed to assignSubjectSplits holds the
   * joint stratum keys (subjectStrata).
   */
  stratifyBy: string | readonly string[] | null;
  folds?: number;
  fold?: number;
  seed?: number;
  groupShare?: { value: string; train: number };
  ageThreshold?: number;
}

/**
 * Assigns subjects (not windows) to splits. Subjects are shuffled (seeded) within each stratum
 * of the sensitive attribute and allocated in proportion to the stratum sizes.
 * With `folds` = K: fold k's subjects are the test split, fold (k+1) mod K validation (when
 * validation > 0), the rest train. `groupShare` then under-represents one stratum in training.
 */
export function assignSubjectSplits(attr: readonly AttributeValue[], p: SplitParams, seed: number): Int8Array {
  const split = dealSubjectSplits(attr, p, seed);
  if (p.groupShare) underRepresent(split, attr, p.groupShare, p.stratifyBy);
  return split;
}

/**
 * A controlled group imbalance for fairness experiments (the situation inverse-frequency
 * weighting is meant to correct): keeps at most `train` of the training subjects in the stratum
 * `value` and moves the rest of that stratum's training subjects, last dealt first, to the test
 * split, where they add to the evaluation of the under-represented group. At least one subject of
 * the stratum stays in training so the group still exists there.
 */
function underRepresent(split: Int8Array, attr: readonly AttributeValue[], share: { value: string; train: number }, by: string | readonly string[] | null): void {
  if (by === null) throw new FairtuneError('FT_PARAM_INVALID', 'split.subjects: groupShare needs stratifyBy (the attribute whose value it under-represents)', { param: 'groupShare' });
  if (!(share.train > 0 && share.train < 1)) throw new FairtuneError('FT_PARAM_INVALID', `split.subjects: groupShare.train must be in (0, 1), got ${share.train}`, { param: 'groupShare.train' });
  const inTrain = [...split.keys()].filter((s) => split[s] === 0);
  const members = inTrain.filter((s) => String(attr[s]) === share.value);
  if (members.length === 0) {
    const values = [...new Set(attr.map(String))].sort();
    throw new FairtuneError('FT_PARAM_INVALID', `split.subjects: groupShare.value "${share.value}" has no training subject (${by} values: ${values.join(', ')})`, { param: 'groupShare.value' });
  }
  const others = inTrain.length - members.length;
  // Largest k with k / (k + others) ≤ train.
  const keep = Math.max(1, Math.floor((share.train * others) / (1 - share.train) + 1e-9));
  for (const s of members.slice(keep)) split[s] = 2;
}

function dealSubjectSplits(attr: readonly AttributeValue[], p: SplitParams, seed: number): Int8Array {
  const n = attr.length;
  const rng = new Rng(p.seed ?? seed);
  const strata = new Map<string, number[]>();
  attr.forEach((a, i) => {
    const key = p.stratifyBy === null ? '*' : typeof p.stratifyBy === 'string' ? stratumOf(p.stratifyBy, a, p.ageThreshold ?? 60) : String(a);
    strata.set(key, [...(strata.get(key) ?? []), i]);
  });
  const lists = [...strata.keys()].sort().map((k) => rng.shuffle([...strata.get(k)!]));
  const split = new Int8Array(n).fill(0);
  if (p.folds !== undefined) {
    const K = p.folds;
    const k = p.fold ?? 0;
    if (!(K >= 2 && K <= n)) throw new FairtuneError('FT_PARAM_INVALID', `split.subjects: folds must be in 2..${n} (number of subjects), got ${K}`, { param: 'folds' });
    if (!(k >= 0 && k < K)) throw new FairtuneError('FT_PARAM_INVALID', `split.subjects: fold must be in 0..${K - 1}, got ${k}`, { param: 'fold' });
    // Strata one after another, folds dealt round-robin along that order: every stratum is
    // spread over the folds (interleaving strata first would give each fold a single stratum
    // whenever K is a multiple of the number of strata).
    lists.flat().forEach((s, pos) => {
      const f = pos % K;
      split[s] = f === k ? 2 : p.validation > 0 && f === (k + 1) % K ? 1 : 0;
    });
    return split;
  }
  const total = p.train + p.validation + p.test;
  if (!(total > 0)) throw new FairtuneError('FT_PARAM_INVALID', 'split.subjects: fractions must sum to a positive number', { param: 'train' });
  let nTest = Math.round((p.test / total) * n);
  let nVal = Math.round((p.validation / total) * n);
  if (p.test > 0) nTest = Math.max(1, nTest);
  if (p.validation > 0) nVal = Math.max(1, nVal);
  if (nTest + nVal >= n) throw new FairtuneError('FT_PARAM_INVALID', `split.subjects: ${n} subjects are too few for validation ${nVal} + test ${nTest} subjects and a non-empty train split`, { param: 'test' });
  // Proportional order: subject r of a stratum of size m sits at (r + ½)/m, so every prefix holds
  // each stratum in proportion to its size (ties in a seeded random order). Test, validation and
  // train are consecutive prefixes of it.
  const order = lists
    .flatMap((l) => l.map((s, r) => ({ s, at: (r + 0.5) / l.length, tie: rng.next() })))
    .sort((a, b) => a.at - b.at || a.tie - b.tie)
    .map((x) => x.s);
  order.forEach((s, pos) => {
    split[s] = pos < nTest ? 2 : pos < nTest + nVal ? 1 : 0;
  });
  return split;
}

@injectable()
export class SplitSubjectsStage implements StagePlugin<SplitParams> {
  readonly type = 'split.subjects';
  readonly version = '2';
  readonly description = 'Subject-level train/validation/test split (stratified by a sensitive attribute, seeded) or leave-subjects-out fold k of K.';
  readonly paramsSchema = {
    type: 'object',
    additionalProperties: false,
    properties: {
      train: { type: 'number', minimum: 0, default: 0.7 },
      validation: { type: 'number', minimum: 0, default: 0.15 },
      test: { type: 'number', minimum: 0, default: 0.15 },
      stratifyBy: {
        type: ['string', 'null', 'array'],
        items: { type: 'string' },
        minItems: 1,
        default: 'sex',
        description: 'Subject attribute to stratify by, or a list stratified jointly; "label" in a list is the binary target (a subject is positive when any of its samples is), e.g. ["label", "skinType"].',
      },
      ageThreshold: { type: 'number', default: 60, description: 'With stratifyBy "age": strata are age ≤ threshold and > threshold.' },
      folds: { type: 'integer', minimum: 2 },
      fold: { type: 'integer', minimum: 0 },
      seed: { type: 'integer', description: 'Overrides the stage seed derived from the pipeline seed.' },
      groupShare: {
        type: 'object',
        additionalProperties: false,
        required: ['value', 'train'],
        description:
          'Controlled imbalance for fairness experiments: at most this share of the training subjects has stratifyBy = value; the surplus subjects of that value move to the test split.',
        properties: {
          value: { type: 'string', description: 'The stratifyBy value to under-represent (e.g. "female").' },
          train: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, description: 'Largest share of training subjects with that value.' },
        },
      },
    },
  };
  readonly inputs = { samples: { kind: 'samples' } };
  readonly outputs = { samples: { kind: 'samples' } };
  run(ctx: StageContext<SplitParams>) {
    return runAsync(ctx.signal, async (emit) => {
      const input = requireInput(ctx.inputs, 'samples', 'samples');
      const meta = input.meta;
      const by = ctx.params.stratifyBy;
      const subject = input.arrays['subject'];
      if (!subject) throw new FairtuneError('FT_ARRAY_MISSING', 'samples artifact has no "subject" array', { port: 'samples' });
      const attr = by === null ? meta.subjects.map(() => null) : typeof by === 'string' ? meta.subjectAttributes[by] : subjectStrata(meta, input.arrays['y'], subject.data, by, ctx.params.ageThreshold ?? 60);
      if (!attr) throw new FairtuneError('FT_PARAM_INVALID', `split.subjects: stratifyBy "${String(by)}" is not a subject attribute (have ${Object.keys(meta.subjectAttributes).join(', ')})`, { param: 'stratifyBy' });
      const subjSplit = assignSubjectSplits(attr, ctx.params, ctx.seed);
      const split = Int8Array.from(subject.data, (s) => subjSplit[s]!);
      const names = ['train', 'validation', 'test'];
      names.forEach((nm, i) => {
        const members = [...subjSplit.keys()].filter((s) => subjSplit[s] === i);
        const strata = by === null ? '' : ` (${[...new Set(members.map((s) => String(attr[s])))].sort().map((v) => `${v} ${members.filter((s) => String(attr[s]) === v).length}`).join(', ')})`;
        emit.log('info', `${nm}: ${members.length} subjects${strata}, ${split.filter((v) => v === i).length} windows`);
      });
      const out: SamplesMeta = { ...meta, splits: names };
      emit.artifact('samples', artifact('samples', out, { ...input.arrays, split: ndarray(split) }));
    });
  }
}

export interface GroupParams {
  attributes: string[];
  ageThreshold: number;
}

/**
 * Joint stratum key per subject for a list of attributes, joined with `|` (e.g. `1|IV-VI`).
 * "label" is the subject's binary target: 1 when any of its samples has y = 1 (the images of one
 * lesion share its diagnosis).
 */
export function subjectStrata(meta: SamplesMeta, y: NdArray | undefined, subject: ArrayLike<number>, by: readonly string[], ageThreshold: number): string[] {
  let label: Int8Array | undefined;
  if (by.includes('label')) {
    if (meta.task !== 'classification') throw new FairtuneError('FT_PARAM_INVALID', `split.subjects: stratifyBy "label" needs a classification task; these samples are ${meta.task}`, { param: 'stratifyBy' });
    if (!y) throw new FairtuneError('FT_ARRAY_MISSING', 'split.subjects: stratifyBy "label" but the samples have no "y" array', { port: 'samples' });
    label = new Int8Array(meta.subjects.length);
    for (let i = 0; i < subject.length; i++) if (y.data[i]! > 0.5) label[subject[i]!] = 1;
  }
  const columns = by.map((name) => {
    if (name === 'label') return Array.from(label!, String);
    const values = meta.subjectAttributes[name];
    if (!values) throw new FairtuneError('FT_PARAM_INVALID', `split.subjects: stratifyBy "${name}" is not a subject attribute (have label, ${Object.keys(meta.subjectAttributes).join(', ')})`, { param: 'stratifyBy' });
    return values.map((v) => stratumOf(name, v, ageThreshold));
  });
  return meta.subjects.map((_, s) => columns.map((c) => c[s]!).join('|'));
}

/** Stratum of a subject: categorical values as they are, age binarised; other numbers are refused. */
function stratumOf(by: string, v: AttributeValue, ageThreshold: number): string {
  if (typeof v === 'number' && by !== 'age') {
    throw new FairtuneError('FT_PARAM_INVALID', `split.subjects: stratifyBy "${by}" is numeric (e.g. ${v}); stratify by a categorical attribute such as sex, or by age (binarised at ageThreshold)`, { param: 'stratifyBy' });
  }
  return groupValue(by, v, ageThreshold) ?? 'unknown';
}

@injectable()
export class GroupAttributesStage implements StagePlugin<GroupParams> {
  readonly type = 'groups.attributes';
  readonly version = '2';
  readonly description = 'Adds group ids/names from subject attributes: binary sex, binarised age (threshold param), and intersections (e.g. ["sex","age"] → "female|>60").';
  readonly paramsSchema = {
    type: 'object',
    additionalProperties: false,
    properties: {
      attributes: { type: 'array', items: { type: 'string' }, minItems: 1, default: ['sex'] },
      ageThreshold: { type: 'number', default: 60, description: 'age ≤ threshold vs > threshold.' },
    },
  };
  readonly inputs = { samples: { kind: 'samples' } };
  readonly outputs = { samples: { kind: 'samples' } };
  run(ctx: StageContext<GroupParams>) {
    return runAsync(ctx.signal, async (emit) => {
      const input = requireInput(ctx.inputs, 'samples', 'samples');
      const meta = input.meta;
      const { attributes, ageThreshold } = ctx.params;
      let grouped: ReturnType<typeof subjectGroups>;
      try {
        grouped = subjectGroups(meta.subjectAttributes, meta.subjects.length, attributes, ageThreshold);
      } catch (e) {
        throw prefixedError(e, `groups.attributes: ${(e as Error).message}`, 'FT_PARAM_INVALID', { param: 'attributes' });
      }
      const { names, perSubject } = grouped;
      const subject = input.arrays['subject'];
      if (!subject) throw new FairtuneError('FT_ARRAY_MISSING', 'samples artifact has no "subject" array', { port: 'samples' });
      const group = Int32Array.from(subject.data, (s) => {
        const g = perSubject[s];
        return g === null || g === undefined ? -1 : names.indexOf(g);
      });
      const unknown = perSubject.filter((g) => g === null).length;
      if (unknown) emit.log('warn', `${unknown} subject(s) lack ${attributes.join('/')} and get group -1`);
      names.forEach((nm, i) => emit.log('info', `group ${nm}: ${perSubject.filter((g) => g === nm).length} subjects, ${group.filter((g) => g === i).length} windows`));
      const out: SamplesMeta = { ...meta, groups: { attributes, names, ...(attributes.includes('age') ? { ageThreshold } : {}) } };
      const arrays: Record<string, NdArray> = { ...input.arrays, group: ndarray(group) };
      emit.artifact('samples', artifact('samples', out, arrays));
    });
  }
}

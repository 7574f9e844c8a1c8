/** The `predictions` and `embeddings` outputs shared by `train.finetune` and `eval.predict`. */
import { artifact, type Artifact, type PredictionsMeta, type TaskKind } from '@fairtune/core/plugin';
import type { SampleSet } from '../train/data.js';
import { evaluate, type LabelledSet } from '../train/finetune.js';
import type { FinetuneModel } from '../train/finetune-model.js';
import type { PpgGpt } from '../ppg-gpt/model.js';

/** Builds the `predictions` (with the samples' `aux/<label>` arrays) and `embeddings` artifacts for every sample of `data`. */
export function predictionArtifacts(model: PpgGpt | FinetuneModel, data: SampleSet | LabelledSet, task: TaskKind, scaling: { mean: number; std: number }, batchSize: number, method: string): { predictions: Artifact; embeddings: Artifact } {
  const all = Int32Array.from({ length: data.n }, (_, i) => i);
  const ev = evaluate(model, { x: (data as Partial<SampleSet>).x }, all, task, scaling, batchSize, true);
  const meta: PredictionsMeta = {
    task,
    target: data.meta.target,
    dataset: data.meta.name,
    synthetic: data.meta.synthetic,
    subjects: data.meta.subjects,
    ...(data.meta.splits ? { splits: data.meta.splits } : {}),
    ...(data.meta.groups ? { groups: data.meta.groups } : {}),
    method,
  };
  const common = {
    subject: { dtype: 'int32' as const, shape: [data.n], data: data.subject.slice() },
    ...(data.group ? { group: { dtype: 'int32' as const, shape: [data.n], data: data.group.slice() } } : {}),
    ...(data.split ? { split: { dtype: 'int8' as const, shape: [data.n], data: data.split.slice() } } : {}),
  };
  return {
    predictions: artifact('predictions', meta, {
      yTrue: { dtype: 'float32', shape: [data.n], data: data.y.slice() },
      yPred: { dtype: 'float32', shape: [data.n], data: ev.pred },
      ...common,
      // per-window labels of the samples (e.g. aux/activity), for metrics by stratum
      ...Object.fromEntries(Object.entries(data.aux).map(([name, v]) => [name, { dtype: 'float32' as const, shape: [data.n], data: v.slice() }])),
    }),
    embeddings: artifact('embeddings', meta, {
      z: { dtype: 'float32', shape: [data.n, ev.embeddingWidth], data: ev.embedding! },
      ...common,
    }),
  };
}

/** Helpers shared by the preprocessing stages. */
import type { Artifact, DatasetMeta, SamplesMeta } from '@fairtune/core/plugin';

export function asSingle(a: unknown, port: string, kind: string): Artifact {
  if (Array.isArray(a)) throw new Error(`input "${port}" must be one ${kind} artifact, got a list`);
  const art = a as Artifact | undefined;
  if (!art) throw new Error(`input "${port}" is missing`);
  if (art.kind !== kind) throw new Error(`input "${port}" is a ${art.kind} artifact, expected ${kind}`);
  return art;
}

export function datasetMeta(a: Artifact): DatasetMeta {
  return a.meta as unknown as DatasetMeta;
}

export function samplesMeta(a: Artifact): SamplesMeta {
  return a.meta as unknown as SamplesMeta;
}

/**
 * Cache keys. A stage's key hashes its plugin type and version, its canonical params (after
 * defaults, nested plugins' params included), its seed and the keys of the artifacts it reads;
 * an output artifact's key is `<stage key>/<port>`. A stage that reads files outside the
 * pipeline adds their fingerprint; one that selects nested plugins (a training strategy) adds
 * each one's pointer, kind, name and version.
 * Keys are known before anything runs, so a re-run with nothing changed is a series of lookups.
 */
import type { JsonObject, JsonValue } from '../contracts/artifact.js';
import type { Subgraph } from '../pipeline/subgraphs.js';
import type { ResolvedPipeline, ResolvedStage } from '../pipeline/validate.js';
import { canonicalJson, sha256 } from '../cache/canonical.js';

export function computeStageKeys(pipeline: ResolvedPipeline, fingerprints: ReadonlyMap<string, string> = new Map()): Map<string, string> {
  const keys = new Map<string, string>();
  const runs = new Map<string, Subgraph>();
  for (const sg of pipeline.subgraphs?.values() ?? []) for (const u of sg.users) runs.set(u, sg);
  for (const stage of pipeline.stages) {
    const sg = runs.get(stage.id);
    keys.set(stage.id, stageKey(stage, (id) => keys.get(id)!, fingerprints.get(stage.id), sg ? subgraphRecipe(sg, (id) => keys.get(id)!) : undefined));
  }
  return keys;
}

/** One stage's key, given the keys of the stages it reads (also used for the stages of a trial). */
export function stageKey(stage: ResolvedStage, keyOf: (stageId: string) => string, fingerprint?: string, trials?: JsonValue): string {
  const inputs: Record<string, string[]> = {};
  for (const b of stage.inputs) inputs[b.port] = b.sources.map((s) => `${keyOf(s.stage)}/${s.output}`);
  const recipe = {
    type: stage.plugin.type,
    version: stage.plugin.version,
    params: stage.params,
    seed: stage.seed,
    inputs,
    ...(fingerprint !== undefined ? { external: fingerprint } : {}),
    // Only when present, so the keys of stages without nested plugins stay as they were.
    ...(stage.nested?.length ? { nested: stage.nested.map(({ pointer, kind, name, version }) => ({ pointer, kind, name, version })) } : {}),
    // A stage that runs trials depends on what its trials compute: their stages as written (values
    // unbound), their types' versions and the keys of what they read from outside the group.
    ...(trials !== undefined ? { trials } : {}),
  };
  return sha256(canonicalJson(recipe as unknown as JsonValue));
}

function subgraphRecipe(sg: Subgraph, keyOf: (stageId: string) => string): JsonValue {
  return {
    group: sg.group,
    defaults: sg.defaults as JsonObject,
    stages: sg.resolvedDefaults.map((s) => ({
      id: s.id,
      type: s.plugin.type,
      version: s.plugin.version,
      nested: (s.nested ?? []).map(({ pointer, kind, name, version }) => ({ pointer, kind, name, version })),
      template: sg.templates[s.id] ?? null,
      reads: s.inputs.flatMap((b) => b.sources.filter((src) => sg.external.includes(src.stage)).map((src) => `${b.port}:${keyOf(src.stage)}/${src.output}`)),
    })),
  };
}

/** Asks every stage that reads external files for its fingerprint. */
export async function computeFingerprints(pipeline: ResolvedPipeline): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const stage of pipeline.stages) {
    if (!stage.plugin.fingerprint) continue;
    try {
      out.set(stage.id, await stage.plugin.fingerprint(stage.params));
    } catch (err) {
      throw new Error(`stage "${stage.id}" (${stage.plugin.type}): fingerprint of its external inputs failed: ${(err as Error).message}`);
    }
  }
  return out;
}

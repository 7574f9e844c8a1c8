/**
 * Cache keys. A stage's key hashes its plugin type and version, its canonical params (after
 * defaults), its seed and the keys of the artifacts it reads; an output artifact's key is
 * `<stage key>/<port>`. Keys are known before anything runs, so a re-run with nothing
 * changed is a series of lookups.
 */
import type { ResolvedPipeline } from '../pipeline/validate.js';
import { canonicalJson, sha256 } from '../cache/canonical.js';

export function computeStageKeys(pipeline: ResolvedPipeline): Map<string, string> {
  const keys = new Map<string, string>();
  for (const stage of pipeline.stages) {
    const inputs: Record<string, string[]> = {};
    for (const b of stage.inputs) inputs[b.port] = b.sources.map((s) => `${keys.get(s.stage)!}/${s.output}`);
    const recipe = {
      type: stage.plugin.type,
      version: stage.plugin.version,
      params: stage.params,
      seed: stage.seed,
      inputs,
    };
    keys.set(stage.id, sha256(canonicalJson(recipe)));
  }
  return keys;
}

/**
 * Cache keys. A stage's key hashes its plugin type and version, its canonical params (after
 * defaults, nested plugins' params included), its seed and the keys of the artifacts it reads;
 * an output artifact's key is `<stage key>/<port>`. A stage that reads files outside the
 * pipeline adds their fingerprint; one that selects nested plugins (a training strategy) adds
 * each one's pointer, kind, name and version.
 * Keys are known before anything runs, so a re-run with nothing changed is a series of lookups.
 */
import type { ResolvedPipeline } from '../pipeline/validate.js';
import { canonicalJson, sha256 } from '../cache/canonical.js';

export function computeStageKeys(pipeline: ResolvedPipeline, fingerprints: ReadonlyMap<string, string> = new Map()): Map<string, string> {
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
      ...(fingerprints.has(stage.id) ? { external: fingerprints.get(stage.id) } : {}),
      // Only when present, so the keys of stages without nested plugins stay as they were.
      ...(stage.nested?.length ? { nested: stage.nested.map(({ pointer, kind, name, version }) => ({ pointer, kind, name, version })) } : {}),
    };
    keys.set(stage.id, sha256(canonicalJson(recipe)));
  }
  return keys;
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

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
import { redactAt, Redactor, secretValues } from '../pipeline/secrets.js';
import { FairtuneError } from '../contracts/errors.js';

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
  return sha256(canonicalJson(stageRecipe(stage, keyOf, fingerprint, trials)));
}

/**
 * What a stage's key hashes, readable: type, version, params, seed, the keys of its inputs, and
 * (when present) the fingerprint of its external files, its nested plugins and its trial group.
 * Secret params (x-fairtune-secret) are `[redacted]` here, so neither this recipe nor the key
 * holds them: a secret is a credential and does not change what the stage computes.
 */
export function stageRecipe(stage: ResolvedStage, keyOf: (stageId: string) => string, fingerprint?: string, trials?: JsonValue): JsonValue {
  const inputs: Record<string, string[]> = {};
  for (const b of stage.inputs) inputs[b.port] = b.sources.map((s) => `${keyOf(s.stage)}/${s.output}`);
  const recipe = {
    type: stage.plugin.type,
    version: stage.plugin.version,
    params: stage.secrets?.length ? new Redactor(secretValues(stage.params, stage.secrets)).json(redactAt(stage.params, stage.secrets)) : stage.params,
    seed: stage.seed,
    inputs,
    ...(fingerprint !== undefined ? { external: fingerprint } : {}),
    // Only when present, so the keys of stages without nested plugins stay as they were.
    ...(stage.nested?.length ? { nested: stage.nested.map(({ pointer, kind, name, version }) => ({ pointer, kind, name, version })) } : {}),
    // A stage that runs trials depends on what its trials compute: their stages as written (values
    // unbound), their types' versions and the keys of what they read from outside the group.
    ...(trials !== undefined ? { trials } : {}),
  };
  return recipe as unknown as JsonValue;
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
      template: s.secrets?.length ? redactAt(sg.templates[s.id] ?? null, s.secrets.map((p) => `/params${p}`)) : (sg.templates[s.id] ?? null),
      reads: s.inputs.flatMap((b) => b.sources.filter((src) => sg.external.includes(src.stage)).map((src) => `${b.port}:${keyOf(src.stage)}/${src.output}`)),
    })),
  };
}

/** A stage whose fingerprint could not be taken; the message is one line naming the stage and the cause. */
export class FingerprintError extends FairtuneError {
  override readonly name = 'FingerprintError';
  constructor(
    readonly stageId: string,
    message: string,
  ) {
    super('FT_FINGERPRINT', message);
  }
}

/** Asks every stage that reads external files for its fingerprint; throws the first failure (a FingerprintError). */
export async function computeFingerprints(pipeline: ResolvedPipeline): Promise<Map<string, string>> {
  const { fingerprints, failures } = await fingerprintStages(pipeline);
  if (failures.length) throw failures[0]!;
  return fingerprints;
}

/**
 * Every stage's fingerprint, and a FingerprintError for each stage whose fingerprint failed (a data
 * root that is a file, a dangling link, unreadable): `stage "<id>" (<type>): cannot fingerprint its
 * external inputs: <first line of the cause>`.
 */
export async function fingerprintStages(pipeline: ResolvedPipeline): Promise<{ fingerprints: Map<string, string>; failures: FingerprintError[] }> {
  const fingerprints = new Map<string, string>();
  const failures: FingerprintError[] = [];
  for (const stage of pipeline.stages) {
    if (!stage.plugin.fingerprint) continue;
    try {
      const fingerprint = await stage.plugin.fingerprint(stage.params);
      if (fingerprint !== undefined) fingerprints.set(stage.id, fingerprint);
    } catch (err) {
      const cause = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.trim();
      failures.push(new FingerprintError(stage.id, `stage "${stage.id}" (${stage.plugin.type}): cannot fingerprint its external inputs: ${cause}`));
    }
  }
  return { fingerprints, failures };
}

/**
 * Trial subgraphs at validation (see contracts/trials.ts): a trial group's stages are validated
 * with their default values bound, then taken out of the pipeline's own stages; the stage that
 * runs them depends on everything they read from outside the group. At run time each trial binds
 * its values into the same templates and resolves them through the same validator, so a trial
 * is checked exactly as a hand-written stage would be.
 */
import type { JsonObject, JsonValue } from '../contracts/artifact.js';
import type { StageRegistry } from '../registry.js';
import { bindTrialValues } from './compose.js';
import type { PipelineIssue } from './issues.js';
import { escapePointer } from './load.js';
import { copyId, parseReference } from './stage-ref.js';
import { validatePipeline, type ResolvedPipeline, type ResolvedStage } from './validate.js';

export interface Subgraph {
  readonly group: string;
  /** The names a trial binds, with their defaults. */
  readonly defaults: Readonly<Record<string, JsonValue>>;
  /** The group's stage ids as written, in topological order. */
  readonly stages: readonly string[];
  /** The stages that run this group's trials. */
  readonly users: readonly string[];
  /** Stages outside the group that the trials read (the users depend on them). */
  readonly external: readonly string[];
  /** The group's stages with their defaults bound, as validated. */
  readonly resolvedDefaults: readonly ResolvedStage[];
  /** The group's stages as written (values unbound, `%{name}` left in), for the users' cache keys. */
  readonly templates: Readonly<Record<string, JsonValue>>;
  /**
   * The group's stages with `values` bound, resolved as the validator resolves any stage, ids
   * suffixed with the trial (`finetune[trial=3]`) and intra-group inputs renamed to match.
   */
  resolveTrial(values: Readonly<Record<string, JsonValue>>, trial: number): { readonly stages: readonly ResolvedStage[] } | { readonly errors: readonly PipelineIssue[] };
}

/** The pipeline's trial groups as written in the expanded spec (compose keeps them in `groups`). */
function trialGroups(spec: JsonValue): Map<string, { stages: string[]; trials: JsonObject }> {
  const out = new Map<string, { stages: string[]; trials: JsonObject }>();
  if (!isObject(spec) || !isObject(spec['groups'])) return out;
  for (const [name, g] of Object.entries(spec['groups'])) {
    if (isObject(g) && isObject(g['trials']) && Array.isArray(g['stages'])) out.set(name, { stages: g['stages'].filter((s): s is string => typeof s === 'string'), trials: g['trials'] });
  }
  return out;
}

/** The spec with every trial stage's defaults bound, for validation. */
export function bindTrialDefaults(spec: JsonValue): JsonValue {
  const groups = trialGroups(spec);
  if (!groups.size || !isObject(spec) || !isObject(spec['stages'])) return spec;
  const stages: JsonObject = { ...spec['stages'] };
  for (const g of groups.values()) {
    const values = new Map(Object.entries(g.trials));
    // Unknown names were reported by expansion already; a second report would repeat them.
    for (const id of g.stages) if (Object.hasOwn(stages, id)) stages[id] = bindTrialValues(stages[id]!, values, id, []);
  }
  return { ...spec, stages };
}

/**
 * Takes the trial groups' stages out of a validated pipeline and wires their users; problems
 * (a user whose type runs no trials, a trial output read from outside) go to `errors`.
 */
export function attachSubgraphs(expanded: JsonValue, validated: ResolvedPipeline, registry: StageRegistry, errors: PipelineIssue[]): ResolvedPipeline {
  const groups = trialGroups(expanded);
  const stageSpecs = (isObject(expanded) && isObject(expanded['stages']) ? expanded['stages'] : {}) as JsonObject;
  const users = new Map<string, string[]>();
  for (const s of validated.stages) {
    const spec = stageSpecs[s.id];
    const group = isObject(spec) && typeof spec['trials'] === 'string' ? spec['trials'] : undefined;
    if (group !== undefined && !s.plugin.runsTrials) errors.push({ path: `/stages/${escapePointer(s.id)}/trials`, message: `stage type ${s.plugin.type} does not run trials; "trials" is for optimiser stages` });
    if (group === undefined && s.plugin.runsTrials) errors.push({ path: `/stages/${escapePointer(s.id)}`, message: `stage type ${s.plugin.type} runs trials: name the trial group it runs in "trials"` });
    if (group !== undefined && groups.has(group)) users.set(group, [...(users.get(group) ?? []), s.id]);
  }
  if (!groups.size) return validated;

  const member = new Map<string, string>();
  for (const [name, g] of groups) for (const id of g.stages) member.set(id, name);
  const subgraphs = new Map<string, Subgraph>();
  for (const [name, g] of groups) {
    const inGroup = validated.stages.filter((s) => g.stages.includes(s.id));
    const external = [...new Set(inGroup.flatMap((s) => s.dependsOn).filter((d) => !g.stages.includes(d)))];
    for (const d of external) if (member.has(d)) errors.push({ path: `/groups/${escapePointer(name)}`, message: `trial group "${name}" reads stage "${d}" of trial group "${member.get(d)}"; trials of one group cannot read another's` });
    if (!(users.get(name) ?? []).length) errors.push({ path: `/groups/${escapePointer(name)}`, message: `no stage runs the trials of group "${name}" (give an optimiser stage "trials": "${name}")` });
    subgraphs.set(name, {
      group: name,
      defaults: g.trials,
      stages: inGroup.map((s) => s.id),
      users: users.get(name) ?? [],
      external,
      resolvedDefaults: inGroup,
      templates: Object.fromEntries(g.stages.map((id) => [id, withoutDescription(stageSpecs[id])])),
      resolveTrial: (values, trial) => resolveTrial(expanded, name, g, values, trial, registry),
    });
  }
  for (const s of validated.stages) {
    if (member.has(s.id)) continue;
    for (const d of s.dependsOn) if (member.has(d)) errors.push({ path: `/stages/${escapePointer(s.id)}/inputs`, message: `stage "${s.id}" reads "${d}", which belongs to trial group "${member.get(d)}"; a trial's results reach other stages through the stage that runs it` });
  }

  // The users wait for what their trials read; the order is recomputed with those edges.
  const kept = validated.stages.filter((s) => !member.has(s.id));
  const extra = new Map<string, string[]>();
  for (const sg of subgraphs.values()) for (const u of sg.users) extra.set(u, [...(extra.get(u) ?? []), ...sg.external]);
  const stages = kept.map((s) => (extra.has(s.id) ? { ...s, dependsOn: [...new Set([...s.dependsOn, ...extra.get(s.id)!])] } : s));
  const ordered = topological(stages);
  if (!ordered) {
    errors.push({ path: '/groups', message: 'the stages that run trials and the stages their trials read form a cycle' });
    return validated;
  }
  const trialIds = new Set(member.keys());
  const warnings = validated.warnings.filter((w) => ![...trialIds].some((id) => w.path === `/stages/${escapePointer(id)}`));
  return { ...validated, stages: ordered, warnings, subgraphs };
}

function resolveTrial(
  expanded: JsonValue,
  group: string,
  g: { stages: string[]; trials: JsonObject },
  values: Readonly<Record<string, JsonValue>>,
  trial: number,
  registry: StageRegistry,
): { stages: ResolvedStage[] } | { errors: PipelineIssue[] } {
  const issues: PipelineIssue[] = [];
  for (const k of Object.keys(values)) if (!Object.hasOwn(g.trials, k)) issues.push({ path: `/groups/${escapePointer(group)}/trials`, message: `a trial binds "${k}", which group "${group}" does not declare (it binds: ${Object.keys(g.trials).join(', ')})` });
  if (issues.length) return { errors: issues };
  const bound = new Map(Object.entries({ ...g.trials, ...values }));
  const spec = expanded as JsonObject;
  const stages: JsonObject = { ...(spec['stages'] as JsonObject) };
  const rename = new Map(g.stages.map((id) => [id, copyId(id, [[group, String(trial)]])]));
  for (const id of g.stages) {
    const stage = bindTrialValues(stages[id]!, bound, id, issues) as JsonObject;
    if (isObject(stage['inputs'])) stage['inputs'] = renameInputs(stage['inputs'], rename);
    delete stages[id];
    stages[rename.get(id)!] = stage;
  }
  if (issues.length) return { errors: issues };
  // Other trial groups' stages stay in the spec (their optimisers read nothing of them) but hold
  // unbound %{…}: bind their defaults, as validation did, or a pipeline with two searches would
  // fail every trial of each on the other's placeholders.
  for (const [other, og] of trialGroups(expanded)) {
    if (other === group) continue;
    const defaults = new Map(Object.entries(og.trials));
    for (const id of og.stages) if (Object.hasOwn(stages, id)) stages[id] = bindTrialValues(stages[id]!, defaults, id, []);
  }
  const { groups: _g, ...rest } = spec;
  const result = validatePipeline({ ...rest, stages }, registry);
  if (result.errors.length || !result.pipeline) return { errors: [...result.errors] };
  const ids = new Set(rename.values());
  return { stages: result.pipeline.stages.filter((s) => ids.has(s.id)) };
}

function renameInputs(inputs: JsonObject, rename: ReadonlyMap<string, string>): JsonObject {
  const one = (ref: JsonValue): JsonValue => {
    if (typeof ref !== 'string') return ref;
    const p = parseReference(ref);
    if (typeof p === 'string' || p.bindings || !rename.has(p.name)) return ref;
    return p.output !== undefined ? `${rename.get(p.name)}.${p.output}` : rename.get(p.name)!;
  };
  const out: JsonObject = {};
  for (const [port, v] of Object.entries(inputs)) out[port] = Array.isArray(v) ? v.map(one) : one(v);
  return out;
}

/** Stages in dependency order (iterative depth-first), or undefined when they form a cycle. */
function topological(stages: readonly ResolvedStage[]): ResolvedStage[] | undefined {
  const byId = new Map(stages.map((s) => [s.id, s]));
  const state = new Map<string, 1 | 2>();
  const out: ResolvedStage[] = [];
  for (const root of stages) {
    if (state.has(root.id)) continue;
    const path: ResolvedStage[] = [root];
    const next: number[] = [0];
    state.set(root.id, 1);
    while (path.length) {
      const s = path[path.length - 1]!;
      const i = next[next.length - 1]!;
      if (i >= s.dependsOn.length) {
        state.set(s.id, 2);
        out.push(s);
        path.pop();
        next.pop();
        continue;
      }
      next[next.length - 1] = i + 1;
      const d = byId.get(s.dependsOn[i]!);
      if (!d || state.get(d.id) === 2) continue;
      if (state.get(d.id) === 1) return undefined;
      state.set(d.id, 1);
      path.push(d);
      next.push(0);
    }
  }
  return out;
}

function withoutDescription(stage: JsonValue | undefined): JsonValue {
  if (!isObject(stage)) return stage ?? null;
  const { description: _d, ...rest } = stage;
  return rest;
}

function isObject(v: unknown): v is JsonObject {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

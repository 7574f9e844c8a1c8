/**
 * Validation and resolution of a pipeline: envelope schema, stage types, params (defaults
 * applied), nested plugins in params (names resolved, their params defaulted), input
 * references, port kinds, cycles and unused stages. Every problem is collected with its JSON
 * pointer; nothing stops at the first error.
 */
import type { JsonObject, JsonValue } from '../contracts/artifact.js';
import type { NestedPluginUse } from '../contracts/nested-plugin.js';
import type { InputPort, StagePlugin } from '../contracts/stage-plugin.js';
import type { StageRegistry } from '../registry.js';
import { compileSchema, describeAjvError } from './ajv.js';
import { escapePointer } from './load.js';
import { nearest } from './nearest.js';
import { resolveNestedPlugins } from './nested-plugins.js';
import type { PipelineIssue } from './issues.js';
import { secretPointers } from './secrets.js';
import { pipelineEnvelopeSchema, type PipelineSpec, type StageSpec } from './spec.js';
import { MAX_ID_LENGTH, formatSelector, parseReference } from './stage-ref.js';
import { abbreviate } from './strict-json.js';
import type { Subgraph } from './subgraphs.js';

export interface InputBinding {
  readonly port: string;
  readonly sources: readonly { readonly stage: string; readonly output: string }[];
  /** True when the port takes a list (the plugin receives an array). */
  readonly multiple: boolean;
}

export interface ResolvedStage {
  readonly id: string;
  readonly plugin: StagePlugin;
  readonly packageName: string;
  /** Params with defaults, including the resolved params of nested plugins. */
  readonly params: JsonObject;
  /**
   * Nested plugins selected in the params (e.g. the training strategy), in schema order; they
   * join the cache key. Absent or empty when the stage type has none.
   */
  readonly nested?: readonly NestedPluginUse[];
  /**
   * JSON pointers (into `params`) of the values of params marked `x-fairtune-secret`, nested
   * plugins' included; absent when there are none. Records and the cache hold `[redacted]` there.
   */
  readonly secrets?: readonly string[];
  readonly seed: number;
  readonly inputs: readonly InputBinding[];
  /** Ids of the stages this one reads from. */
  readonly dependsOn: readonly string[];
}

export interface ResolvedPipeline {
  readonly spec: PipelineSpec;
  /** Stages in a topological order (ties broken by file order); trial groups' stages are not among them. */
  readonly stages: readonly ResolvedStage[];
  readonly warnings: readonly PipelineIssue[];
  /** Trial groups by name, with the stages that run them (pipeline/subgraphs.ts). */
  readonly subgraphs?: ReadonlyMap<string, Subgraph>;
}

export interface ValidationResult {
  readonly pipeline?: ResolvedPipeline;
  readonly errors: readonly PipelineIssue[];
  readonly warnings: readonly PipelineIssue[];
}

const validateEnvelope = () => compileSchema(pipelineEnvelopeSchema);

export function validatePipeline(raw: JsonValue, registry: StageRegistry): ValidationResult {
  const errors: PipelineIssue[] = [];
  const warnings: PipelineIssue[] = [];
  const envelope = structuredClone(raw);
  const check = validateEnvelope();
  if (!check(envelope)) {
    // ajv reports a failed propertyNames twice: the rule that failed (pattern, maxLength), with the
    // name in `propertyName`, then propertyNames itself; one sentence per name, from both.
    const nameRules = new Map<string, string[]>();
    for (const e of check.errors ?? []) {
      if (!e.schemaPath.includes('/propertyNames/')) continue;
      const k = `${e.instancePath}\u0000${String(e.propertyName)}`;
      nameRules.set(k, [...(nameRules.get(k) ?? []), e.keyword]);
    }
    for (const e of check.errors ?? []) {
      if (e.schemaPath.includes('/propertyNames/')) continue;
      if (e.keyword === 'propertyNames') {
        const name = String((e.params as { propertyName?: string }).propertyName ?? '');
        const rules = nameRules.get(`${e.instancePath}\u0000${name}`) ?? [];
        errors.push({ path: `${e.instancePath}/${escapePointer(name)}`, message: nameMessage(e.instancePath, name, rules) });
        continue;
      }
      // One sentence for a value that matches none of several shapes, not one per shape.
      if ((check.errors ?? []).some((a) => a.keyword === 'anyOf' && a !== e && e.schemaPath.startsWith(`${a.schemaPath}/`))) continue;
      const message =
        e.keyword === 'anyOf'
          ? `must be ${describeAlternatives(e.schema)}`
          : e.keyword === 'additionalProperties'
            ? `unknown field "${String((e.params as { additionalProperty: string }).additionalProperty)}"`
            : e.keyword === 'required'
              ? `missing required field "${String((e.params as { missingProperty: string }).missingProperty)}"`
              : e.keyword === 'maxLength' && e.instancePath === '/name'
                ? `the pipeline name is ${String(e.data).length} characters long; names have at most ${MAX_ID_LENGTH} (they become folder names under runs/)`
                : describeAjvError(e);
      errors.push({ path: e.instancePath, message });
    }
    if (!isObject(envelope) || !isObject(envelope['stages'])) return { errors, warnings };
  }
  const spec = envelope as unknown as PipelineSpec;
  const stageIds = Object.keys(spec.stages);
  const resolved = new Map<string, Omit<ResolvedStage, 'inputs' | 'dependsOn'> & { spec: StageSpec }>();

  // 1. Types and params.
  for (const id of stageIds) {
    const stage = spec.stages[id]!;
    if (!isObject(stage) || typeof stage.type !== 'string') continue; // reported by the envelope
    const base = `/stages/${escapePointer(id)}`;
    const entry = registry.get(stage.type);
    if (!entry) {
      const known = registry.types();
      const near = nearest(stage.type, known);
      errors.push({
        path: `${base}/type`,
        message: `unknown stage type "${stage.type}"${near ? ` (did you mean "${near}"?)` : ''}; known types: ${known.join(', ')}`,
      });
      continue;
    }
    if (stage.params !== undefined && !isObject(stage.params)) continue; // reported by the envelope
    const params = structuredClone((stage.params ?? {}) as JsonObject);
    const validateParams = compileSchema(entry.plugin.paramsSchema);
    if (!validateParams(params)) {
      for (const e of validateParams.errors ?? []) {
        let path = `${base}/params${e.instancePath}`;
        if (e.keyword === 'additionalProperties') path += `/${escapePointer(String((e.params as { additionalProperty: string }).additionalProperty))}`;
        if (e.keyword === 'required') path += `/${escapePointer(String((e.params as { missingProperty: string }).missingProperty))}`;
        errors.push({ path, message: `${describeAjvError(e)} (stage type ${stage.type})` });
      }
    }
    // Nested plugins (params marked x-fairtune-plugin): names resolved, params defaulted and written back.
    const nested = resolveNestedPlugins(entry.plugin.paramsSchema, params, (kind) => registry.nested(kind)?.map((n) => n.plugin));
    for (const e of nested.errors) errors.push({ path: `${base}/params${e.path}`, message: e.message });
    const secrets = secretPointers(entry.plugin.paramsSchema, params, (kind, name) => registry.nested(kind)?.find((n) => n.plugin.name === name)?.plugin);
    resolved.set(id, { id, plugin: entry.plugin, packageName: entry.packageName, params, nested: nested.uses, ...(secrets.length ? { secrets } : {}), seed: stage.seed ?? spec.seed ?? 0, spec: stage });
  }

  // 2. Inputs: references, ports and kinds.
  const bindings = new Map<string, InputBinding[]>();
  const consumed = new Set<string>();
  for (const [id, stage] of resolved) {
    const base = `/stages/${escapePointer(id)}/inputs`;
    const declared = stage.plugin.inputs;
    const given = isObject(stage.spec.inputs) ? stage.spec.inputs : {};
    const list: InputBinding[] = [];
    for (const [port, ref] of Object.entries(given)) {
      // Anything but a reference or a list of references was reported by the envelope.
      if (typeof ref !== 'string' && !(Array.isArray(ref) && ref.every((r) => typeof r === 'string'))) continue;
      const portSpec: InputPort | undefined = Object.hasOwn(declared, port) ? declared[port] : undefined;
      if (!portSpec) {
        const ports = Object.keys(declared);
        errors.push({ path: `${base}/${escapePointer(port)}`, message: `stage type ${stage.plugin.type} has no input "${port}" (inputs: ${ports.join(', ') || 'none'})` });
        continue;
      }
      const refs = typeof ref === 'string' ? [ref] : [...ref];
      if (Array.isArray(ref) && !portSpec.multiple) {
        errors.push({ path: `${base}/${escapePointer(port)}`, message: `input "${port}" of ${stage.plugin.type} takes one artifact, not a list` });
        continue;
      }
      const sources: { stage: string; output: string }[] = [];
      refs.forEach((r, i) => {
        const path = `${base}/${escapePointer(port)}${Array.isArray(ref) ? `/${i}` : ''}`;
        const source = resolveReference(r, path, resolved, spec, errors);
        if (!source) return;
        const producerKind = resolved.get(source.stage)!.plugin.outputs[source.output]!.kind;
        const accepted = typeof portSpec.kind === 'string' ? [portSpec.kind] : [...portSpec.kind];
        if (!accepted.includes(producerKind)) {
          errors.push({
            path,
            message: `"${r}" produces a ${producerKind} artifact but input "${port}" of ${stage.plugin.type} accepts ${accepted.join(' or ')}`,
          });
          return;
        }
        consumed.add(`${source.stage}.${source.output}`);
        sources.push(source);
      });
      list.push({ port, sources, multiple: !!portSpec.multiple });
    }
    for (const [port, portSpec] of Object.entries(declared)) {
      if (!portSpec.optional && !Object.hasOwn(given, port)) {
        const kinds = typeof portSpec.kind === 'string' ? portSpec.kind : portSpec.kind.join(' or ');
        errors.push({ path: base, message: `missing required input "${port}" (${kinds}) of ${stage.plugin.type}` });
      }
    }
    bindings.set(id, list);
  }

  // 3. Cycles.
  const deps = new Map<string, string[]>();
  for (const [id, list] of bindings) deps.set(id, [...new Set(list.flatMap((b) => b.sources.map((s) => s.stage)))]);
  const cycle = findCycle(stageIds.filter((id) => deps.has(id)), deps);
  if (cycle) {
    // A long cycle (a generated file) is shown by its ends: the line stays readable.
    const shown = cycle.length <= 20 ? cycle.join(' → ') : `${cycle.slice(0, 8).join(' → ')} → … (${cycle.length - 11} more) … → ${cycle.slice(-3).join(' → ')}`;
    errors.push({ path: '/stages', message: `the stages form a cycle${cycle.length > 20 ? ` of ${cycle.length - 1} stages` : ''}: ${shown}` });
  }

  // 4. Unused stages (warning).
  for (const [id, stage] of resolved) {
    const outputs = Object.entries(stage.plugin.outputs);
    const producesReport = outputs.some(([, o]) => o.kind === 'report');
    const used = outputs.some(([name]) => consumed.has(`${id}.${name}`));
    if (!used && !producesReport && outputs.length > 0) {
      warnings.push({ path: `/stages/${escapePointer(id)}`, message: `nothing uses the outputs of stage "${id}" and it produces no report` });
    }
  }

  if (errors.length) return { errors, warnings };
  const order = topologicalOrder(stageIds, deps);
  const stages = order.map((id) => ({ ...strip(resolved.get(id)!), inputs: bindings.get(id)!, dependsOn: deps.get(id)! }));
  return { pipeline: { spec, stages, warnings }, errors, warnings };
}

function strip(s: Omit<ResolvedStage, 'inputs' | 'dependsOn'> & { spec: StageSpec }): Omit<ResolvedStage, 'inputs' | 'dependsOn'> {
  const { spec: _spec, ...rest } = s;
  return rest;
}

function resolveReference(
  ref: string,
  path: string,
  resolved: ReadonlyMap<string, { plugin: StagePlugin }>,
  spec: PipelineSpec,
  errors: PipelineIssue[],
): { stage: string; output: string } | undefined {
  const parsed = parseReference(ref);
  if (typeof parsed === 'string') {
    errors.push({ path, message: parsed });
    return undefined;
  }
  const stageId = formatSelector(parsed);
  const output = parsed.output;
  if (!Object.hasOwn(spec.stages, stageId)) {
    const near = nearest(stageId, Object.keys(spec.stages));
    errors.push({ path, message: `input refers to stage "${stageId}", which does not exist${near ? ` (did you mean "${near}"?)` : ''}` });
    return undefined;
  }
  const producer = resolved.get(stageId);
  if (!producer) return undefined; // its type is unknown: already reported
  const outputs = Object.keys(producer.plugin.outputs);
  if (output === undefined) {
    if (outputs.length === 1) return { stage: stageId, output: outputs[0]! };
    errors.push({
      path,
      message: outputs.length
        ? `stage "${stageId}" has several outputs (${outputs.join(', ')}); name one as "${stageId}.<output>"`
        : `stage "${stageId}" has no outputs`,
    });
    return undefined;
  }
  if (!outputs.includes(output)) {
    errors.push({ path, message: `stage "${stageId}" (${producer.plugin.type}) has no output "${output}" (outputs: ${outputs.join(', ') || 'none'})` });
    return undefined;
  }
  return { stage: stageId, output };
}

/**
 * A cycle among `ids`, in dependency order, or undefined. Iterative (an explicit stack), so a
 * cycle of 10,000 stages is found like one of three.
 */
function findCycle(ids: readonly string[], deps: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  for (const root of ids) {
    if (state.has(root)) continue;
    const path: string[] = [];
    const next: number[] = [];
    state.set(root, 'visiting');
    path.push(root);
    next.push(0);
    while (path.length) {
      const id = path[path.length - 1]!;
      const list = deps.get(id) ?? [];
      const i = next[next.length - 1]!;
      if (i >= list.length) {
        state.set(id, 'done');
        path.pop();
        next.pop();
        continue;
      }
      next[next.length - 1] = i + 1;
      const d = list[i]!;
      const s = state.get(d);
      // Print the cycle in data-flow order (producer → consumer).
      if (s === 'visiting') return [...path.slice(path.indexOf(d)), d].reverse();
      if (s === undefined) {
        state.set(d, 'visiting');
        path.push(d);
        next.push(0);
      }
    }
  }
  return undefined;
}

/** Dependencies before dependents, ties in `ids` order (depth-first, iterative). */
function topologicalOrder(ids: readonly string[], deps: ReadonlyMap<string, readonly string[]>): string[] {
  const out: string[] = [];
  const done = new Set<string>();
  for (const root of ids) {
    if (done.has(root)) continue;
    done.add(root);
    const path: string[] = [root];
    const next: number[] = [0];
    while (path.length) {
      const id = path[path.length - 1]!;
      const list = deps.get(id) ?? [];
      const i = next[next.length - 1]!;
      if (i >= list.length) {
        out.push(id);
        path.pop();
        next.pop();
        continue;
      }
      next[next.length - 1] = i + 1;
      const d = list[i]!;
      if (done.has(d)) continue;
      done.add(d);
      path.push(d);
      next.push(0);
    }
  }
  return out;
}

/** The sentence for a key of the envelope that breaks a propertyNames rule (`rules`: the failed keywords). */
function nameMessage(container: string, name: string, rules: readonly string[]): string {
  const what = container === '/stages' ? 'stage id' : /\/matrix$/.test(container) ? 'axis name' : /\/trials$/.test(container) ? 'trial value name' : container === '/groups' ? 'group name' : 'name';
  const shown = abbreviate(name);
  if (rules.includes('maxLength')) {
    const why = container === '/stages' ? ' (ids become folder and file names; a matrix copy\'s id includes its axes and labels: give long values a short "id")' : '';
    return `${what} "${shown}" is ${name.length} characters long; at most ${MAX_ID_LENGTH}${why}`;
  }
  return `${what} "${shown}" must start with a letter and use only letters, digits, "-" and "_"`;
}

/** The shapes an `anyOf` allows, in words: "a string or a list of strings". */
function describeAlternatives(branches: unknown): string {
  const one = (b: unknown): string => {
    if (!isObject(b)) return 'a valid value';
    const types = [b['type']].flat().filter((t): t is string => typeof t === 'string');
    const words = types.map((t) => {
      if (t === 'array') {
        const item = isObject(b['items']) ? one(b['items']) : '';
        return item && item !== 'a valid value' ? `a list of ${item.replace(/^an? /, '')}s` : 'a list';
      }
      if (t === 'string' && typeof b['pattern'] === 'string') return `a string matching ${b['pattern']}`;
      return { string: 'a string', integer: 'an integer', number: 'a number', boolean: 'a boolean', object: 'an object', null: 'null' }[t] ?? `a ${t}`;
    });
    if (types.includes('object') && Array.isArray(b['required'])) return `an object with ${b['required'].map((r) => `"${String(r)}"`).join(', ')}`;
    return words.length ? words.join(' or ') : 'a valid value';
  };
  return Array.isArray(branches) ? branches.map(one).join(', or ') : 'a valid value';
}

export { nearest };

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

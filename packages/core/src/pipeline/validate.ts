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
import { pipelineEnvelopeSchema, type PipelineSpec, type StageSpec } from './spec.js';
import { formatSelector, parseReference } from './stage-ref.js';
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
    for (const e of check.errors ?? []) {
      const path = e.keyword === 'propertyNames' ? `${e.instancePath}/${escapePointer(String((e.params as { propertyName?: string }).propertyName ?? ''))}` : e.instancePath;
      const message =
        e.keyword === 'propertyNames' || (e.keyword === 'pattern' && e.instancePath === '')
          ? `stage id "${String((e.params as { propertyName?: string }).propertyName)}" must start with a letter and use only letters, digits, "-" and "_"`
          : e.keyword === 'additionalProperties'
            ? `unknown field "${String((e.params as { additionalProperty: string }).additionalProperty)}"`
            : e.keyword === 'required'
              ? `missing required field "${String((e.params as { missingProperty: string }).missingProperty)}"`
              : describeAjvError(e);
      // ajv reports a failed propertyNames twice (pattern + propertyNames); keep one.
      if (e.keyword === 'pattern' && e.schemaPath.includes('propertyNames')) continue;
      errors.push({ path, message });
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
    resolved.set(id, { id, plugin: entry.plugin, packageName: entry.packageName, params, nested: nested.uses, seed: stage.seed ?? spec.seed ?? 0, spec: stage });
  }

  // 2. Inputs: references, ports and kinds.
  const bindings = new Map<string, InputBinding[]>();
  const consumed = new Set<string>();
  for (const [id, stage] of resolved) {
    const base = `/stages/${escapePointer(id)}/inputs`;
    const declared = stage.plugin.inputs;
    const given = stage.spec.inputs ?? {};
    const list: InputBinding[] = [];
    for (const [port, ref] of Object.entries(given)) {
      const portSpec: InputPort | undefined = declared[port];
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
      if (!portSpec.optional && !(port in given)) {
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
  if (cycle) errors.push({ path: '/stages', message: `the stages form a cycle: ${cycle.join(' → ')}` });

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

function findCycle(ids: readonly string[], deps: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'visiting') return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 'visiting');
    stack.push(id);
    for (const d of deps.get(id) ?? []) {
      const c = visit(d);
      if (c) return c;
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const id of ids) {
    const c = visit(id);
    // Print the cycle in data-flow order (producer → consumer).
    if (c) return c.reverse();
  }
  return undefined;
}

function topologicalOrder(ids: readonly string[], deps: ReadonlyMap<string, readonly string[]>): string[] {
  const out: string[] = [];
  const done = new Set<string>();
  const visit = (id: string) => {
    if (done.has(id)) return;
    done.add(id);
    for (const d of deps.get(id) ?? []) visit(d);
    out.push(id);
  };
  for (const id of ids) visit(id);
  return out;
}

export { nearest };

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

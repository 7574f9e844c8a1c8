/**
 * A conformance suite for plugin authors (`@fairtune/core/testing`): checks a stage plugin, or a
 * nested plugin (training strategy, sampler, pruner), against the whole contract the runtime
 * relies on, not just one run's params and outputs. Each check gives a sentence saying what
 * failed; `expectConformance` throws them all at once for a jest test.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Artifact, JsonObject } from './contracts/artifact.js';
import { errorCode } from './contracts/errors.js';
import type { NestedPlugin } from './contracts/nested-plugin.js';
import type { StagePlugin } from './contracts/stage-plugin.js';
import type { BatchInfo, TrainingStrategyPlugin } from './contracts/training-strategy.js';
import type { TrialRunner } from './contracts/trials.js';
import { writeArtifact } from './cache/artifact-codec.js';
import { compileSchema } from './pipeline/ajv.js';
import { resolveNestedParams } from './pipeline/nested-plugins.js';
import { resolveParams, runStandalone, type StandaloneRunOptions } from './testing.js';

export interface ConformanceCheck {
  readonly name: string;
  readonly ok: boolean;
  /** What is wrong, for a failed check. */
  readonly problem?: string;
  /** Why a check was not run (e.g. no inputs to take away). */
  readonly skipped?: string;
}

export interface ConformanceReport {
  readonly plugin: string;
  readonly checks: readonly ConformanceCheck[];
  /** `<check>: <problem>` for every failed check. */
  readonly failures: readonly string[];
}

export interface StageSample extends Omit<StandaloneRunOptions, 'workDir' | 'signal' | 'trials'> {
  /**
   * For a stage type with `runsTrials`: makes the trial runner given as `ctx.trials`, afresh for
   * every run the suite makes (a runner numbers its trials, so one must not be shared by runs).
   */
  readonly trials?: () => TrialRunner;
  /** Params that must be rejected; default: the first property of the schema set to a value of the wrong type. */
  readonly junkParams?: JsonObject;
  /** How long the stage runs before it is aborted (ms, default 0: right after it starts). */
  readonly abortAfterMs?: number;
}

function report(plugin: string, checks: ConformanceCheck[]): ConformanceReport {
  return { plugin, checks, failures: checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.problem}`) };
}

/** Throws one Error listing every failed check (for `await expectConformance(…)` in a test). */
export async function expectConformance(report: ConformanceReport | Promise<ConformanceReport>): Promise<void> {
  const r = await report;
  if (r.failures.length) throw new Error(`${r.plugin} does not conform (${r.failures.length} problem${r.failures.length === 1 ? '' : 's'}):\n${r.failures.map((f) => `  - ${f}`).join('\n')}`);
}

/** A value of another type than the property's schema asks for (an object for a scalar, a number for the rest). */
export function junkFor(schema: { [key: string]: unknown }): { pointer: string; params: JsonObject } | undefined {
  const props = (schema['properties'] ?? {}) as Record<string, { type?: unknown }>;
  const [name, prop] = Object.entries(props)[0] ?? [];
  if (name !== undefined) {
    const types = [prop?.type].flat();
    return { pointer: `/${name}`, params: { [name]: types.includes('object') || types.includes('array') ? 12345 : { junk: true } } };
  }
  if (schema['additionalProperties'] === false) return { pointer: '', params: { 'x-junk': 1 } };
  return undefined;
}

function checkSchema(schema: { [key: string]: unknown }, validate: (params: JsonObject) => unknown, junk: JsonObject | undefined, junkPointer: string | undefined): ConformanceCheck[] {
  const checks: ConformanceCheck[] = [];
  try {
    compileSchema(schema);
    checks.push({ name: 'params schema compiles', ok: true });
  } catch (e) {
    checks.push({ name: 'params schema compiles', ok: false, problem: (e as Error).message });
    return checks;
  }
  if (!junk) {
    checks.push({ name: 'junk params are rejected with a JSON pointer', ok: true, skipped: 'the schema has no properties and accepts any object' });
    return checks;
  }
  try {
    validate(junk);
    checks.push({ name: 'junk params are rejected with a JSON pointer', ok: false, problem: `params ${JSON.stringify(junk)} were accepted` });
  } catch (e) {
    const msg = (e as Error).message;
    const named = junkPointer === undefined || msg.includes(`${junkPointer}:`) || msg.includes(`params${junkPointer}`);
    const coded = errorCode(e) !== undefined;
    const problem = !named ? `the error does not point at ${junkPointer || 'the params'}: ${msg}` : !coded ? `the error has no FT_ code: ${msg}` : undefined;
    checks.push({ name: 'junk params are rejected with a JSON pointer', ok: !problem, ...(problem ? { problem } : {}) });
  }
  return checks;
}

/** SHA-256 over an artifact as the cache stores it (manifest with the workDir's path masked, arrays, files). */
function artifactDigest(a: Artifact, workDir: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'fairtune-conformance-'));
  try {
    writeArtifact(dir, a);
    const hash = createHash('sha256');
    const walk = (d: string, rel: string) => {
      for (const name of readdirSync(d).sort()) {
        const p = join(d, name);
        if (statSync(p).isDirectory()) walk(p, `${rel}${name}/`);
        else hash.update(`${rel}${name}\0`).update(name === 'manifest.json' ? readFileSync(p, 'utf8').split(workDir).join('<workDir>') : readFileSync(p));
      }
    };
    walk(dir, '');
    return hash.digest('hex');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The sample as runStandalone's options (a fresh trial runner, when the stage runs trials). */
function standalone(sample: StageSample, workDir: string, signal?: AbortSignal): StandaloneRunOptions {
  const { trials, junkParams: _junk, abortAfterMs: _after, ...rest } = sample;
  return { ...rest, workDir, ...(signal ? { signal } : {}), ...(trials ? { trials: trials() } : {}) };
}

async function runOnce(plugin: StagePlugin, sample: StageSample): Promise<{ digests: Record<string, string>; kinds: Record<string, string[]> }> {
  const workDir = mkdtempSync(join(tmpdir(), 'fairtune-conformance-run-'));
  try {
    const { outputs, events } = await runStandalone(plugin, standalone(sample, workDir));
    const kinds: Record<string, string[]> = {};
    for (const e of events) if (e.type === 'artifact') (kinds[e.port] ??= []).push(e.artifact.kind);
    const digests = Object.fromEntries(Object.entries(outputs).map(([port, a]) => [port, artifactDigest(a, workDir)]));
    return { digests, kinds };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

async function checkAbort(plugin: StagePlugin, sample: StageSample): Promise<ConformanceCheck> {
  const name = 'an abort stops the stage within a second';
  const controller = new AbortController();
  const workDir = mkdtempSync(join(tmpdir(), 'fairtune-conformance-abort-'));
  const after = sample.abortAfterMs ?? 0;
  let abortedAt = Number.NaN;
  const timer = setTimeout(() => {
    abortedAt = performance.now();
    controller.abort(new Error('conformance: aborted'));
  }, after);
  const started = performance.now();
  try {
    // Through runStandalone, so nested plugins in the params (a training strategy) are resolved as in a run.
    await runStandalone(plugin, standalone(sample, workDir, controller.signal));
  } catch {
    // An abort error is the expected way to stop; any error counts as stopping.
  } finally {
    clearTimeout(timer);
    rmSync(workDir, { recursive: true, force: true });
  }
  const ended = performance.now();
  // Finished before the abort fired: it cannot have ignored it, but nothing was tested either
  // (a tiny sample): say so rather than pass silently. Otherwise measure from the moment the abort
  // was due (a stage blocking the event loop delays the timer itself).
  if (Number.isNaN(abortedAt)) return { name, ok: true, skipped: `the sample run finished in ${Math.round(ended - started)} ms, before the abort was due: give a sample that runs longer (or a smaller abortAfterMs) to test it` };
  const late = ended - (started + after);
  return late <= 1000 ? { name, ok: true } : { name, ok: false, problem: `it ran ${Math.round(late)} ms after the abort` };
}

/**
 * Runs the stage with its required inputs absent: the error must name a port or its kind, not be
 * a TypeError, and carry an FT_ code (FT_INPUT_MISSING from `requireInput`/`stageInputs`).
 */
async function checkErrorNames(plugin: StagePlugin, sample: StageSample): Promise<ConformanceCheck> {
  const name = 'errors name what they are about';
  const required = Object.entries(plugin.inputs).filter(([, p]) => !p.optional);
  if (!required.length) return { name, ok: true, skipped: 'no required inputs to take away' };
  try {
    const workDir = mkdtempSync(join(tmpdir(), 'fairtune-conformance-inputs-'));
    try {
      await runStandalone(plugin, { ...standalone(sample, workDir), inputs: {} });
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
    return { name, ok: false, problem: `it succeeded without its required input(s) ${required.map(([n]) => n).join(', ')}` };
  } catch (e) {
    const err = e as Error;
    const words = required.flatMap(([n, p]) => [n, ...[p.kind].flat()]);
    if (err instanceof TypeError || err instanceof ReferenceError) return { name, ok: false, problem: `without its inputs it fails with a ${err.name}: ${err.message}` };
    if (!words.some((w) => err.message.includes(w))) return { name, ok: false, problem: `without its inputs the error names none of ${words.join(', ')}: ${err.message}` };
    if (!errorCode(err)) return { name, ok: false, problem: `without its inputs the error has no FT_ code (read inputs with requireInput or stageInputs from @fairtune/core/plugin): ${err.message}` };
    return { name, ok: true };
  }
}

/**
 * Checks a stage plugin: params schema compiles and rejects junk with a pointer; every declared
 * output emitted exactly once with its declared kind; the same params and inputs give
 * byte-identical outputs (and the same fingerprint, when the plugin has one); an abort stops it
 * within a second; an error for missing inputs names them.
 */
export async function checkStageConformance(plugin: StagePlugin, sample: StageSample = {}): Promise<ConformanceReport> {
  const junk = sample.junkParams ? { pointer: undefined, params: sample.junkParams } : junkFor(plugin.paramsSchema);
  const checks = checkSchema(plugin.paramsSchema, (p) => resolveParams(plugin, p), junk && { ...sample.params, ...junk.params }, junk?.pointer);
  let first: Awaited<ReturnType<typeof runOnce>> | undefined;
  try {
    first = await runOnce(plugin, sample);
    const wrong = Object.entries(plugin.outputs).filter(([port, p]) => first!.kinds[port]?.length !== 1 || first!.kinds[port]![0] !== p.kind);
    checks.push(wrong.length ? { name: 'every declared output is emitted once with its kind', ok: false, problem: wrong.map(([port, p]) => `${port} (${p.kind}) was emitted as [${(first!.kinds[port] ?? []).join(', ')}]`).join('; ') } : { name: 'every declared output is emitted once with its kind', ok: true });
  } catch (e) {
    checks.push({ name: 'every declared output is emitted once with its kind', ok: false, problem: `the sample run failed: ${(e as Error).message}` });
  }
  if (first) {
    try {
      const second = await runOnce(plugin, sample);
      const differ = Object.keys(first.digests).filter((port) => first!.digests[port] !== second.digests[port]);
      checks.push(differ.length ? { name: 'the same params and inputs give byte-identical outputs', ok: false, problem: `output(s) ${differ.join(', ')} differ between two runs` } : { name: 'the same params and inputs give byte-identical outputs', ok: true });
    } catch (e) {
      checks.push({ name: 'the same params and inputs give byte-identical outputs', ok: false, problem: `the second run failed: ${(e as Error).message}` });
    }
  }
  if (plugin.fingerprint) {
    const params = resolveParams(plugin, sample.params);
    const [a, b] = [await plugin.fingerprint(params), await plugin.fingerprint(params)];
    checks.push(a === b ? { name: 'the fingerprint (cache key input) is stable', ok: true } : { name: 'the fingerprint (cache key input) is stable', ok: false, problem: `${a} then ${b}` });
  }
  checks.push(await checkAbort(plugin, sample));
  checks.push(await checkErrorNames(plugin, sample));
  return report(plugin.type, checks);
}

export interface NestedSample {
  readonly params?: JsonObject;
  readonly junkParams?: JsonObject;
}

/**
 * Checks a nested plugin of `kind`: params schema compiles, its defaults resolve, junk is rejected
 * with a pointer. For a training strategy also: two strategies created alike give the same loss
 * weights for the same batches (finite, ≥ 0) and the same state, and the state is JSON.
 */
export function checkNestedConformance(kind: string, plugin: NestedPlugin, sample: NestedSample = {}): ConformanceReport {
  const junk = sample.junkParams ? { pointer: undefined, params: sample.junkParams } : junkFor(plugin.paramsSchema);
  const checks = checkSchema(plugin.paramsSchema, (p) => resolveNestedParams(kind, plugin, p), junk && { ...sample.params, ...junk.params }, junk?.pointer);
  let params: JsonObject | undefined;
  try {
    params = resolveNestedParams(kind, plugin, sample.params ?? {});
    checks.push({ name: 'sample params resolve with defaults', ok: true });
  } catch (e) {
    checks.push({ name: 'sample params resolve with defaults', ok: false, problem: (e as Error).message });
  }
  if (params && kind === 'training-strategy') checks.push(...checkStrategy(plugin as TrainingStrategyPlugin, params));
  return report(`${kind} "${plugin.name}"`, checks);
}

function checkStrategy(plugin: TrainingStrategyPlugin, params: JsonObject): ConformanceCheck[] {
  const name = 'the same init and batches give the same loss weights';
  const trainGroups = Int32Array.from({ length: 24 }, (_, i) => i % 3);
  const init = { params, trainGroups, groupNames: ['g0', 'g1', 'g2'], epochs: 2, stepsPerEpoch: 3, batchSize: 8, seed: 11, log: () => {} };
  const batches: BatchInfo[] = Array.from({ length: 3 }, (_, step) => {
    const indices = Int32Array.from({ length: 8 }, (_, i) => (step * 8 + i) % 24);
    return { epoch: 0, step, totalSteps: 6, indices, groups: indices.map((i) => trainGroups[i]!), losses: Float32Array.from(indices, (i) => 0.5 + (i % 5) * 0.3) };
  });
  const trace = () => {
    const s = plugin.create(init);
    const out: number[][] = [Array.from(s.samplingWeights?.(0) ?? [])];
    for (const b of batches) {
      out.push(Array.from(s.lossWeights?.(b) ?? []));
      s.afterStep?.(b);
    }
    s.afterEpoch?.({ epoch: 0, trainLoss: 1, trainGroupLoss: Float64Array.of(1, 1.2, 0.8) });
    return { out, state: s.state?.() };
  };
  const checks: ConformanceCheck[] = [];
  try {
    const [a, b] = [trace(), trace()];
    const same = JSON.stringify(a) === JSON.stringify(b);
    const bad = a.out.flat().filter((w) => !Number.isFinite(w) || w < 0);
    checks.push(!same ? { name, ok: false, problem: 'two strategies created with the same init gave different weights or state' } : bad.length ? { name, ok: false, problem: `weights ${bad.slice(0, 3).join(', ')} are not finite and ≥ 0` } : { name, ok: true });
    checks.push(a.state === undefined || JSON.stringify(JSON.parse(JSON.stringify(a.state))) === JSON.stringify(a.state) ? { name: 'state() is JSON', ok: true } : { name: 'state() is JSON', ok: false, problem: 'state() does not survive JSON' });
  } catch (e) {
    checks.push({ name, ok: false, problem: `create or a hook threw: ${(e as Error).message}` });
  }
  return checks;
}

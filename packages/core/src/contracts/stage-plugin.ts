/**
 * The contract every stage plugin implements. Plugins compute; the executor does the I/O
 * (loading inputs from the cache, persisting outputs, writing run records).
 */
import type { Observable } from 'rxjs';
import type { ServiceIdentifier } from 'inversify';
import { requireInput, requireInputs, type Artifact, type JsonObject, type KindArtifact } from './artifact.js';
import type { TrialRunner } from './trials.js';

/** A JSON Schema (draft-07 subset understood by ajv) for a plugin's params object. */
export type JsonSchema = { [key: string]: unknown };

/**
 * Schema keyword marking a param secret (`"token": { "type": "string", "x-fairtune-secret": true }`):
 * the stage receives the value, and the run record, the cache and the readable cache-key recipe
 * hold `[redacted]` instead. A secret is a credential: it must not change what the stage
 * computes, and it does not join the cache key (docs/pipelines.md, "Untrusted input").
 */
export const SECRET_PARAM_KEYWORD = 'x-fairtune-secret';

export interface InputPort {
  /** Accepted artifact kind(s). */
  readonly kind: string | readonly string[];
  readonly description?: string;
  /** The pipeline may leave this input unconnected. */
  readonly optional?: boolean;
  /** The pipeline may connect a list of producers; the plugin then receives an array of artifacts. */
  readonly multiple?: boolean;
}

export interface OutputPort {
  readonly kind: string;
  readonly description?: string;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type StageEvent =
  /** Work done so far; `total` enables a bar and an ETA. `unit` names what is counted (steps, subjects, …). */
  | { readonly type: 'progress'; readonly done: number; readonly total?: number; readonly unit?: string; readonly message?: string }
  | { readonly type: 'log'; readonly level: LogLevel; readonly message: string }
  /** A scalar measurement; `step`/`epoch` order series such as training curves. */
  | { readonly type: 'metric'; readonly name: string; readonly value: number; readonly step?: number; readonly epoch?: number }
  /** One output of the stage; every declared output port must be emitted exactly once. */
  | { readonly type: 'artifact'; readonly port: string; readonly artifact: Artifact }
  /** A fact about the environment the stage ran in (e.g. `tensorBackend`), recorded in the run record. */
  | { readonly type: 'environment'; readonly key: string; readonly value: string };

/** The kinds a port accepts, as a union of string literals. */
export type PortKind<Port extends InputPort | OutputPort> = Port['kind'] extends readonly (infer U extends string)[] ? U : Port['kind'] & string;

/** What an input port binds: one artifact of its kind(s), or a list for a `multiple` port. */
export type PortArtifact<Port extends InputPort> = Port extends { readonly multiple: true } ? readonly KindArtifact<PortKind<Port>>[] : KindArtifact<PortKind<Port>>;

/** A stage's inputs typed from its declared ports: optional ports may be absent. */
export type StageInputs<I extends Readonly<Record<string, InputPort>>> = {
  readonly [K in keyof I as I[K] extends { readonly optional: true } ? never : K]: PortArtifact<I[K]>;
} & {
  readonly [K in keyof I as I[K] extends { readonly optional: true } ? K : never]?: PortArtifact<I[K]>;
};

/**
 * Declares input ports keeping their kinds as literal types, so `stageInputs(ctx.inputs, PORTS)`
 * can type each input's meta (`inputPorts({ samples: { kind: 'samples' } })`).
 */
export function inputPorts<const I extends Readonly<Record<string, InputPort>>>(ports: I): I {
  return ports;
}

/** Declares output ports keeping their kinds as literal types (see `inputPorts`). */
export function outputPorts<const O extends Readonly<Record<string, OutputPort>>>(ports: O): O {
  return ports;
}

/**
 * A stage's inputs checked against its declared ports and typed by them: a required port that is
 * absent is an FT_INPUT_MISSING error, an artifact of another kind (or a list on a single port)
 * FT_INPUT_KIND, each naming the port; a `multiple` port always comes back as a list. The executor
 * already guarantees this for pipeline runs; the check protects runs by hand (runStandalone, tests).
 */
export function stageInputs<const I extends Readonly<Record<string, InputPort>>>(inputs: Readonly<Record<string, Artifact | readonly Artifact[]>>, ports: I): StageInputs<I> {
  const typed: Record<string, Artifact | readonly Artifact[]> = {};
  for (const [port, decl] of Object.entries(ports)) {
    if (inputs[port] === undefined && decl.optional) continue;
    typed[port] = decl.multiple ? requireInputs(inputs, port, decl.kind) : requireInput(inputs, port, decl.kind);
  }
  return typed as StageInputs<I>;
}

export interface StageContext<P = JsonObject> {
  readonly pipelineName: string;
  readonly stageId: string;
  /** Params after environment substitution, `--set` overrides and schema defaults. */
  readonly params: P;
  /** Loaded input artifacts by port name (an array for `multiple` ports, absent for unconnected optional ports). */
  readonly inputs: Readonly<Record<string, Artifact | readonly Artifact[]>>;
  /**
   * Seed of this stage: its own `seed` in the pipeline, else the pipeline's. Stages with the same
   * seed draw the same streams, so derive one per purpose with `deriveSeed(seed, 'label')`.
   */
  readonly seed: number;
  /** Empty scratch directory owned by this execution. Files referenced by output artifacts must be written here. */
  readonly workDir: string;
  /** The run directory (`runs/<pipeline>/<run id>`); plugins must not rely on it for outputs (use artifacts). */
  readonly runDir: string;
  /** Aborted on Ctrl-C or when another stage fails; long loops should check it and stop. */
  readonly signal: AbortSignal;
  /** The trial subgraph the stage runs (its `trials` in the pipeline), for types with `runsTrials`. */
  readonly trials?: TrialRunner;
}

export interface StagePlugin<P = any> {
  /** Namespaced id, e.g. `data.dalia`, `train.finetune`. */
  readonly type: string;
  /** Bump when the plugin's output for the same params and inputs changes; part of the cache key. */
  readonly version: string;
  readonly description: string;
  /** JSON Schema of the params object; `default`s are applied before `run`. Write `errorMessage`s inline. */
  readonly paramsSchema: JsonSchema;
  readonly inputs: Readonly<Record<string, InputPort>>;
  readonly outputs: Readonly<Record<string, OutputPort>>;
  /**
   * The stage runs a trial subgraph of its pipeline (an optimiser): the pipeline must name one in
   * the stage's `trials`, and `ctx.trials` runs it (contracts/trials.ts). While it waits on its
   * trials the stage holds no concurrency slot.
   */
  readonly runsTrials?: boolean;
  run(ctx: StageContext<P>): Observable<StageEvent>;
  /**
   * Optional notices shown before the run starts (e.g. "data root absent: using the synthetic
   * cohort"), so they are the first thing a user reads. Must be cheap and side-effect free.
   */
  preflight?(params: P): readonly string[];
  /**
   * Optional fingerprint of what the stage reads from outside the pipeline (e.g. a dataset
   * folder: file names, sizes and modification times). It joins the cache key, so replacing
   * the data on disk re-runs the stage. Must be cheap (stat, not read). `undefined` means the
   * stage reads nothing from outside with these params (e.g. no weights file given), and leaves
   * the key exactly as a stage without a fingerprint has it.
   */
  fingerprint?(params: P): string | undefined | Promise<string | undefined>;
}

/** Multi-injection token every plugin package binds its stage plugins to. `Symbol.for` survives duplicate copies of core. */
export const STAGE_PLUGIN: ServiceIdentifier<StagePlugin> = Symbol.for('@fairtune/core:StagePlugin');

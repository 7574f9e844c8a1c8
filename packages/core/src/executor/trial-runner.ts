/**
 * The executor's side of trial subgraphs (contracts/trials.ts): binds a trial's values into its
 * group's stages, keys them like any stage, runs them through the executor's own stage runner
 * (cache, concurrency slots, run record, progress) and reports their events to the optimiser.
 * A trial's stages run one after another in dependency order; trials run concurrently. A stage
 * taken from the cache replays its recorded metric series to the optimiser, so an optimiser sees
 * the same events whether a trial ran now or earlier (and decides the same way).
 */
import type { Observable } from 'rxjs';
import type { Artifact, JsonValue } from '../contracts/artifact.js';
import type { MetricPoint } from '../cache/artifact-cache.js';
import type { TrialEvent, TrialOptions, TrialResult, TrialRunner, TrialStatus } from '../contracts/trials.js';
import type { Subgraph } from '../pipeline/subgraphs.js';
import type { ResolvedStage } from '../pipeline/validate.js';
import type { ExecutorEvent } from './executor.js';
import { stageKey } from './stage-keys.js';

export interface TrialDeps {
  /** Key of a stage of the pipeline (what trials read from outside their group). */
  readonly keyOf: (stageId: string) => string;
  /** Runs one stage through the executor; completes after its `stage-end`. */
  readonly run: (
    stage: ResolvedStage,
    key: string,
    signal: AbortSignal,
    why: () => string,
    load: (src: { stage: string; output: string }) => Artifact,
    saved: (stored: Readonly<Record<string, Artifact>>) => void,
    more: { readonly force: boolean; readonly replay: (series: readonly MetricPoint[]) => void },
  ) => Observable<ExecutorEvent>;
  /** The next trial number of the group (shared by every stage that runs it). */
  readonly nextNumber: () => number;
  /** Whether `--force` names this trial stage (by its id in the file) or a stage it reads. */
  readonly forced: (template: string, reads: readonly string[]) => boolean;
  /** A warning on the optimiser stage, in the run record and progress output. */
  readonly log: (message: string) => void;
  /** Forwards a trial stage's executor event to the run's stream (run record, progress). */
  readonly emit: (e: ExecutorEvent) => void;
  readonly loadExternal: (src: { stage: string; output: string }) => Artifact;
  /** Loads an output of a cached entry. */
  readonly loadCached: (key: string, port: string) => Artifact;
  /** The run's signal (Ctrl-C, another stage failing). */
  readonly signal: AbortSignal;
}

/** Thrown by `run` when the pipeline run itself is cancelled while a trial runs. */
export class TrialsCancelled extends Error {
  override readonly name = 'TrialsCancelled';
}

export function createTrialRunner(sg: Subgraph, user: string, deps: TrialDeps): TrialRunner {
  return {
    group: sg.group,
    defaults: sg.defaults,
    stages: sg.stages,
    run: (values, options = {}) => runTrial(sg, user, deps.nextNumber(), values, options, deps),
  };
}

async function runTrial(sg: Subgraph, user: string, number: number, values: Readonly<Record<string, JsonValue>>, options: TrialOptions, deps: TrialDeps): Promise<TrialResult> {
  const bound = { ...sg.defaults, ...values };
  const base = { number, values: bound, stageIds: {} as Record<string, string>, metrics: {} as Record<string, Record<string, number>>, cached: false };
  const resolved = sg.resolveTrial(values, number);
  if ('errors' in resolved) {
    const reason = `trial ${number} of "${user}": ${resolved.errors.map((e) => `${e.path || '/'}: ${e.message}`).join('; ')}`;
    deps.log(`${reason} (the trial did not run)`);
    return { ...base, status: 'failed', reason, output: () => notRun(reason) };
  }
  const templateOf = new Map(resolved.stages.map((s) => [s.id, sg.stages.find((t) => s.id.startsWith(`${t}[`))!]));
  for (const [id, t] of templateOf) base.stageIds[t] = id;

  const keys = await trialKeys(resolved.stages, deps.keyOf);
  const stop = new TrialStop(options.signal, deps.signal);
  const controller = stop.controller;

  const saved = new Map<string, Readonly<Record<string, Artifact>>>();
  const load = (src: { stage: string; output: string }): Artifact => {
    if (!keys.has(src.stage)) return deps.loadExternal(src);
    return saved.get(src.stage)?.[src.output] ?? deps.loadCached(keys.get(src.stage)!, src.output);
  };
  const tell = (e: TrialEvent) => {
    try {
      options.onEvent?.(e);
    } catch {
      // An optimiser's observer must not break the trial it observes.
    }
  };

  let failure: string | undefined;
  let allCached = true;
  const forced = new Set<string>();
  try {
    for (const s of resolved.stages) {
      const stage = templateOf.get(s.id)!;
      if (failure && !controller.signal.aborted) stop.abort(`stage "${failure}" of the trial failed`);
      // Forced when named, when it reads a forced stage of the pipeline, or a forced stage of the trial.
      if (deps.forced(stage, s.dependsOn.filter((d) => !keys.has(d))) || s.dependsOn.some((d) => forced.has(d))) forced.add(s.id);
      const replay = (series: readonly MetricPoint[]) => {
        for (const p of series) tell({ type: 'stage-event', trial: number, stage, stageId: s.id, event: { type: 'metric', name: p.name, value: p.value, ...(p.step !== undefined ? { step: p.step } : {}), ...(p.epoch !== undefined ? { epoch: p.epoch } : {}) } });
      };
      await new Promise<void>((resolve) => {
        deps.run(s, keys.get(s.id)!, controller.signal, () => stop.why || 'a stage of the trial failed', load, (stored) => saved.set(s.id, stored), { force: forced.has(s.id), replay }).subscribe({
          next: (e) => {
            deps.emit(e);
            if (e.type === 'stage-start') tell({ type: 'stage-start', trial: number, stage, stageId: s.id });
            else if (e.type === 'stage-event') {
              tell({ type: 'stage-event', trial: number, stage, stageId: s.id, event: e.event });
              if (e.event.type === 'metric') (base.metrics[stage] ??= {})[e.event.name] = e.event.value;
            } else if (e.type === 'stage-end') {
              tell({ type: 'stage-end', trial: number, stage, stageId: s.id, status: e.status });
              base.metrics[stage] = { ...(base.metrics[stage] ?? {}), ...e.metrics };
              if (e.status !== 'cached') allCached = false;
              if (e.status === 'failed') {
                failure = stage;
                stop.explain(`stage "${stage}" failed: ${e.reason ?? 'unknown error'}`);
              }
            }
          },
          complete: resolve,
          error: resolve,
        });
      });
    }
  } finally {
    stop.dispose();
  }
  if (deps.signal.aborted && !failure) throw new TrialsCancelled(`trial ${number} of "${user}" stopped: the run was cancelled`);
  const status: TrialStatus = failure ? 'failed' : options.signal?.aborted ? 'pruned' : 'completed';
  return {
    ...base,
    status,
    ...(status === 'completed' ? {} : { reason: stop.why }),
    cached: status === 'completed' && allCached,
    output: (stage, port) => {
      const id = base.stageIds[stage];
      if (!id) throw new Error(`trial ${number} has no stage "${stage}" (stages: ${Object.keys(base.stageIds).join(', ')})`);
      if (status !== 'completed') throw new Error(`trial ${number} was ${status}; its outputs are not available`);
      return load({ stage: id, output: port });
    },
  };
}

/** The keys of a trial's stages, from their bound params and the keys of what they read. */
async function trialKeys(stages: readonly ResolvedStage[], keyOf: (stageId: string) => string): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  for (const s of stages) {
    const fingerprint = s.plugin.fingerprint ? await s.plugin.fingerprint(s.params) : undefined;
    keys.set(s.id, stageKey(s, (id) => keys.get(id) ?? keyOf(id), fingerprint));
  }
  return keys;
}

/** A trial's own abort signal: the optimiser's (pruning) or the run's, with the first reason given. */
class TrialStop {
  readonly controller = new AbortController();
  why = '';
  readonly #onPrune = () => this.abort(`pruned${this.prune?.reason instanceof Error && this.prune.reason.message ? `: ${this.prune.reason.message}` : ''}`);
  readonly #onRunAbort = () => this.abort('the run was cancelled');

  constructor(
    private readonly prune: AbortSignal | undefined,
    private readonly run: AbortSignal,
  ) {
    if (prune?.aborted) this.#onPrune();
    else prune?.addEventListener('abort', this.#onPrune, { once: true });
    if (run.aborted) this.#onRunAbort();
    else run.addEventListener('abort', this.#onRunAbort, { once: true });
  }

  /** Keeps the first reason. */
  explain(reason: string): void {
    this.why ||= reason;
  }

  abort(reason: string): void {
    this.explain(reason);
    this.controller.abort(new Error(this.why));
  }

  dispose(): void {
    this.prune?.removeEventListener('abort', this.#onPrune);
    this.run.removeEventListener('abort', this.#onRunAbort);
  }
}

function notRun(reason: string): never {
  throw new Error(`the trial did not run: ${reason}`);
}

/** A counting semaphore: `acquire` resolves with a release function (safe to call twice). */
export class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  acquire(signal: AbortSignal): Promise<() => void> {
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal.removeEventListener('abort', onAbort);
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          const nextWaiter = this.#waiting.shift();
          if (nextWaiter) nextWaiter();
          else this.#free++;
        });
      };
      const onAbort = () => {
        const i = this.#waiting.indexOf(grant);
        if (i >= 0) this.#waiting.splice(i, 1);
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      if (signal.aborted) return onAbort();
      if (this.#free > 0) {
        this.#free--;
        grant();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(grant);
    });
  }
}

/**
 * The RxJS executor. Stages whose inputs are ready are scheduled as they become ready and run
 * within a shared number of concurrency slots (stage-runner.ts runs one stage); each finished
 * stage releases its dependents. A failing stage, or an abort (Ctrl-C), stops scheduling,
 * cancels running stages and marks the rest skipped; every artifact finished so far stays in the
 * cache.
 */
import { setMaxListeners } from 'node:events';
import { Observable, Subject, mergeMap } from 'rxjs';
import type { Artifact } from '../contracts/artifact.js';
import type { StageEvent } from '../contracts/stage-plugin.js';
import type { ArtifactCache } from '../cache/artifact-cache.js';
import type { ResolvedPipeline, ResolvedStage } from '../pipeline/validate.js';
import type { Subgraph } from '../pipeline/subgraphs.js';
import { runStage as runStageWith, type StageRun, type StageRunContext } from './stage-runner.js';
import { computeStageKeys } from './stage-keys.js';
import { createTrialRunner, Slots, type TrialDeps } from './trial-runner.js';
import type { TrialRunner } from '../contracts/trials.js';
import { startTrialWorkers, type WorkerLaunch, type WorkerRoleSpec } from './trial-workers.js';

export type StageStatus = 'executed' | 'cached' | 'failed' | 'skipped';
export type RunStatus = 'succeeded' | 'failed' | 'cancelled';

export type ExecutorEvent =
  | { readonly type: 'stage-start'; readonly stageId: string; readonly pluginType: string; readonly key: string; readonly time: number }
  | { readonly type: 'stage-event'; readonly stageId: string; readonly event: StageEvent; readonly time: number }
  | {
      readonly type: 'stage-end';
      readonly stageId: string;
      readonly status: StageStatus;
      readonly key: string;
      readonly pluginType?: string;
      readonly seconds: number;
      readonly metrics: Readonly<Record<string, number>>;
      /** Why a stage failed or was skipped. */
      readonly reason?: string;
      /** The FT_ code of the error a stage failed with, when it had one (docs/errors.md). */
      readonly code?: string;
      readonly time: number;
    }
  | { readonly type: 'run-end'; readonly status: RunStatus; readonly failedStage?: string; readonly reason?: string; readonly time: number };

export interface ExecuteOptions {
  readonly cache: ArtifactCache;
  readonly runDir: string;
  /** Maximum number of stages executing at once (default 2). */
  readonly concurrency?: number;
  /** Recompute every stage (`true`), or the named ones and their descendants, even when cached. */
  readonly force?: boolean | ReadonlySet<string>;
  readonly signal?: AbortSignal;
  /** Fingerprints of external inputs by stage id (see `StagePlugin.fingerprint`). */
  readonly fingerprints?: ReadonlyMap<string, string>;
  /** Trial workers: how to start them (the parent), or this process's role (a worker). */
  readonly trialWorkers?: TrialWorkerSetup;
}

/** What the executor needs for `TrialRunner.startWorkers` / `TrialRunner.worker` (executor/trial-workers.ts). */
export interface TrialWorkerSetup {
  /** How to start this run in another process; without it `startWorkers` is absent. */
  readonly launch?: WorkerLaunch;
  /** Set in a worker process: the stage it runs trials for (the pipeline holds only it and what it reads). */
  readonly role?: WorkerRoleSpec;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
}

export { StageFailure } from './stage-runner.js';

export function executePipeline(pipeline: ResolvedPipeline, options: ExecuteOptions): Observable<ExecutorEvent> {
  return new Observable<ExecutorEvent>((outer) => {
    const keys = computeStageKeys(pipeline, options.fingerprints);
    // Tells cache maintenance which entries this run reads or writes, and owns its tmp/ folder (cache/lease.ts).
    const lease = options.cache.lease(keys.values(), { pipeline: pipeline.spec.name });
    const byId = new Map(pipeline.stages.map((s) => [s.id, s]));
    const dependents = new Map<string, string[]>(pipeline.stages.map((s) => [s.id, []]));
    const waitingOn = new Map<string, number>();
    for (const s of pipeline.stages) {
      waitingOn.set(s.id, s.dependsOn.length);
      for (const d of s.dependsOn) dependents.get(d)!.push(s.id);
    }
    const memory = new RunMemory(pipeline, (src) => options.cache.load(keys.get(src.stage)!, src.output));

    const forced = forcedStages(pipeline, options.force, dependents);

    const controller = new AbortController();
    // Every stage waiting for a concurrency slot listens to it: a 1,000-stage matrix is not a leak.
    setMaxListeners(0, controller.signal);
    let abortReason: { status: RunStatus; stage?: string; reason: string } | undefined;
    const onExternalAbort = () => {
      abortReason ??= { status: 'cancelled', reason: 'interrupted' };
      controller.abort(new Error('interrupted'));
    };
    if (options.signal?.aborted) onExternalAbort();
    else options.signal?.addEventListener('abort', onExternalAbort, { once: true });

    const ended = new Set<string>();
    let scheduled = 0;
    const ready$ = new Subject<ResolvedStage>();
    const schedule = (s: ResolvedStage) => {
      scheduled++;
      ready$.next(s);
    };

    const finish = () => {
      const now = Date.now();
      for (const open of openTrialStages.values()) {
        outer.next({ type: 'stage-end', stageId: open.stageId, status: 'skipped', key: open.key, pluginType: open.pluginType, seconds: (now - open.time) / 1000, metrics: {}, reason: `not finished: ${abortReason?.reason ?? 'its optimiser ended'}`, time: now });
      }
      openTrialStages.clear();
      for (const s of pipeline.stages) {
        if (ended.has(s.id)) continue;
        outer.next({ type: 'stage-end', stageId: s.id, status: 'skipped', key: keys.get(s.id)!, seconds: 0, metrics: {}, reason: abortReason ? `not run: ${abortReason.reason}` : 'not run', time: now });
      }
      outer.next({ type: 'run-end', status: abortReason?.status ?? 'succeeded', failedStage: abortReason?.stage, reason: abortReason?.reason, time: now });
      ready$.complete();
      outer.complete();
    };

    const onStageEnd = (e: Extract<ExecutorEvent, { type: 'stage-end' }>) => {
      ended.add(e.stageId);
      memory.stageEnded(byId.get(e.stageId)!);
      if (e.status === 'failed' && !abortReason) {
        abortReason = { status: 'failed', stage: e.stageId, reason: `stage "${e.stageId}" failed: ${e.reason ?? 'unknown error'}` };
        controller.abort(new Error(abortReason.reason));
      }
      if (!controller.signal.aborted) {
        for (const d of dependents.get(e.stageId)!) {
          const left = waitingOn.get(d)! - 1;
          waitingOn.set(d, left);
          if (left === 0) schedule(byId.get(d)!);
        }
      }
      if (ended.size === scheduled && (controller.signal.aborted || ended.size === pipeline.stages.length)) finish();
    };

    // Concurrency slots, shared by the pipeline's stages and its trials' stages. A stage that runs
    // trials takes none: it only waits on them, so `--concurrency 1` cannot deadlock.
    const slots = new Slots(Math.max(1, options.concurrency ?? 2));
    // A worker recomputes the trial stages the parent recomputes (contracts/trials.ts, TrialWorkerRole).
    const forcedTemplates = (sg: Subgraph) => sg.resolvedDefaults.filter((s) => options.force === true || forced.has(s.id) || s.dependsOn.some((d) => forced.has(d))).map((s) => s.id);
    const runners = trialRunners(pipeline, { concurrency: Math.max(1, options.concurrency ?? 2), workers: options.trialWorkers, forcedTemplates }, {
      keyOf: (id) => keys.get(id)!,
      run: (s, key, signal, why, load, saved, more) => runStage({ stage: s, key, signal, why, load, saved, trial: true, ...more }),
      forced: (template, reads) => options.force === true || forced.has(template) || reads.some((id) => forced.has(id)),
      log: (user, message) => outer.next({ type: 'stage-event', stageId: user, event: { type: 'log', level: 'warn', message }, time: Date.now() }),
      emit: (e) => {
        if (e.type === 'stage-start') openTrialStages.set(e.stageId, e);
        if (e.type === 'stage-end') openTrialStages.delete(e.stageId);
        outer.next(e);
      },
      loadExternal: (src) => memory.get(src),
      loadCached: (key, port) => options.cache.load(key, port),
      signal: controller.signal,
    });
    const openTrialStages = new Map<string, Extract<ExecutorEvent, { type: 'stage-start' }>>();


    const stageContext: StageRunContext = {
      pipelineName: pipeline.spec.name,
      cache: options.cache,
      lease,
      runDir: options.runDir,
      slots,
      trialsOf: (id) => runners.get(id),
      failedStage: () => abortReason?.stage,
    };
    const runStage = (run: StageRun): Observable<ExecutorEvent> =>
      runStageWith({ ...run, force: options.force === true || forced.has(run.stage.id) || !!run.force }, stageContext);

    const runPipelineStage = (stage: ResolvedStage): Observable<ExecutorEvent> =>
      runStage({
        stage,
        key: keys.get(stage.id)!,
        signal: controller.signal,
        why: () => abortReason?.reason ?? 'interrupted',
        load: (src) => memory.get(src),
        saved: (stored) => memory.keep(stage.id, stored),
      });

    const subscription = ready$.pipe(mergeMap((s) => runPipelineStage(s))).subscribe({
      next: (e) => {
        outer.next(e);
        if (e.type === 'stage-end') onStageEnd(e);
      },
      error: (err) => outer.error(err),
    });
    const roots = pipeline.stages.filter((s) => s.dependsOn.length === 0);
    if (roots.length === 0) finish();
    for (const s of roots) schedule(s);
    return () => {
      options.signal?.removeEventListener('abort', onExternalAbort);
      controller.abort(new Error('unsubscribed'));
      subscription.unsubscribe();
      lease.release();
    };
  });
}

/** Artifacts of this run kept in memory until their last consumer has run. */
class RunMemory {
  readonly #kept = new Map<string, Artifact>();
  readonly #consumersLeft: Map<string, number>;

  constructor(
    private readonly pipeline: ResolvedPipeline,
    private readonly load: (src: { stage: string; output: string }) => Artifact,
  ) {
    this.#consumersLeft = countConsumers(pipeline);
  }

  /** An output, from memory or the cache (kept while more stages will read it). */
  get(src: { stage: string; output: string }): Artifact {
    const ref = `${src.stage}/${src.output}`;
    let a = this.#kept.get(ref);
    if (!a) {
      a = this.load(src);
      if ((this.#consumersLeft.get(ref) ?? 0) > 0) this.#kept.set(ref, a);
    }
    return a;
  }

  /** A stage's freshly saved outputs that other stages will read. */
  keep(stageId: string, stored: Readonly<Record<string, Artifact>>): void {
    for (const [port, a] of Object.entries(stored)) if ((this.#consumersLeft.get(`${stageId}/${port}`) ?? 0) > 0) this.#kept.set(`${stageId}/${port}`, a);
  }

  /** A stage ended: what it read (and, for an optimiser, what its trials read) has one consumer less. */
  stageEnded(stage: ResolvedStage): void {
    for (const b of stage.inputs) for (const src of b.sources) this.#release(`${src.stage}/${src.output}`);
    for (const sg of this.pipeline.subgraphs?.values() ?? []) {
      if (!sg.users.includes(stage.id)) continue;
      for (const s of sg.resolvedDefaults) for (const b of s.inputs) for (const src of b.sources) if (sg.external.includes(src.stage)) this.#release(`${src.stage}/${src.output}`);
    }
  }

  #release(ref: string): void {
    const left = (this.#consumersLeft.get(ref) ?? 1) - 1;
    this.#consumersLeft.set(ref, left);
    if (left <= 0) this.#kept.delete(ref);
  }
}

/** How many stages read each output (`<stage>/<port>`); what trials read counts once per optimiser. */
function countConsumers(pipeline: ResolvedPipeline): Map<string, number> {
  const consumersLeft = new Map<string, number>();
  const add = (ref: string) => consumersLeft.set(ref, (consumersLeft.get(ref) ?? 0) + 1);
  for (const s of pipeline.stages) for (const b of s.inputs) for (const src of b.sources) add(`${src.stage}/${src.output}`);
  // What trials read from outside their group stays in memory until their optimiser ends.
  for (const sg of pipeline.subgraphs?.values() ?? []) for (const s of sg.resolvedDefaults) for (const b of s.inputs) for (const src of b.sources) {
    if (sg.external.includes(src.stage)) for (const _user of sg.users) add(`${src.stage}/${src.output}`);
  }
  return consumersLeft;
}

/**
 * The stages `--force` recomputes: the named ones and their descendants (whose cache keys only
 * name the forced stage's recipe, so they would otherwise be reused over its new output). Naming
 * a stage of a trial group (by its id in the file) recomputes it in every trial, so its optimiser too.
 */
function forcedStages(pipeline: ResolvedPipeline, force: ExecuteOptions['force'], dependents: ReadonlyMap<string, readonly string[]>): Set<string> {
  const forced = new Set<string>();
  if (!(force instanceof Set)) return forced;
  // Iterative: a 10,000-stage chain would overflow the call stack recursively.
  const visit = (start: string) => {
    const todo = [start];
    while (todo.length) {
      const id = todo.pop()!;
      if (forced.has(id)) continue;
      forced.add(id);
      todo.push(...(dependents.get(id) ?? []));
    }
  };
  for (const id of force) visit(id);
  for (const sg of pipeline.subgraphs?.values() ?? []) if (sg.stages.some((id) => force.has(id))) for (const u of sg.users) visit(u);
  return forced;
}

/**
 * A trial runner for every stage that runs a trial group. Trial numbers count per group, across
 * every stage that runs it, so copy ids never clash.
 */
function trialRunners(
  pipeline: ResolvedPipeline,
  run: { concurrency: number; workers?: TrialWorkerSetup; forcedTemplates: (sg: Subgraph) => string[] },
  deps: Omit<TrialDeps, 'nextNumber' | 'log'> & { log: (user: string, message: string) => void },
): Map<string, TrialRunner> {
  const runners = new Map<string, TrialRunner>();
  const { launch, role, cwd, env } = run.workers ?? {};
  for (const sg of pipeline.subgraphs?.values() ?? []) {
    let next = 0;
    for (const user of sg.users) {
      const runner = createTrialRunner(sg, user, { ...deps, nextNumber: () => next++, log: (message) => deps.log(user, message) });
      const worker = role?.stage === user ? { index: role.index, data: role.data } : undefined;
      // A worker starts no workers of its own: its parent's pool is the one that counts them.
      const startWorkers: TrialRunner['startWorkers'] =
        launch && !role ? (count, options) => startTrialWorkers(launch, { pipeline: pipeline.spec.name, stage: user, force: run.forcedTemplates(sg), cwd: cwd!, env: env! }, count, options) : undefined;
      runners.set(user, { ...runner, concurrency: run.concurrency, ...(worker ? { worker } : {}), ...(startWorkers ? { startWorkers } : {}) });
    }
  }
  return runners;
}

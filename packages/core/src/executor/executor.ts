/**
 * The RxJS executor. Stages whose inputs are ready run concurrently up to a limit
 * (`mergeMap` with a concurrency bound); each finished stage releases its dependents. A
 * failing stage, or an abort (Ctrl-C), stops scheduling, cancels running stages and marks the
 * rest skipped; every artifact finished so far stays in the cache.
 */
import { setMaxListeners } from 'node:events';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Observable, Subject, mergeMap, type Subscription } from 'rxjs';
import type { Artifact } from '../contracts/artifact.js';
import type { StageEvent } from '../contracts/stage-plugin.js';
import type { ArtifactCache, MetricPoint } from '../cache/artifact-cache.js';
import type { ResolvedPipeline, ResolvedStage } from '../pipeline/validate.js';
import { acceptOutput, missingOutputs } from './outputs.js';
import { computeStageKeys } from './stage-keys.js';
import { createTrialRunner, Slots } from './trial-runner.js';
import type { TrialRunner } from '../contracts/trials.js';

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
}

export class StageFailure extends Error {
  override readonly name = 'StageFailure';
}

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
    // Artifacts of this run kept in memory until their last consumer has run.
    const memory = new Map<string, Artifact>();
    const consumersLeft = new Map<string, number>();
    for (const s of pipeline.stages) for (const b of s.inputs) for (const src of b.sources) {
      const ref = `${src.stage}/${src.output}`;
      consumersLeft.set(ref, (consumersLeft.get(ref) ?? 0) + 1);
    }
    // What trials read from outside their group stays in memory until their optimiser ends.
    for (const sg of pipeline.subgraphs?.values() ?? []) for (const s of sg.resolvedDefaults) for (const b of s.inputs) for (const src of b.sources) {
      if (!sg.external.includes(src.stage)) continue;
      const ref = `${src.stage}/${src.output}`;
      for (const _user of sg.users) consumersLeft.set(ref, (consumersLeft.get(ref) ?? 0) + 1);
    }

    // Forcing a stage also recomputes its descendants: their cache keys only name the forced
    // stage's recipe, so they would otherwise be reused over its new output.
    const forced = new Set<string>();
    if (options.force instanceof Set) {
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
      for (const id of options.force) visit(id);
      // Forcing a stage of a trial group (by its id in the file) recomputes it in every trial, and
      // so its optimiser too.
      for (const sg of pipeline.subgraphs?.values() ?? []) if (sg.stages.some((id) => options.force instanceof Set && options.force.has(id))) for (const u of sg.users) visit(u);
    }

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

    const release = (ref: string) => {
      const left = (consumersLeft.get(ref) ?? 1) - 1;
      consumersLeft.set(ref, left);
      if (left <= 0) memory.delete(ref);
    };
    const onStageEnd = (e: Extract<ExecutorEvent, { type: 'stage-end' }>) => {
      ended.add(e.stageId);
      for (const b of byId.get(e.stageId)!.inputs) for (const src of b.sources) release(`${src.stage}/${src.output}`);
      for (const sg of pipeline.subgraphs?.values() ?? []) {
        if (!sg.users.includes(e.stageId)) continue;
        for (const s of sg.resolvedDefaults) for (const b of s.inputs) for (const src of b.sources) if (sg.external.includes(src.stage)) release(`${src.stage}/${src.output}`);
      }
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
    const runners = new Map<string, TrialRunner>();
    // Trial numbers count per group, across every stage that runs it, so copy ids never clash.
    const trialNumbers = new Map<string, number>();
    for (const sg of pipeline.subgraphs?.values() ?? []) {
      for (const user of sg.users) {
        runners.set(
          user,
          createTrialRunner(sg, user, {
            keyOf: (id) => keys.get(id)!,
            run: (s, key, signal, why, load, saved, more) => runStage({ stage: s, key, signal, why, load, saved, trial: true, ...more }),
            nextNumber: () => {
              const n = trialNumbers.get(sg.group) ?? 0;
              trialNumbers.set(sg.group, n + 1);
              return n;
            },
            forced: (template, reads) => options.force === true || forced.has(template) || reads.some((id) => forced.has(id)),
            log: (message) => outer.next({ type: 'stage-event', stageId: user, event: { type: 'log', level: 'warn', message }, time: Date.now() }),
            emit: (e) => {
              if (e.type === 'stage-start') openTrialStages.set(e.stageId, e);
              if (e.type === 'stage-end') openTrialStages.delete(e.stageId);
              outer.next(e);
            },
            loadExternal: (src) => loadShared(src),
            loadCached: (key, port) => options.cache.load(key, port),
            signal: controller.signal,
          }),
        );
      }
    }
    const openTrialStages = new Map<string, Extract<ExecutorEvent, { type: 'stage-start' }>>();

    const loadShared = (src: { stage: string; output: string }): Artifact => {
      const ref = `${src.stage}/${src.output}`;
      let a = memory.get(ref);
      if (!a) {
        a = options.cache.load(keys.get(src.stage)!, src.output);
        if ((consumersLeft.get(ref) ?? 0) > 0) memory.set(ref, a);
      }
      return a;
    };

    interface StageRun {
      readonly stage: ResolvedStage;
      readonly key: string;
      /** Aborts this stage: the run's signal, or a trial's (pruned). */
      readonly signal: AbortSignal;
      /** Why the signal aborted, for the skip reason. */
      readonly why: () => string;
      readonly load: (src: { stage: string; output: string }) => Artifact;
      readonly saved?: (stored: Readonly<Record<string, Artifact>>) => void;
      readonly trial?: boolean;
      /** Recompute even when cached (a trial stage downstream of a forced stage). */
      readonly force?: boolean;
      /** Receives the metric series of an entry taken from the cache. */
      readonly replay?: (series: readonly MetricPoint[]) => void;
    }

    const runStage = (run: StageRun): Observable<ExecutorEvent> =>
      new Observable<ExecutorEvent>((sub) => {
        const { stage, key, signal } = run;
        const started = Date.now();
        let pluginSub: Subscription | undefined;
        let workDir: string | undefined;
        let slot: (() => void) | undefined;
        const metrics: Record<string, number> = {};
        const series: MetricPoint[] = [];
        const end = (status: StageStatus, reason?: string) => {
          slot?.();
          slot = undefined;
          if (sub.closed) return;
          if (workDir) rmSync(workDir, { recursive: true, force: true });
          sub.next({ type: 'stage-end', stageId: stage.id, status, key, pluginType: stage.plugin.type, seconds: (Date.now() - started) / 1000, metrics, reason, time: Date.now() });
          sub.complete();
        };
        const log = (level: 'info' | 'warn', message: string) =>
          sub.next({ type: 'stage-event', stageId: stage.id, event: { type: 'log', level, message }, time: Date.now() });
        const onAbort = () => {
          pluginSub?.unsubscribe();
          end('skipped', `cancelled: ${run.why()}`);
        };
        const trials = runners.get(stage.id);

        void (async () => {
          await lease.addKeys([key]); // a trial's stage keys are not known in advance
          if (signal.aborted) return end('skipped', `not run: ${run.why()}`);
          if (!trials) slot = await slots.acquire(signal);
          if (signal.aborted) return end('skipped', `not run: ${run.why()}`);
          if (!(options.force === true || forced.has(stage.id) || run.force)) {
            const found = await options.cache.lookup(key);
            if (found.status === 'hit') {
              Object.assign(metrics, found.entry.metrics ?? {});
              run.replay?.(found.entry.series ?? []);
              if (!run.trial) materialiseReports(stage, found.entry.outputs, (port) => options.cache.load(key, port), options.runDir);
              return end('cached');
            }
            if (found.status === 'corrupt') log('warn', `cache entry ${key.slice(0, 12)} was damaged (${found.reason}); recomputing`);
          }
          if (signal.aborted) return end('skipped', `not run: ${run.why()}`);
          sub.next({ type: 'stage-start', stageId: stage.id, pluginType: stage.plugin.type, key, time: started });

          const inputs: Record<string, Artifact | Artifact[]> = {};
          for (const b of stage.inputs) {
            const list = b.sources.map((src) => run.load(src));
            inputs[b.port] = b.multiple ? list : list[0]!;
          }
          workDir = lease.workDir(stage.id);
          const outputs: Record<string, Artifact> = {};
          signal.addEventListener('abort', onAbort, { once: true });
          await new Promise<void>((resolve, reject) => {
            pluginSub = stage.plugin
              .run({
                pipelineName: pipeline.spec.name,
                stageId: stage.id,
                params: structuredClone(stage.params),
                inputs,
                seed: stage.seed,
                workDir: workDir!,
                runDir: options.runDir,
                signal,
                ...(trials ? { trials } : {}),
              })
              .subscribe({
                next: (event) => {
                  if (event.type === 'artifact') {
                    const problem = acceptOutput(stage.plugin, outputs, event.port, event.artifact);
                    if (problem) reject(new StageFailure(problem));
                    return;
                  }
                  if (event.type === 'metric') {
                    metrics[event.name] = event.value;
                    series.push({ name: event.name, value: event.value, ...(event.step !== undefined ? { step: event.step } : {}), ...(event.epoch !== undefined ? { epoch: event.epoch } : {}) });
                  }
                  sub.next({ type: 'stage-event', stageId: stage.id, event, time: Date.now() });
                },
                error: reject,
                complete: resolve,
              });
          });
          signal.removeEventListener('abort', onAbort);
          const missing = missingOutputs(stage.plugin, outputs);
          if (missing) throw new StageFailure(missing);
          const stored = await options.cache.save(
            { key, type: stage.plugin.type, version: stage.plugin.version, stageId: stage.id, pipeline: pipeline.spec.name, seconds: (Date.now() - started) / 1000, metrics, series },
            outputs,
            lease,
          );
          run.saved?.(stored);
          if (!run.trial) materialiseReports(stage, Object.fromEntries(Object.entries(stored).map(([p, a]) => [p, a.kind])), (port) => stored[port]!, options.runDir);
          end('executed');
        })().catch((err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          if (sub.closed) return;
          if (signal.aborted && abortReason?.stage !== stage.id) return end('skipped', `cancelled: ${run.why()}`);
          end('failed', errorMessage(err));
        });
        return () => {
          signal.removeEventListener('abort', onAbort);
          pluginSub?.unsubscribe();
          slot?.();
          slot = undefined;
        };
      });

    const runPipelineStage = (stage: ResolvedStage): Observable<ExecutorEvent> =>
      runStage({
        stage,
        key: keys.get(stage.id)!,
        signal: controller.signal,
        why: () => abortReason?.reason ?? 'interrupted',
        load: loadShared,
        saved: (stored) => {
          for (const [port, a] of Object.entries(stored)) if ((consumersLeft.get(`${stage.id}/${port}`) ?? 0) > 0) memory.set(`${stage.id}/${port}`, a);
        },
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

/** Copies the files of `report` outputs into `<runDir>/<stage id>/` so a run directory is self-contained. */
function materialiseReports(stage: ResolvedStage, kinds: Readonly<Record<string, string>>, load: (port: string) => Artifact, runDir: string): void {
  for (const [port, kind] of Object.entries(kinds)) {
    if (kind !== 'report') continue;
    const a = load(port);
    const dir = join(runDir, stage.id);
    mkdirSync(dir, { recursive: true });
    for (const [name, path] of Object.entries(a.files)) copyFileSync(path, join(dir, name));
  }
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/**
 * Running one stage: a cache lookup (verified), else its plugin with loaded inputs in a fresh work
 * folder under the run's lease, within a concurrency slot; outputs checked against the declared
 * ports, saved to the cache, reports copied into the run folder. Used for the pipeline's stages
 * and for the stages of trials alike.
 */
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Observable, type Subscription } from 'rxjs';
import type { Artifact } from '../contracts/artifact.js';
import type { StageEvent } from '../contracts/stage-plugin.js';
import type { TrialRunner } from '../contracts/trials.js';
import type { ArtifactCache, MetricPoint } from '../cache/artifact-cache.js';
import type { CacheLease } from '../cache/lease.js';
import type { ResolvedStage } from '../pipeline/validate.js';
import type { ExecutorEvent, StageStatus } from './executor.js';
import { acceptOutput, missingOutputs } from './outputs.js';
import type { Slots } from './trial-runner.js';
import { errorCode, FairtuneError } from '../contracts/errors.js';

export class StageFailure extends FairtuneError {
  override readonly name = 'StageFailure';
  constructor(message: string, options?: ErrorOptions) {
    super('FT_OUTPUT_CONTRACT', message, {}, options);
  }
}

export interface StageRun {
  readonly stage: ResolvedStage;
  readonly key: string;
  /** Aborts this stage: the run's signal, or a trial's (pruned). */
  readonly signal: AbortSignal;
  /** Why the signal aborted, for the skip reason. */
  readonly why: () => string;
  readonly load: (src: { stage: string; output: string }) => Artifact;
  readonly saved?: (stored: Readonly<Record<string, Artifact>>) => void;
  readonly trial?: boolean;
  /** Recompute even when cached (forced, or a trial stage downstream of a forced stage). */
  readonly force?: boolean;
  /** Receives the metric series of an entry taken from the cache. */
  readonly replay?: (series: readonly MetricPoint[]) => void;
}

/** What every stage of one run shares. */
export interface StageRunContext {
  readonly pipelineName: string;
  readonly cache: ArtifactCache;
  readonly lease: CacheLease;
  readonly runDir: string;
  readonly slots: Slots;
  /** The trial runner of a stage that runs trials (such a stage takes no slot). */
  readonly trialsOf: (stageId: string) => TrialRunner | undefined;
  /** The stage whose failure stopped the run, if any (its own error is a failure, not a skip). */
  readonly failedStage: () => string | undefined;
}

export function runStage(run: StageRun, ctx: StageRunContext): Observable<ExecutorEvent> {
  return new Observable<ExecutorEvent>((sub) => {
    const { stage, key, signal } = run;
    const started = Date.now();
    let pluginSub: Subscription | undefined;
    let workDir: string | undefined;
    let slot: (() => void) | undefined;
    const metrics: Record<string, number> = {};
    const series: MetricPoint[] = [];
    const end = (status: StageStatus, reason?: string, code?: string) => {
      slot?.();
      slot = undefined;
      if (sub.closed) return;
      if (workDir) rmSync(workDir, { recursive: true, force: true });
      sub.next({ type: 'stage-end', stageId: stage.id, status, key, pluginType: stage.plugin.type, seconds: (Date.now() - started) / 1000, metrics, reason, ...(code ? { code } : {}), time: Date.now() });
      sub.complete();
    };
    const onAbort = () => {
      pluginSub?.unsubscribe();
      end('skipped', `cancelled: ${run.why()}`);
    };
    const trials = ctx.trialsOf(stage.id);

    const execute = async () => {
      await ctx.lease.addKeys([key]); // a trial's stage keys are not known in advance
      if (signal.aborted) return end('skipped', `not run: ${run.why()}`);
      if (!trials) slot = await ctx.slots.acquire(signal);
      if (signal.aborted) return end('skipped', `not run: ${run.why()}`);
      // A trial worker's optimiser stage (contracts/trials.ts, TrialWorkerRole) runs whatever the cache holds.
      if (!run.force && !trials?.worker) {
        const found = await ctx.cache.lookup(key);
        if (found.status === 'hit') {
          Object.assign(metrics, found.entry.metrics ?? {});
          run.replay?.(found.entry.series ?? []);
          if (!run.trial) materialiseReports(stage, found.entry.outputs, (port) => ctx.cache.load(key, port), ctx.runDir);
          return end('cached');
        }
        if (found.status === 'corrupt') sub.next({ type: 'stage-event', stageId: stage.id, event: { type: 'log', level: 'warn', message: `cache entry ${key.slice(0, 12)} was damaged (${found.reason}); recomputing` }, time: Date.now() });
      }
      if (signal.aborted) return end('skipped', `not run: ${run.why()}`);
      sub.next({ type: 'stage-start', stageId: stage.id, pluginType: stage.plugin.type, key, time: started });
      workDir = ctx.lease.workDir(stage.id);
      signal.addEventListener('abort', onAbort, { once: true });
      const outputs = await runPlugin(run, ctx, workDir, trials, (next) => (pluginSub = next), (event) => {
        if (event.type === 'metric') {
          metrics[event.name] = event.value;
          series.push({ name: event.name, value: event.value, ...(event.step !== undefined ? { step: event.step } : {}), ...(event.epoch !== undefined ? { epoch: event.epoch } : {}) });
        }
        sub.next({ type: 'stage-event', stageId: stage.id, event, time: Date.now() });
      });
      signal.removeEventListener('abort', onAbort);
      // A trial worker's stage ends without outputs: nothing to cache (its dependents do not run here).
      if (trials?.worker) return end('executed');
      const stored = await ctx.cache.save(
        { key, type: stage.plugin.type, version: stage.plugin.version, stageId: stage.id, pipeline: ctx.pipelineName, seconds: (Date.now() - started) / 1000, metrics, series },
        outputs,
        ctx.lease,
      );
      run.saved?.(stored);
      if (!run.trial) materialiseReports(stage, Object.fromEntries(Object.entries(stored).map(([p, a]) => [p, a.kind])), (port) => stored[port]!, ctx.runDir);
      end('executed');
    };
    execute().catch((err: unknown) => {
      signal.removeEventListener('abort', onAbort);
      if (sub.closed) return;
      if (signal.aborted && ctx.failedStage() !== stage.id) return end('skipped', `cancelled: ${run.why()}`);
      end('failed', errorMessage(err), errorCode(err));
    });
    return () => {
      signal.removeEventListener('abort', onAbort);
      pluginSub?.unsubscribe();
      slot?.();
      slot = undefined;
    };
  });
}

/** Runs the plugin on loaded inputs; resolves with its outputs once every declared one was emitted. */
function runPlugin(
  run: StageRun,
  ctx: StageRunContext,
  workDir: string,
  trials: TrialRunner | undefined,
  subscribed: (sub: Subscription) => void,
  onEvent: (event: StageEvent) => void,
): Promise<Record<string, Artifact>> {
  const { stage, signal } = run;
  const inputs: Record<string, Artifact | Artifact[]> = {};
  for (const b of stage.inputs) {
    const list = b.sources.map((src) => run.load(src));
    inputs[b.port] = b.multiple ? list : list[0]!;
  }
  const outputs: Record<string, Artifact> = {};
  return new Promise<Record<string, Artifact>>((resolve, reject) => {
    subscribed(
      stage.plugin
        .run({ pipelineName: ctx.pipelineName, stageId: stage.id, params: structuredClone(stage.params), inputs, seed: stage.seed, workDir, runDir: ctx.runDir, signal, ...(trials ? { trials } : {}) })
        .subscribe({
          next: (event) => {
            if (event.type === 'artifact') {
              const problem = acceptOutput(stage.plugin, outputs, event.port, event.artifact);
              if (problem) reject(new StageFailure(problem));
              return;
            }
            onEvent(event);
          },
          error: reject,
          complete: () => {
            if (trials?.worker && Object.keys(outputs).length === 0) return resolve(outputs);
            const missing = missingOutputs(stage.plugin, outputs);
            if (missing) reject(new StageFailure(missing));
            else resolve(outputs);
          },
        }),
    );
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

/** The error as the stage's failure reason; a coded error (docs/errors.md) ends with its code. */
function errorMessage(err: unknown): string {
  const code = errorCode(err);
  if (err instanceof Error) return `${err.message || err.name}${code ? ` [${code}]` : ''}`;
  return String(err);
}

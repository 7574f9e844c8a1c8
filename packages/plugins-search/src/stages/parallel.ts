/**
 * `parallel` trials on one machine (docs/search.md, "Parallel trials on one machine").
 *
 * tfjs runs a process's model work on one thread, so trials gain nothing from running
 * concurrently inside one process: the stage starts `parallel − 1` trial workers through core's
 * `TrialRunner.startWorkers` (copies of the `fairtune run` it runs in, whose earlier stages are
 * cache hits). In a worker (`TrialRunner.worker` set) the search stage asks, runs and tells trials
 * of the same study until it has its target, then completes without outputs. The parent runs
 * trials too, waits for its workers, and passes the best trial on as a single process does (a
 * worker's trial comes back from the shared cache).
 *
 * Determinism: trial k is asked only once trials 0 … k − parallel are finished and trials
 * k − parallel + 1 … k − 1 have their params, and the sampler sees exactly that window (the latter
 * as RUNNING, their values hidden even if they finished meanwhile). So trial k's params depend
 * only on the seed, k, `parallel` and the outcomes of trials 0 … k − parallel, whichever process
 * runs it and whatever the order of finishes.
 */
import type { FrozenTrial, StudyView, TrialRunner } from '@fairtune/core/plugin';
import type { StudyStore } from '../study/store.js';

/** Trial system attr: the pid of the process running the trial (only with `parallel` > 1). */
export const WORKER_ATTR = 'fairtune:worker';

/** Why `parallel` cannot run here, or undefined. */
export function parallelRefusal(parallel: number, storage: string, trials: Pick<TrialRunner, 'startWorkers'>): string | undefined {
  if (parallel <= 1) return undefined;
  if (storage === 'memory') return `parallel: ${parallel} needs a study the worker processes share; storage "memory" lives in one process (use journal:… or redis://…)`;
  if (!trials.startWorkers) return `parallel: ${parallel} starts copies of this run as trial workers, and this run cannot be repeated in another process (it was not started by \`fairtune run\` on a pipeline file)`;
  return undefined;
}

/** Marks FAIL the RUNNING trials of the worker process `pid` (it exited or was killed); returns their numbers. */
export function failWorkerTrials(store: StudyStore, pid: number, reason: string): number[] {
  const failed: number[] = [];
  for (const t of store.view().trials) {
    if (t.state !== 'RUNNING' || t.systemAttrs[WORKER_ATTR] !== pid) continue;
    store.setUserAttr(t.number, 'fail_reason', reason);
    store.finish(t.number, 'FAIL');
    failed.push(t.number);
  }
  return failed;
}

/**
 * Whether trial k may be asked: trials 0 … k − parallel finished (any state but RUNNING or
 * WAITING) and trials up to k − 1 asked (every param of the space set, or finished).
 */
export function windowReady(trials: readonly FrozenTrial[], k: number, parallel: number, params: readonly string[]): boolean {
  for (let j = 0; j < k; j++) {
    const t = trials[j];
    if (!t) return false;
    const open = t.state === 'RUNNING' || t.state === 'WAITING';
    if (!open) continue;
    if (j <= k - parallel) return false;
    if (!params.every((p) => Object.hasOwn(t.params, p))) return false;
  }
  return true;
}

/**
 * What trial k's sampler sees: trials 0 … k − parallel as they are, k − parallel + 1 … k − 1 as
 * RUNNING with their params only (how they ended is timing, not history), k itself, nothing after.
 */
export function windowView(view: StudyView, k: number, parallel: number): StudyView {
  const trials = view.trials.slice(0, k + 1).map((t): FrozenTrial => {
    if (t.number <= k - parallel || t.number === k) return t;
    const { value: _value, datetimeComplete: _done, ...rest } = t;
    return { ...rest, state: 'RUNNING', intermediateValues: new Map() };
  });
  return { ...view, trials };
}

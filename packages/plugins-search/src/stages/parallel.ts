/**
 * `parallel` trials on one machine (docs/search.md, "Parallel trials on one machine").
 *
 * tfjs runs a process's model work on one thread, so trials gain nothing from running
 * concurrently inside one process: the stage spawns `parallel − 1` copies of the `fairtune run`
 * command it runs in, with `FAIRTUNE_SEARCH_WORKER` naming this stage. In such a child the search
 * stage is a pure trial worker on the same study and cache (the stages before it are cache hits):
 * it asks, runs and tells trials until the study has its target, then ends its run without
 * outputs (downstream stages are skipped there). The parent runs trials too, waits for its
 * children, and passes the best trial on as a single process does (a child's trial comes back from
 * the shared cache).
 *
 * Determinism: trial k is asked only once trials 0 … k − parallel are finished and trials
 * k − parallel + 1 … k − 1 have their params, and the sampler sees exactly that window (the latter
 * as RUNNING, their values hidden even if they finished meanwhile). So trial k's params depend
 * only on the seed, k, `parallel` and the outcomes of trials 0 … k − parallel, whichever process
 * runs it and whatever the order of finishes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FrozenTrial, StudyView } from '@fairtune/core/plugin';
import type { StudyStore } from '../study/store.js';

/** The env var that makes a `fairtune run` process a trial worker of one search stage. */
export const WORKER_ENV = 'FAIRTUNE_SEARCH_WORKER';
/** Trial system attr: the pid of the process running the trial (only with `parallel` > 1). */
export const WORKER_ATTR = 'fairtune:worker';

export interface WorkerSpec {
  /** `<pipeline>/<stage id>` of the search stage the child works for. */
  readonly stage: string;
  /** The parent's pid: a child whose parent is gone stops (no orphan keeps training). */
  readonly parent: number;
  readonly index: number;
  /** A file the child writes when it stopped because the study reached its target. */
  readonly done: string;
  /** The parent's effective `parallel`, so both use the same ask window. */
  readonly parallel: number;
}

/** The worker spec when this process is a trial worker for `stage`, else undefined. */
export function workerSpec(stage: string, env: NodeJS.ProcessEnv = process.env): WorkerSpec | undefined {
  const raw = env[WORKER_ENV];
  if (!raw) return undefined;
  const spec = JSON.parse(raw) as WorkerSpec;
  return spec.stage === stage ? spec : undefined;
}

/** Thrown by a child's search stage once its work is done: its run ends there, without outputs. */
export class TrialWorkerFinished extends Error {
  override readonly name = 'TrialWorkerFinished';
}

/** Stops this child when its parent is gone (a parent killed with SIGKILL cannot kill it). */
export function watchParent(spec: WorkerSpec): () => void {
  const timer = setInterval(() => {
    if (process.ppid !== spec.parent) process.exit(1);
  }, 500);
  timer.unref();
  return () => clearInterval(timer);
}

/** `--concurrency` of the `fairtune run` command line (its default is 2). */
export function concurrencyOf(argv: readonly string[]): number {
  for (let i = argv.length - 1; i >= 0; i--) {
    const a = argv[i]!;
    if (a === '--concurrency') return Number(argv[i + 1]);
    if (a.startsWith('--concurrency=')) return Number(a.slice('--concurrency='.length));
  }
  return 2;
}

/**
 * A child's command line: the parent's, without `--force` (the stages before the search must come
 * from the cache, not be recomputed once per worker) and `--concurrency` (a worker runs one trial
 * at a time), with the worker's own run-record folder.
 */
export function childArgs(args: readonly string[], runsDir: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--force') {
      while (i + 1 < args.length && !args[i + 1]!.startsWith('-')) i++;
      // `--force` takes no pipeline file: the positional after it is a stage name unless it is the file itself.
      continue;
    }
    if (a.startsWith('--force=')) continue;
    if (a === '--concurrency' || a === '--runs-dir') {
      i++;
      continue;
    }
    if (a.startsWith('--concurrency=') || a.startsWith('--runs-dir=')) continue;
    out.push(a);
  }
  return [...out, '--concurrency', '1', '--runs-dir', runsDir];
}

/** Why `parallel` cannot run here, or undefined. */
export function parallelRefusal(parallel: number, storage: string, argv: readonly string[]): string | undefined {
  if (parallel <= 1) return undefined;
  if (storage === 'memory') return `parallel: ${parallel} needs a study the worker processes share; storage "memory" lives in one process (use journal:… or redis://…)`;
  if (argv[2] !== 'run') return `parallel: ${parallel} spawns copies of the \`fairtune run\` command running this stage, and this process was not started by it (argv: ${argv.slice(1, 3).join(' ')})`;
  const files = argv.slice(3).filter((a) => a.endsWith('.json'));
  if (!files.length) return `parallel: ${parallel}: the \`fairtune run\` command line names no pipeline file`;
  return undefined;
}

export interface WorkerExit {
  readonly index: number;
  readonly pid: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** It wrote its done file: it stopped because the study had its target. */
  readonly finished: boolean;
  /** The end of its stderr, for the report of a crash. */
  readonly stderr: string;
}

/** The child processes of one search stage; every one is killed when the stage or the process ends. */
export class WorkerPool {
  readonly #children: { index: number; child: ChildProcess; exited: Promise<WorkerExit> }[] = [];
  readonly #dir = mkdtempSync(join(tmpdir(), 'fairtune-search-workers-'));
  readonly #onProcessExit = () => this.kill('SIGKILL');
  readonly #closers: (() => void)[] = [];

  constructor(
    readonly stage: string,
    readonly parallel: number,
    readonly onExit: (e: WorkerExit) => void,
  ) {
    process.on('exit', this.#onProcessExit);
  }

  get pids(): number[] {
    return this.#children.map((c) => c.child.pid!).filter((p) => p !== undefined);
  }

  /** Starts `count` children: this process's `fairtune run` command line as a trial worker. */
  start(count: number): void {
    const args = childArgs(process.argv.slice(2), join(this.#dir, 'runs'));
    for (let index = 1; index <= count; index++) {
      const done = join(this.#dir, `done-${index}`);
      const spec: WorkerSpec = { stage: this.stage, parent: process.pid, index, done, parallel: this.parallel };
      const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...args], {
        cwd: process.cwd(),
        env: { ...process.env, [WORKER_ENV]: JSON.stringify(spec) },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
      const exited = new Promise<WorkerExit>((resolve) => {
        const report = (code: number | null, signal: NodeJS.Signals | null) => {
          const e = { index, pid: child.pid ?? -1, code, signal, finished: existsSync(done), stderr };
          this.onExit(e);
          resolve(e);
        };
        child.once('error', (err) => ((stderr += `\n${err.message}`), report(null, null)));
        child.once('close', report);
      });
      this.#children.push({ index, child, exited });
    }
  }

  /** Resolves when every child has exited. */
  async wait(): Promise<WorkerExit[]> {
    return Promise.all(this.#children.map((c) => c.exited));
  }

  kill(signal: NodeJS.Signals): void {
    for (const { child } of this.#children) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  }

  /**
   * Kills the children at once (SIGKILL) and gives their trials back (`failTrials` per pid, which
   * must be synchronous: it may run as the process exits). Errors are written to stderr, since
   * the stage may have ended.
   */
  abandon(failTrials: (pid: number) => unknown): void {
    this.kill('SIGKILL');
    for (const pid of this.pids) {
      try {
        failTrials(pid);
      } catch (e) {
        process.stderr.write(`search: the trials of worker process ${pid} could not be marked FAIL: ${(e as Error).message}\n`);
      }
    }
  }

  onClose(f: () => void): void {
    this.#closers.push(f);
  }

  /** Kills the children (SIGTERM, then SIGKILL after `graceMs`), waits for them, removes their folder. */
  async close(graceMs = 2000): Promise<void> {
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    try {
      await this.wait();
    } finally {
      clearTimeout(timer);
      process.off('exit', this.#onProcessExit);
      for (const f of this.#closers) f();
      rmSync(this.#dir, { recursive: true, force: true });
    }
  }
}

/** Writes a child's done file. */
export function markDone(spec: WorkerSpec): void {
  writeFileSync(spec.done, String(Date.now()));
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

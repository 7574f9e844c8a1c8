/**
 * Trial workers (contracts/trials.ts, `TrialRunner.startWorkers`): copies of a `fairtune run` in
 * other processes that run one optimiser stage's trials alongside it. Core owns this because only
 * core knows how the run was started: the CLI hands `runPipeline` a `WorkerLaunch` (the node
 * binary, its flags, the CLI script and the `run` command's arguments without the ones a worker
 * must not repeat), and a worker learns its role from `FAIRTUNE_TRIAL_WORKER`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonObject } from '../contracts/artifact.js';
import type { TrialWorkerExit, TrialWorkerOptions, TrialWorkers } from '../contracts/trials.js';
import { FairtuneError } from '../contracts/errors.js';

/** The environment variable that makes a `fairtune run` process a trial worker (JSON, see WorkerRoleSpec). */
export const TRIAL_WORKER_ENV = 'FAIRTUNE_TRIAL_WORKER';

/** How to start this run again in another process: `command` with `args` (a `fairtune run` command line). */
export interface WorkerLaunch {
  readonly command: string;
  readonly args: readonly string[];
}

/** What a worker process is told in `FAIRTUNE_TRIAL_WORKER`. */
export interface WorkerRoleSpec {
  /** The pipeline's name and the optimiser stage's (expanded) id the worker runs trials for. */
  readonly pipeline: string;
  readonly stage: string;
  readonly index: number;
  /** The starting process's pid: a worker whose parent is gone stops (SIGKILL leaves no chance to kill it). */
  readonly parent: number;
  readonly data: JsonObject;
  /**
   * The trial group's stages (ids in the file) the parent recomputes in every trial (`--force` of
   * them, of a stage they read, or of everything): a worker recomputes them too, rather than
   * taking the trials it runs from the cache.
   */
  readonly force: readonly string[];
}

/** The role in `env`, or undefined when this process is not a trial worker. A malformed value is a setup error. */
export function trialWorkerRole(env: NodeJS.ProcessEnv): WorkerRoleSpec | undefined {
  const raw = env[TRIAL_WORKER_ENV];
  if (!raw) return undefined;
  let spec: unknown;
  try {
    spec = JSON.parse(raw);
  } catch (e) {
    throw new FairtuneError('FT_RUN_SETUP', `${TRIAL_WORKER_ENV} is not JSON (${(e as Error).message}); it is set by a run that starts trial workers, not by hand`, {});
  }
  const s = spec as Partial<WorkerRoleSpec> | null;
  const ok =
    !!s && typeof s === 'object' && typeof s.pipeline === 'string' && typeof s.stage === 'string' && Number.isInteger(s.index) && Number.isInteger(s.parent) && !!s.data && typeof s.data === 'object' && Array.isArray(s.force) && s.force.every((x) => typeof x === 'string');
  if (!ok) throw new FairtuneError('FT_RUN_SETUP', `${TRIAL_WORKER_ENV} must be {pipeline, stage, index, parent, data, force}; got ${raw.slice(0, 200)}`, {});
  return s as WorkerRoleSpec;
}

/** Ends this worker process when its parent is gone (checked every 500 ms); returns the stop function. */
export function watchParent(parent: number, exit: () => void = () => process.exit(1)): () => void {
  const timer = setInterval(() => {
    if (process.ppid !== parent) exit();
  }, 500);
  timer.unref();
  return () => clearInterval(timer);
}

interface Child {
  readonly index: number;
  readonly child: ChildProcess;
  readonly exited: Promise<TrialWorkerExit>;
}

/** Which stage of which pipeline the workers serve, where, and what they must recompute. */
export interface WorkerTarget {
  readonly pipeline: string;
  readonly stage: string;
  readonly force: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * Starts `count` workers of `target.stage`. Each writes its run record into a folder of its own,
 * removed once every worker has exited (their trials are recorded in the parent's study and cache;
 * the record of a worker's run says nothing the parent's does not).
 */
export function startTrialWorkers(launch: WorkerLaunch, target: WorkerTarget, count: number, options: TrialWorkerOptions = {}): TrialWorkers {
  const dir = mkdtempSync(join(tmpdir(), 'fairtune-trial-workers-'));
  const children: Child[] = [];
  const kill = (signal: NodeJS.Signals) => {
    for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  const onProcessExit = () => kill('SIGKILL');
  process.on('exit', onProcessExit);
  for (let index = 1; index <= count; index++) children.push(startOne(launch, target, index, join(dir, `runs-${index}`), options));
  // Once every worker has exited, their folder and the exit hook go, whether or not `close` is called.
  const done = Promise.all(children.map((c) => c.exited)).then((exits) => {
    process.off('exit', onProcessExit);
    rmSync(dir, { recursive: true, force: true });
    return exits;
  });
  return {
    pids: children.map((c) => c.child.pid).filter((p): p is number => p !== undefined),
    wait: () => done,
    kill: () => kill('SIGKILL'),
    close: async (graceMs = 2000) => {
      kill('SIGTERM');
      const timer = setTimeout(() => kill('SIGKILL'), graceMs);
      try {
        await done;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

function startOne(launch: WorkerLaunch, target: WorkerTarget, index: number, runsDir: string, options: TrialWorkerOptions): Child {
  const role: WorkerRoleSpec = { pipeline: target.pipeline, stage: target.stage, index, parent: process.pid, data: options.data ?? {}, force: [...target.force] };
  const child = spawn(launch.command, [...launch.args], {
    cwd: target.cwd,
    env: { ...target.env, [TRIAL_WORKER_ENV]: JSON.stringify(role), FAIRTUNE_RUNS_DIR: runsDir },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<TrialWorkerExit>((resolve) => {
    let reported = false;
    const report = (code: number | null, signal: NodeJS.Signals | null) => {
      if (reported) return;
      reported = true;
      const e: TrialWorkerExit = { index, pid: child.pid ?? -1, code, signal, finished: code === 0, stderr };
      try {
        options.onExit?.(e);
      } catch (err) {
        // An optimiser's observer failing must not leave `wait` hanging; it is reported, not lost.
        process.stderr.write(`trial worker ${index} (pid ${e.pid}): its exit handler failed: ${(err as Error).message}\n`);
      }
      resolve(e);
    };
    child.once('error', (err) => ((stderr += `\n${err.message}`), report(null, null)));
    child.once('close', report);
  });
  return { index, child, exited };
}

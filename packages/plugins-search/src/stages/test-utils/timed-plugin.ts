/**
 * Test plugin (loaded by path with `--plugin`): `test.timed`, a cheap trial stage whose objective is
 * (x − 3)², reported after each of `steps` steps of `stepDelayMs` (plus up to `jitterMs` at random,
 * so finishes come in a different order every run). It appends its pid and start and end times
 * to `log`, and with `crash` the first trial a search trial worker (a child process) starts kills
 * that process (once per `crash` marker file). With `awaitProcesses` a trial waits (at most 60 s)
 * until that many processes have started trials: on a busy machine the workers may start only
 * after the parent has run every trial, and the tests are about trials running in several.
 */
import { appendFileSync, openSync, closeSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ContainerModule } from 'inversify';
import { artifact, runAsync, STAGE_PLUGIN, type StagePlugin } from '@fairtune/core/plugin';

interface Params {
  x: number;
  steps: number;
  stepDelayMs: number;
  jitterMs: number;
  log: string;
  crash?: string;
  awaitProcesses: number;
}

const timed: StagePlugin<Params> = {
  type: 'test.timed',
  version: '1',
  description: 'A cheap trial: objective (x − 3)² per step, start and end times logged.',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['x', 'log'],
    properties: {
      x: { type: 'number' },
      steps: { type: 'integer', minimum: 1, default: 3 },
      stepDelayMs: { type: 'integer', minimum: 0, default: 100 },
      jitterMs: { type: 'integer', minimum: 0, default: 0 },
      log: { type: 'string' },
      crash: { type: 'string' },
      awaitProcesses: { type: 'integer', minimum: 1, default: 1 },
    },
  },
  inputs: {},
  outputs: { metrics: { kind: 'metrics' } },
  run: (ctx) =>
    runAsync(ctx.signal, async (emit, signal) => {
      const p = ctx.params;
      const start = Date.now();
      appendFileSync(p.log, JSON.stringify({ event: 'start', pid: process.pid, x: p.x, t: start }) + '\n');
      if (p.crash && isTrialWorker() && claim(p.crash)) process.kill(process.pid, 'SIGKILL');
      const waitUntil = start + 60_000;
      while (processesStarted(p.log) < p.awaitProcesses && Date.now() < waitUntil) await sleep(50, undefined, { signal });
      const value = (p.x - 3) ** 2;
      for (let step = 0; step < p.steps; step++) {
        await sleep(p.stepDelayMs + Math.floor(Math.random() * p.jitterMs), undefined, { signal });
        emit.metric('objective', value, { step });
      }
      appendFileSync(p.log, JSON.stringify({ event: 'end', pid: process.pid, x: p.x, t: Date.now(), start }) + '\n');
      emit.artifact('metrics', artifact('metrics', { value }));
    }),
};

/**
 * Whether this process is a trial worker: workers run at `--concurrency 1` (core's workerLaunch),
 * the tests' parent runs at 4. (Core removes FAIRTUNE_TRIAL_WORKER from a worker's environment
 * once read, so stages cannot look there.)
 */
function isTrialWorker(): boolean {
  const i = process.argv.lastIndexOf('--concurrency');
  return i >= 0 && process.argv[i + 1] === '1';
}

/** How many distinct processes logged a trial start. */
function processesStarted(log: string): number {
  const pids = new Set<number>();
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    // Other processes append to the log: its last line may be caught half-written.
    try {
      if (line) pids.add((JSON.parse(line) as { pid: number }).pid);
    } catch {
      continue;
    }
  }
  return pids.size;
}

/** True for the first caller only (O_EXCL creation of `file`). */
function claim(file: string): boolean {
  try {
    closeSync(openSync(file, 'wx'));
    return true;
  } catch {
    return false;
  }
}

export const containerModule = new ContainerModule((options) => {
  options.bind(STAGE_PLUGIN).toConstantValue(timed);
});

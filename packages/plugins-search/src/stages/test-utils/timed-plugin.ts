/**
 * Test plugin (loaded by path with `--plugin`): `test.timed`, a cheap trial stage whose objective is
 * (x − 3)², reported after each of `steps` steps of `stepDelayMs` (plus up to `jitterMs` at random,
 * so finishes come in a different order every run). It appends its pid and start and end times
 * to `log`, and with `crash` the first trial a search trial worker (a child process) starts kills
 * that process (once per `crash` marker file).
 */
import { appendFileSync, openSync, closeSync } from 'node:fs';
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
    },
  },
  inputs: {},
  outputs: { metrics: { kind: 'metrics' } },
  run: (ctx) =>
    runAsync(ctx.signal, async (emit, signal) => {
      const p = ctx.params;
      const start = Date.now();
      appendFileSync(p.log, JSON.stringify({ event: 'start', pid: process.pid, x: p.x, t: start }) + '\n');
      if (p.crash && process.env['FAIRTUNE_TRIAL_WORKER'] && claim(p.crash)) process.kill(process.pid, 'SIGKILL');
      const value = (p.x - 3) ** 2;
      for (let step = 0; step < p.steps; step++) {
        await sleep(p.stepDelayMs + Math.floor(Math.random() * p.jitterMs), undefined, { signal });
        emit.metric('objective', value, { step });
      }
      appendFileSync(p.log, JSON.stringify({ event: 'end', pid: process.pid, x: p.x, t: Date.now(), start }) + '\n');
      emit.artifact('metrics', artifact('metrics', { value }));
    }),
};

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

/**
 * `search.optimise`: FairTune's outer loop (the ICLR paper's Algorithm 1). Each trial binds a
 * sampled PEFT mask and learning rate (or any declared trial bindings) into the pipeline's trial
 * group — typically the fine-tune and the stage whose metric is the objective — runs it through
 * the core's trial contract, reports the objective after every epoch to the pruner, and stops the
 * trial as soon as the pruner says so. Where the public FairTune code reports once per trial (so
 * pruning saves nothing) and forgets the searched learning rate, this stage reports per epoch and
 * keeps every searched value in the result; `reportOnce: true` reproduces the public code.
 */
import { injectable, multiInject, optional } from 'inversify';
import {
  artifact,
  errorCode,
  FairtuneError,
  isKind,
  nestedPluginParam,
  optionalInput,
  PRUNER,
  PRUNER_KIND,
  runAsync,
  SAMPLER,
  SAMPLER_KIND,
  type Distribution,
  type FrozenTrial,
  type JsonObject,
  type JsonValue,
  type NestedPluginRef,
  type ParamValue,
  type Pruner,
  type PrunerPlugin,
  type Sampler,
  type SamplerPlugin,
  type StageContext,
  type StageEmitter,
  type StagePlugin,
  type StudyView,
  type TrialResult,
  type TrialRunner,
  type TrialWorkerExit,
} from '@fairtune/core/plugin';
import { writeSearchReport } from '../report.js';
import { resolveSpace, spaceSchema, type ResolvedSpace, type SpaceEntry } from '../space.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_STORAGE, openJournalStorage, parseStorage } from '../storage/location.js';
import { MemoryStudyStore, type StudyStore } from '../study/store.js';
import { failStaleTrials, Heartbeat, HEARTBEAT_ATTR, heartbeatValue, lostTrial, nextStep } from '../study/workers.js';
import { describeDistribution, fixedParamsOf, inDistribution, wasEnqueued } from '../study/waiting.js';
import { failWorkerTrials, parallelRefusal, windowReady, windowView, WORKER_ATTR } from './parallel.js';

export interface SearchParams {
  sampler: NestedPluginRef;
  pruner: NestedPluginRef;
  trials: number;
  direction: 'minimize' | 'maximize';
  objective: { stage: string; metric: string };
  space: Record<string, SpaceEntry>;
  enqueue: Record<string, ParamValue>[];
  baselines: boolean;
  reportOnce: boolean;
  studyName?: string;
  modelStage?: string;
  storage: string;
  prefix: string;
  heartbeatSeconds: number;
  staleAfterSeconds: number;
  /** search.fairtune only (see finalSchema); absent: 'best-trial'. */
  final?: 'best-trial' | 'retrain';
  discardLearningRate?: boolean;
  retrainBindings?: Record<string, JsonValue>;
  /** Trials at once on this machine, in worker processes (parallel.ts); absent: 1. */
  parallel?: number;
  /** Consecutive failed trials in one worker after which the search stops with an error; absent: max(5, trials). */
  maxFailedInARow?: number;
}

const paramsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['objective', 'space'],
  properties: {
    sampler: nestedPluginParam(SAMPLER_KIND.kind, { default: 'tpe', description: 'How each trial\'s values are proposed: { "name": "tpe" | "random" | "grid", "params": {…} }.' }),
    pruner: nestedPluginParam(PRUNER_KIND.kind, { default: 'successive-halving', description: 'When a trial stops early: { "name": "successive-halving" | "hyperband" | "median" | "none", "params": {…} }.' }),
    trials: { type: 'integer', minimum: 1, default: 20, description: 'Finished trials (complete or pruned; failed ones do not count) the study should have.' },
    direction: { enum: ['minimize', 'maximize'], default: 'minimize', description: 'minimize for worst-group MAE, maximize for worst-group AUC.' },
    objective: {
      type: 'object',
      additionalProperties: false,
      required: ['stage', 'metric'],
      properties: {
        stage: { type: 'string', minLength: 1, description: 'The trial stage (its id in the file) that reports the objective.' },
        metric: { type: 'string', minLength: 1, description: 'The metric it reports after every epoch, e.g. val_worst_group_mae.' },
      },
      description: 'The objective: a metric a trial stage emits per epoch; its last value is the trial\'s value.',
    },
    space: spaceSchema,
    enqueue: { type: 'array', default: [], items: { type: 'object' }, description: 'Trials run first with these bindings (a mask may be a bit string or full, linear-readout, attention, layernorm, mlp); the sampler fills in the rest.' },
    baselines: { type: 'boolean', default: true, description: 'Run the known masks first (full, linear-readout, attention, layernorm) as baseline trials, after `enqueue`.' },
    maxFailedInARow: { type: 'integer', minimum: 1, description: 'Stop the search with an error after this many failed trials in a row in one worker (FAIL does not count towards `trials`, so a trial group that always fails would otherwise sample forever); default max(5, trials).' },
    reportOnce: { type: 'boolean', default: false, description: 'Report the objective once, after the last epoch, as the public FairTune code does (then pruning only relabels finished trials).' },
    studyName: { type: 'string', minLength: 1, description: 'Study name (default <pipeline>/<stage id>).' },
    modelStage: { type: 'string', minLength: 1, description: 'The trial stage whose model, predictions and embeddings the best trial passes on (default: objective.stage).' },
    storage: {
      type: 'string',
      default: DEFAULT_STORAGE,
      description:
        'Where the study lives: "journal:<folder>" (an Optuna journal file <folder>/<study name>.journal, relative to the working directory; Optuna 3.1+ and optuna-dashboard open it), "journal:<file>.journal", "redis://host:port[/db]" (Optuna\'s Redis journal, keys under `prefix`; for workers on many machines), or "memory" (no record beyond this stage\'s outputs). A study found there is continued: finished trials are not run again; workers started on the same study share its trial count.',
    },
    prefix: { type: 'string', default: '', description: 'Redis key prefix, as Optuna\'s JournalRedisStorage(url, prefix): keys <prefix>:log_number and <prefix>:log:<n>. Ignored by journal files.' },
    heartbeatSeconds: { type: 'number', exclusiveMinimum: 0, default: 15, description: 'How often a running trial renews its heartbeat (system attr fairtune:heartbeat), besides at every report.' },
    parallel: {
      type: 'integer',
      minimum: 1,
      description:
        'Trials at once on this machine (default 1): the stage spawns parallel − 1 copies of its `fairtune run` command as trial workers on the same study and cache, at most --concurrency processes in all. Needs a shared study (not storage "memory"). Trial k is asked once trials 0 … k − parallel have finished, so the params are deterministic given the seed and parallel.',
    },
    staleAfterSeconds: {
      type: 'number',
      exclusiveMinimum: 0,
      default: 120,
      description: 'A RUNNING trial whose heartbeat is older than this is taken for one whose worker died: it is marked FAIL and its budget given back. Keep it well above heartbeatSeconds and above the longest stretch a trial blocks the process (one epoch).',
    },
  },
};

/**
 * search.fairtune's extra params: what model is passed on. No schema defaults: absent means
 * best-trial, and existing stages keep their cache keys (the version stays).
 */
const fairtuneParamsSchema = {
  ...paramsSchema,
  properties: {
    ...paramsSchema.properties,
    final: {
      enum: ['best-trial', 'retrain'],
      description:
        'The model passed on: "best-trial" (default) the best trial\'s own model (trained on the trial group\'s training split with its searched mask and learning rate); "retrain" one more run of the trial group with the best bindings (the seed code\'s stage 2), not a study trial. With the same bindings the retrain is the best trial\'s run again (a cache hit); it differs with discardLearningRate or retrainBindings.',
    },
    discardLearningRate: {
      type: 'boolean',
      description: 'With final "retrain": retrain with the trial group\'s default "lr" instead of the searched one, as the public FairTune code does (it keeps only the mask). Needs an "lr" entry in the space. Default false.',
    },
    retrainBindings: {
      type: 'object',
      description: 'With final "retrain": bindings of the trial group fixed for the retrain (names the group binds), over the best trial\'s, e.g. a longer "epochs" when the group binds one.',
    },
  },
};

/** The trainer's outputs the best trial passes on, so evaluation stages read the search's result. */
const PASSED_ON = ['model', 'predictions', 'embeddings'] as const;

@injectable()
export class SearchStage implements StagePlugin<SearchParams> {
  readonly type: string = 'search.optimise';
  // 2: a `report` output (trajectory, component frequencies among the top trials, baselines).
  // 3: with hyperband, TPE samples from the trial's bracket.
  // 4: many workers: the count comes from the shared study at each ask, heartbeats and stale trials, enqueued trials by number.
  readonly version = '4';
  readonly description: string = "FairTune's outer loop: samples trial bindings (PEFT mask bits, learning rate, …), runs the pipeline's trial group with them, prunes by the objective reported per epoch.";
  readonly runsTrials = true;
  readonly paramsSchema = paramsSchema;
  readonly inputs = {
    backbone: { kind: ['backbone', 'model'], optional: true, description: 'The backbone whose layers a mask entry without "bits" counts (3 bits a block).' },
  };
  readonly outputs = {
    study: { kind: 'study', description: 'Every trial (number, state, params, bindings, intermediate and final values) and the best one.' },
    best: { kind: 'metrics', description: 'The best trial: its objective, params and bindings (the searched learning rate included).' },
    report: { kind: 'report', description: 'report.md, trajectory.svg and components.svg: the optimisation trajectory, how often each mask component is selected among the top trials (as a table and a heat map), the best trial against the baseline masks.' },
  } as Readonly<Record<string, { kind: string; description: string }>>;
  /** Whether the best trial's model, predictions and embeddings are passed on (search.fairtune). */
  protected readonly passOn: boolean = false;
  readonly #samplers: readonly SamplerPlugin[];
  readonly #pruners: readonly PrunerPlugin[];

  constructor(@multiInject(SAMPLER) @optional() samplers?: SamplerPlugin[], @multiInject(PRUNER) @optional() pruners?: PrunerPlugin[]) {
    this.#samplers = samplers ?? [];
    this.#pruners = pruners ?? [];
  }

  run(ctx: StageContext<SearchParams>) {
    return runAsync(ctx.signal, async (emit) => {
      const trials = ctx.trials;
      if (!trials) throw new FairtuneError('FT_PIPELINE_INVALID', 'search.optimise runs trials: name its trial group in the stage\'s "trials"', { pointer: `/stages/${ctx.stageId.replace(/~/g, '~0').replace(/\//g, '~1')}` });
      const p = ctx.params;
      for (const name of Object.keys(p.space)) if (!Object.hasOwn(trials.defaults, name)) throw new FairtuneError('FT_PARAM_INVALID', `space.${name}: trial group "${trials.group}" binds no "${name}" (it binds: ${Object.keys(trials.defaults).join(', ')})`, { param: `space.${name}` });
      if (!trials.stages.includes(p.objective.stage)) throw new FairtuneError('FT_PARAM_INVALID', `objective.stage "${p.objective.stage}" is not a stage of trial group "${trials.group}" (its stages: ${trials.stages.join(', ')})`, { param: 'objective.stage' });
      const backbone = optionalInput(ctx.inputs, 'backbone', ['backbone', 'model']);
      const config = backbone?.meta.config;
      const layers = config && typeof config === 'object' && !Array.isArray(config) ? Number(config['nLayers']) : Number.NaN;
      const space = resolveSpace(p.space, Number.isFinite(layers) ? layers : undefined);
      // Checked before any trial runs, so a misspelt retrain binding does not surface after the search.
      checkFinalParams(p, trials);
      const sampler = this.#plugin(this.#samplers, 'sampler', p.sampler.name).create(p.sampler.params, ctx.seed);
      const pruner = this.#plugin(this.#pruners, 'pruner', p.pruner.name).create(p.pruner.params);
      const stage = `${ctx.pipelineName}/${ctx.stageId}`;
      // A trial worker uses its parent's parallelism, so both see the same ask window.
      const parallel = trials.worker ? workerParallel(trials.worker.data) : effectiveParallel(p, emit, trials);
      const store = openStore(p, p.studyName ?? stage);
      try {
        const s = { sampler, pruner, space, trials, parallel };
        if (trials.worker) {
          // A worker's trials are in the shared study and cache; the parent passes the results on, so no outputs here.
          await runTrials(ctx, emit, store, s);
          emit.log('info', `trial worker ${trials.worker.index}: the study has its trials`);
          return;
        }
        const resumed = store.view().trials;
        if (resumed.length) emit.log('info', `continuing study "${store.name}" (${resumed.length} trials, ${nextStep(resumed, p.trials, Date.now(), p.staleAfterSeconds * 1000).finished} finished)`);
        const pool = parallel > 1 ? startWorkers(ctx, emit, store, trials, parallel) : undefined;
        let ran: Ran[];
        try {
          ran = await runTrials(ctx, emit, store, s);
          if (pool) await pool.wait();
        } finally {
          // Stops the workers still running (an abort, an error here): no process outlives the stage.
          await pool?.close();
        }
        await finishOutputs(emit, store, ran, p, this.passOn, trials, { workDir: ctx.workDir, masks: space.masks, space: p.space });
      } finally {
        store.close?.();
      }
    });
  }

  #plugin<T extends { name: string }>(list: readonly T[], kind: string, name: string): T {
    const found = list.find((x) => x.name === name);
    // Validation resolved the name among the loaded plugins; missing here means the registry changed.
    if (!found) throw new Error(`no ${kind} plugin "${name}" is loaded (loaded: ${list.map((x) => x.name).join(', ') || 'none'})`);
    return found;
  }
}

type Ran = { study: number; result: TrialResult; bindings: Record<string, ParamValue> };
type Search = { sampler: Sampler; pruner: Pruner; space: ResolvedSpace; trials: TrialRunner; parallel: number };

/** `parallel`, refused where it cannot run, and capped at `--concurrency` (every worker process runs one trial at a time). */
function effectiveParallel(p: SearchParams, emit: StageEmitter, trials: TrialRunner): number {
  const asked = p.parallel ?? 1;
  const refusal = parallelRefusal(asked, p.storage, trials);
  if (refusal) throw new FairtuneError('FT_PARAM_INVALID', refusal, { param: 'parallel' });
  if (asked <= 1) return 1;
  const limit = trials.concurrency ?? 1;
  if (asked > limit) emit.log('warn', `parallel: ${asked} is above --concurrency ${limit}: running ${limit} trials at once (raise --concurrency for more)`);
  return Math.min(asked, limit);
}

/** The parent's `parallel` as it passed it to its workers. */
function workerParallel(data: Readonly<Record<string, unknown>>): number {
  const n = data['parallel'];
  // Set by this stage in the parent (startWorkers below); anything else is a bug, not user input.
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 2) throw new Error(`trial worker: the parent passed parallel ${JSON.stringify(n)}, expected an integer ≥ 2`);
  return n;
}

/**
 * The parent's `parallel − 1` trial workers (core's `TrialRunner.startWorkers`). A worker that
 * exits before the study is done (a crash, a kill) is reported and its running trial marked FAIL
 * at once, giving its budget back; the others go on.
 */
function startWorkers(ctx: StageContext<SearchParams>, emit: StageEmitter, store: StudyStore, trials: TrialRunner, parallel: number): { wait(): Promise<unknown>; close(): Promise<void> } {
  const failTrials = (pid: number, why: string) => failWorkerTrials(store, pid, why);
  let closing = false;
  const onExit = (e: TrialWorkerExit) => {
    // On an abort the workers were killed and their trials failed when the signal fired (below);
    // once this stage closes the pool (its own error), their SIGTERM is not news.
    if (e.finished || ctx.signal.aborted || closing) return;
    const how = e.signal ? `was killed (${e.signal})` : `exited with code ${e.code}`;
    try {
      const failed = failTrials(e.pid, `its worker process ${e.pid} ${how}`);
      emit.log('error', `trial worker ${e.index} (pid ${e.pid}) ${how}${failed.length ? `; trial ${failed.join(', ')} marked FAIL` : ''}: ${lastLines(e.stderr)}`);
    } catch (err) {
      emit.log('error', `trial worker ${e.index} (pid ${e.pid}) ${how}, and its trials could not be marked FAIL: ${(err as Error).message}`);
    }
  };
  // parallelRefusal checked that this run can start workers.
  const pool = trials.startWorkers!(parallel - 1, { data: { parallel }, onExit });
  // Synchronously on Ctrl-C or a failing stage: the executor does not wait for this stage to clean
  // up before the process exits, so the workers are killed and their trials given back at once.
  const onAbort = () => {
    pool.kill();
    for (const pid of pool.pids) {
      try {
        failTrials(pid, 'the run was cancelled');
      } catch (e) {
        process.stderr.write(`search: the trials of worker process ${pid} could not be marked FAIL: ${(e as Error).message}\n`);
      }
    }
  };
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  emit.log('info', `parallel: ${parallel} — trial workers started (pids ${pool.pids.join(', ')})`);
  return {
    wait: () => pool.wait(),
    close: async () => {
      ctx.signal.removeEventListener('abort', onAbort);
      closing = true;
      await pool.close();
    },
  };
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-5).join(' | ') || 'no output';
}

/**
 * Asks, runs and tells trials until the shared study has `trials` finished ones (study/workers.ts):
 * the count is read from the study before each ask, so workers in other processes (or on other
 * machines, on Redis) running the same stage share it. Stale trials are failed first.
 */
async function runTrials(ctx: StageContext<SearchParams>, emit: StageEmitter, store: StudyStore, s: Search): Promise<Ran[]> {
  const p = ctx.params;
  const staleMs = p.staleAfterSeconds * 1000;
  // Enqueued and baseline configurations belong to trial numbers 0, 1, …: whichever worker creates trial k runs the k-th.
  const queue = enqueued(p, s.space);
  const ran: Ran[] = [];
  let waiting = false;
  let failedInARow = 0;
  for (;;) {
    if (ctx.signal.aborted) throw new Error('cancelled');
    for (const n of failStaleTrials(store, Date.now(), staleMs)) emit.log('warn', `trial ${n}: marked FAIL, its heartbeat is older than ${p.staleAfterSeconds} s (its worker stopped); its budget is given back`);
    const step = nextStep(store.view().trials, p.trials, Date.now(), staleMs);
    if (step.action === 'stop') break;
    if (step.action === 'wait') {
      if (!waiting) emit.log('info', `${step.finished} of ${p.trials} trials finished and ${step.running} running in other workers: waiting for them`);
      waiting = true;
      await sleep(Math.min(1000, p.heartbeatSeconds * 1000), undefined, { signal: ctx.signal }).catch(() => undefined);
      continue;
    }
    waiting = false;
    const claim = claimOrCreate(store, s.parallel);
    const number = claim.number;
    // Beats from creation: with `parallel`, the trial may wait for its ask window longer than staleAfterSeconds.
    const heartbeat = new Heartbeat(store, number, p.heartbeatSeconds * 1000, (e) => emit.log('warn', `trial ${number}: heartbeat not written: ${(e as Error).message}`));
    let result: TrialResult;
    let bindings: Record<string, ParamValue>;
    try {
      let fixed: Record<string, ParamValue>;
      try {
        fixed = plannedParams(store.view().trials, number, queue, s.space.study);
      } catch (e) {
        // An enqueued value outside the space: that trial fails, the search goes on.
        store.setUserAttr(number, 'fail_reason', (e as Error).message);
        store.finish(number, 'FAIL');
        emit.log('warn', `trial ${number}: ${(e as Error).message}; marked FAIL`);
        failedInARow++;
        continue;
      }
      if (claim.claimed) emit.log('info', `trial ${number}: enqueued by Optuna's enqueue_trial, run with ${JSON.stringify(fixed)}`);
      bindings = await askTrial(ctx, store, number, fixed, s);
      result = await runOneTrial(s.trials, store, number, bindings, p, s.pruner, heartbeat);
    } finally {
      heartbeat.stop();
    }
    ran.push({ study: number, result, bindings });
    const { value, state } = store.view().trials[number]!;
    failedInARow = state === 'FAIL' ? failedInARow + 1 : 0;
    emit.log('info', `trial ${number}: ${state.toLowerCase()}${value !== undefined ? `, ${p.objective.metric} ${value.toFixed(4)}` : ''}${result.reason ? ` (${result.reason})` : ''} — ${describe(bindings)}`);
    emit.progress(nextStep(store.view().trials, p.trials, Date.now(), staleMs).finished, p.trials, undefined, 'trials');
    // FAIL does not count towards the target (as the issue defines it), so a trial group that always
    // fails (a bad binding, a broken stage) would otherwise sample forever.
    const limit = p.maxFailedInARow ?? Math.max(5, p.trials);
    if (failedInARow >= limit) {
      throw new FairtuneError('FT_SEARCH_FAILED', `${failedInARow} trials in a row failed in this worker (the last, trial ${number}: ${result.reason ?? store.view().trials[number]?.userAttrs['fail_reason'] ?? 'no reason recorded'}); the search stops. Fix the trial group, or raise maxFailedInARow`);
    }
  }
  return ran;
}

/**
 * The trial this worker runs next: the oldest WAITING trial it wins (one a Python worker enqueued
 * with Optuna's `enqueue_trial`, as Optuna's `ask` takes them first), else a new one. Either way
 * it carries the heartbeat (and, with `parallel`, this process's pid) from the start.
 */
function claimOrCreate(store: StudyStore, parallel: number): { number: number; claimed: boolean } {
  const attrs = { [HEARTBEAT_ATTR]: heartbeatValue(Date.now()), ...(parallel > 1 ? { [WORKER_ATTR]: process.pid } : {}) };
  const claimed = store.claimWaiting();
  if (claimed === undefined) return { number: store.createTrial(attrs), claimed: false };
  for (const [key, value] of Object.entries(attrs)) store.setSystemAttr(claimed, key, value);
  return { number: claimed, claimed: true };
}

/**
 * The values fixed for trial `number` before sampling: an Optuna-enqueued trial's `fixed_params`,
 * else the next entry of this stage's own queue (`enqueue`, then the baselines). The queue is
 * indexed by the trials created by FairTune workers only (Optuna-enqueued ones are skipped), so
 * every worker agrees on it and an Optuna-enqueued trial does not take a baseline's place.
 */
function plannedParams(trials: readonly FrozenTrial[], number: number, queue: readonly Record<string, ParamValue>[], space: Readonly<Record<string, Distribution>>): Record<string, ParamValue> {
  const trial = trials[number]!;
  if (wasEnqueued(trial)) return fixedParamsOf(trial, space);
  const index = trials.filter((t) => t.number < number && !wasEnqueued(t)).length;
  return queue[index] ?? {};
}

/**
 * Trial `number`'s params (enqueued ones kept, the rest from the sampler), written to the study;
 * returns its bindings. With `parallel` > 1 it first waits for the trial's ask window and the
 * sampler sees only that window (parallel.ts), so the params do not depend on timing.
 */
async function askTrial(ctx: StageContext<SearchParams>, store: StudyStore, number: number, fixed: Record<string, ParamValue>, s: Search): Promise<Record<string, ParamValue>> {
  const p = ctx.params;
  if (s.parallel > 1) {
    const names = Object.keys(s.space.study);
    while (!windowReady(store.view().trials, number, s.parallel, names)) {
      await sleep(50, undefined, { signal: ctx.signal }).catch(() => undefined);
      if (ctx.signal.aborted) throw new Error('cancelled');
    }
  }
  if (Object.keys(fixed).length) store.setParams(number, fixed, pick(s.space.study, Object.keys(fixed)));
  const view = samplerView(store, number, p.sampler.name, s.pruner, s.parallel);
  const params = { ...s.sampler.sample(view, store.view().trials[number]!, s.space.study), ...fixed };
  // The enqueued values are in the study already; the sampler's are added.
  const sampled = Object.keys(params).filter((k) => !Object.hasOwn(fixed, k));
  store.setParams(number, pick(params, sampled), pick(s.space.study, sampled));
  const bindings = s.space.toBindings(params);
  store.setUserAttr(number, 'fairtune_bindings', bindings);
  return bindings;
}

/** One trial: bind, run, report per epoch (or once), prune, and record the outcome in the study. */
async function runOneTrial(trials: TrialRunner, store: StudyStore, number: number, bindings: Record<string, ParamValue>, p: SearchParams, pruner: Pruner, heartbeat: Heartbeat): Promise<TrialResult> {
  const prune = new AbortController();
  let last: { step: number; value: number } | undefined;
  const result = await trials.run(bindings, {
    signal: prune.signal,
    onEvent: (e) => {
      if (e.type !== 'stage-event' || e.stage !== p.objective.stage || e.event.type !== 'metric' || e.event.name !== p.objective.metric) return;
      const step = e.event.epoch ?? e.event.step ?? (last ? last.step + 1 : 0);
      last = { step, value: e.event.value };
      if (prune.signal.aborted) return;
      try {
        // Reports renew the heartbeat too (an epoch may keep the timer from firing).
        heartbeat.renew();
        if (p.reportOnce || !Number.isFinite(e.event.value)) return;
        store.report(number, step, e.event.value);
        const view = store.view();
        if (pruner.shouldPrune(view, view.trials[number]!)) prune.abort(new Error(`at epoch ${step + 1} (${p.objective.metric} ${e.event.value.toFixed(4)})`));
      } catch (err) {
        if (!lostTrial(err, store, number)) throw err;
        prune.abort(new Error('another worker marked this trial FAIL as stale (its heartbeat was late)'));
      }
    },
  });
  try {
    tell(store, number, result, last, p, pruner);
  } catch (err) {
    // Failed as stale by another worker meanwhile: the study keeps that verdict.
    if (!lostTrial(err, store, number)) throw err;
  }
  return result;
}

/** Records a trial's outcome: its stage runs, its state and value. */
function tell(store: StudyStore, number: number, result: TrialResult, last: { step: number; value: number } | undefined, p: SearchParams, pruner: Pruner): void {
  store.setUserAttr(number, 'fairtune_trial', result.stageIds[p.objective.stage] ?? `trial ${result.number}`);
  if (result.status === 'failed') {
    store.setUserAttr(number, 'fail_reason', result.reason ?? 'unknown');
    store.finish(number, 'FAIL');
  } else if (result.status === 'pruned') store.finish(number, 'PRUNED', last?.value);
  else if (!last || !Number.isFinite(last.value)) {
    // As in Optuna: a trial without a finite objective fails.
    store.setUserAttr(number, 'fail_reason', last ? `objective is ${last.value}` : `the trial reported no ${p.objective.metric}`);
    store.finish(number, 'FAIL');
  } else if (p.reportOnce) {
    // The public FairTune code: one report at the last epoch, then the pruner relabels.
    store.report(number, last.step, last.value);
    const view = store.view();
    store.finish(number, pruner.shouldPrune(view, view.trials[number]!) ? 'PRUNED' : 'COMPLETE', last.value);
  } else store.finish(number, 'COMPLETE', last.value);
}

async function finishOutputs(
  emit: StageEmitter,
  store: StudyStore,
  ran: Ran[],
  p: SearchParams,
  passOn: boolean,
  trials: TrialRunner,
  report: { workDir: string; masks: ReadonlyMap<string, number>; space: Readonly<Record<string, SpaceEntry>> },
): Promise<void> {
  const view = store.view();
  const complete = view.trials.filter((t) => t.state === 'COMPLETE' && t.value !== undefined);
  if (!complete.length) throw new FairtuneError('FT_SEARCH_FAILED', `no trial of ${view.trials.length} completed (${view.trials.map((t) => t.state.toLowerCase()).join(', ')})`);
  const best = complete.reduce((a, b) => ((p.direction === 'minimize' ? b.value! < a.value! : b.value! > a.value!) ? b : a));
  const bindingsOf = new Map(view.trials.map((t) => [t.number, (t.userAttrs['fairtune_bindings'] ?? {}) as Record<string, ParamValue>]));
  for (const r of ran) bindingsOf.set(r.study, r.bindings);
  const rows = view.trials.map((t) => ({
    number: t.number,
    state: t.state,
    params: { ...t.params } as JsonObject,
    bindings: (bindingsOf.get(t.number) ?? {}) as JsonObject,
    ...(t.value !== undefined ? { value: t.value } : {}),
    intermediate: Object.fromEntries([...t.intermediateValues].map(([s, v]) => [String(s), v])),
    ...(typeof t.userAttrs['fail_reason'] === 'string' ? { reason: t.userAttrs['fail_reason'] as string } : {}),
    trial: String(t.userAttrs['fairtune_trial'] ?? ''),
  }));
  // The best trial's own trained model and outputs (the searched mask and learning rate kept),
  // or (final: retrain) one more run of the trial group with the best bindings, outside the study.
  const retrain = passOn && p.final === 'retrain';
  let bestRun = ran.find((r) => r.study === best.number);
  let finalJson: JsonObject | undefined;
  if (retrain) {
    const bindings = retrainBindings(bindingsOf.get(best.number) ?? {}, p, report.space, trials);
    emit.log('info', `final model: retraining with the best trial ${best.number}'s bindings${p.discardLearningRate ? ' (searched non-mask values reset to the trial group\'s defaults, as the public FairTune code)' : ''}: ${describe(bindings)}`);
    const result = await trials.run(bindings);
    if (result.status !== 'completed') throw new FairtuneError('FT_SEARCH_FAILED', `the final retrain (${describe(bindings)}) ${result.status}: ${result.reason ?? 'no reason given'}`);
    const value = result.metrics[p.objective.stage]?.[p.objective.metric];
    if (value !== undefined) emit.metric('final_value', value);
    finalJson = { mode: 'retrain', bindings: { ...result.values }, stageIds: { ...result.stageIds }, cached: result.cached, ...(value !== undefined ? { value } : {}) };
    bestRun = { study: best.number, result, bindings };
  } else if (passOn && !bestRun) {
    // The best trial ran in an earlier run of a continued study: its stages, keyed by its values, are cached.
    const bindings = bindingsOf.get(best.number) ?? {};
    const result = await trials.run(bindings);
    if (result.status !== 'completed') throw new FairtuneError('FT_SEARCH_FAILED', `the best trial ${best.number} of study ${view.name} ran in an earlier run; running it again to pass its model on ${result.status}: ${result.reason ?? ''}`);
    bestRun = { study: best.number, result, bindings };
  }
  const modelStage = p.modelStage ?? p.objective.stage;
  let trainableShare: number | undefined;
  if (passOn && bestRun) for (const port of PASSED_ON) {
    try {
      const a = bestRun.result.output(modelStage, port);
      if (port === 'model' && isKind(a, 'model')) {
        const meta = a.meta;
        if (meta.parameterCount && meta.trainableParameterCount !== undefined) trainableShare = meta.trainableParameterCount / meta.parameterCount;
      }
      emit.artifact(port, a);
    } catch (err) {
      throw new FairtuneError(errorCode(err) ?? 'FT_PARAM_INVALID', `the best trial's stage "${modelStage}" has no output "${port}" to pass on (set modelStage to the trial's trainer): ${(err as Error).message}`, { param: 'modelStage' }, { cause: err });
    }
  }
  const bestJson = { number: best.number, value: best.value!, params: { ...best.params } as JsonObject, bindings: (bindingsOf.get(best.number) ?? {}) as JsonObject, ...(finalJson ? { final: finalJson } : {}) };
  const epochs = view.trials.reduce((s, t) => s + t.intermediateValues.size, 0);
  emit.metric('best_value', best.value!);
  emit.metric('trials_complete', complete.length);
  emit.metric('trials_pruned', view.trials.filter((t) => t.state === 'PRUNED').length);
  emit.metric('trials_failed', view.trials.filter((t) => t.state === 'FAIL').length);
  emit.metric('epochs_reported', epochs);
  emit.artifact('study', artifact('study', { name: view.name, direction: view.direction, objective: p.objective as unknown as JsonObject, sampler: p.sampler as unknown as JsonObject, pruner: p.pruner as unknown as JsonObject, trials: rows, best: bestJson }));
  emit.artifact('best', artifact('metrics', { label: `best trial ${best.number}`, objective: p.objective.metric, ...bestJson }));
  const perBlock = new Map(Object.entries(report.space).flatMap(([k, e]) => (e.type === 'mask' && e.perBlock ? [[k, e.perBlock] as const] : [])));
  const files = writeSearchReport(report.workDir, { view, objective: p.objective.metric, bindings: bindingsOf, masks: report.masks, perBlock, bestNumber: best.number, top: Math.max(3, Math.ceil(complete.length / 4)), ...(trainableShare !== undefined ? { bestTrainableShare: trainableShare } : {}) });
  emit.artifact('report', artifact('report', { title: `Search ${view.name}` }, {}, files));
}

/** `discardLearningRate` and `retrainBindings` go with `final: retrain`, and bind only what the trial group binds. */
function checkFinalParams(p: SearchParams, trials: TrialRunner): void {
  if (p.final !== 'retrain') {
    if (p.discardLearningRate) throw new FairtuneError('FT_PARAM_INVALID', 'discardLearningRate: true needs final: "retrain" (the best trial\'s own model was trained with the searched learning rate)', { param: 'discardLearningRate' });
    if (p.retrainBindings && Object.keys(p.retrainBindings).length) throw new FairtuneError('FT_PARAM_INVALID', 'retrainBindings needs final: "retrain"', { param: 'retrainBindings' });
  }
  if (p.discardLearningRate && p.space['lr']?.type === undefined) throw new FairtuneError('FT_PARAM_INVALID', 'discardLearningRate: the space has no "lr" entry, the learning rate it would discard (name another binding to reset in retrainBindings)', { param: 'discardLearningRate' });
  for (const name of Object.keys(p.retrainBindings ?? {})) {
    if (!Object.hasOwn(trials.defaults, name)) throw new FairtuneError('FT_PARAM_INVALID', `retrainBindings.${name}: trial group "${trials.group}" binds no "${name}" (it binds: ${Object.keys(trials.defaults).join(', ')})`, { param: `retrainBindings.${name}` });
  }
}

/**
 * The final retrain's bindings: the best trial's; with `discardLearningRate`, the searched `lr`
 * back at the trial group's default, as the public code's stage 2 retrains with the mask and its
 * default learning rate; then `retrainBindings` over them.
 */
export function retrainBindings(best: Readonly<Record<string, ParamValue>>, p: Pick<SearchParams, 'discardLearningRate' | 'retrainBindings'>, space: Readonly<Record<string, SpaceEntry>>, trials: Pick<TrialRunner, 'defaults'>): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = { ...best };
  if (p.discardLearningRate && Object.hasOwn(space, 'lr')) out['lr'] = trials.defaults['lr'] as ParamValue;
  return { ...out, ...((p.retrainBindings ?? {}) as Record<string, ParamValue>) };
}

/** The study's store from the `storage` and `prefix` params (see their descriptions). */
function openStore(p: SearchParams, name: string): StudyStore {
  const location = parseStorage(p.storage);
  if (location.kind === 'memory') return new MemoryStudyStore(name, p.direction);
  const storage = openJournalStorage(location, name, { prefix: p.prefix });
  try {
    return storage.openStudy(name, p.direction);
  } catch (e) {
    storage.close();
    throw e;
  }
}

function enqueued(p: SearchParams, space: ResolvedSpace): Record<string, ParamValue>[] {
  const out = p.enqueue.map((bindings, i) =>
    Object.assign(
      {},
      ...Object.entries(bindings).map(([k, v]) => {
        const params = space.fromBinding(k, v);
        // Checked here, where the entry can be named: the journal writer would refuse it later without the name.
        for (const [name, value] of Object.entries(params)) {
          const d = space.study[name];
          if (d && !inDistribution(d, value)) throw new FairtuneError('FT_PARAM_INVALID', `enqueue[${i}].${k}: ${JSON.stringify(v)} is outside the search space (${name}: ${describeDistribution(d)})`, { param: `enqueue[${i}].${k}` });
        }
        return params;
      }),
    ) as Record<string, ParamValue>,
  );
  if (!p.baselines) return out;
  for (const [name] of space.masks) {
    const entry = p.space[name];
    // The baseline layouts are 3-bit-a-block patterns (norm, attention, MLP); in a one-bit-a-block space they would be other masks than their names say.
    if (entry?.type === 'mask' && entry.perBlock === 1) throw new FairtuneError('FT_PARAM_INVALID', `space.${name} has perBlock 1: the baseline masks (full, linear-readout, attention, layernorm) are 3-bit-a-block layouts; set "baselines": false`, { param: 'baselines' });
    for (const layout of ['full', 'linear-readout', 'attention', 'layernorm']) out.push(space.fromBinding(name, layout));
  }
  return out;
}

/**
 * What the sampler sees: the whole study, or with Hyperband only the trial's bracket for TPE, as
 * Optuna does (`optuna.pruners._filter_study`), so TPE models trials of comparable budgets.
 */
export function samplerView(store: StudyStore, number: number, samplerName: string, pruner: object, parallel = 1): StudyView {
  const view = parallel > 1 ? windowView(store.view(), number, parallel) : store.view();
  const bracket = (pruner as { bracketStudy?: (s: StudyView, t: FrozenTrial) => StudyView }).bracketStudy;
  return samplerName === 'tpe' && typeof bracket === 'function' ? bracket.call(pruner, view, view.trials[number]!) : view;
}

function pick<T>(o: Readonly<Record<string, T>>, keys: readonly string[]): Record<string, T> {
  return Object.fromEntries(keys.filter((k) => Object.hasOwn(o, k)).map((k) => [k, o[k]!]));
}

function describe(bindings: Readonly<Record<string, ParamValue>>): string {
  return Object.entries(bindings)
    .map(([k, v]) => `${k} ${typeof v === 'number' && !Number.isInteger(v) ? v.toPrecision(3) : String(v)}`)
    .join(', ');
}

/**
 * `search.fairtune`: `search.optimise` over a trial group whose trainer yields a model, passing the
 * best trial's model, predictions and embeddings on, so the pipeline evaluates the searched model
 * (its mask and learning rate kept) with the usual evaluation and report stages.
 */
@injectable()
export class FairTuneSearchStage extends SearchStage {
  override readonly type = 'search.fairtune';
  override readonly description =
    "FairTune's mask and learning-rate search (search.optimise) that passes the best trial's model, predictions and embeddings on for evaluation.";
  override readonly outputs = {
    ...new SearchStage().outputs,
    model: { kind: 'model', description: "The best trial's model (modelStage's `model`)." },
    predictions: { kind: 'predictions', description: "The best trial's predictions on every sample (test included), for evaluation stages." },
    embeddings: { kind: 'embeddings', description: "The best trial's embeddings." },
  };
  protected override readonly passOn = true;
  override readonly paramsSchema = fairtuneParamsSchema;

  constructor(@multiInject(SAMPLER) @optional() samplers?: SamplerPlugin[], @multiInject(PRUNER) @optional() pruners?: PrunerPlugin[]) {
    super(samplers, pruners);
  }
}

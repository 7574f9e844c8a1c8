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
  nestedPluginParam,
  PRUNER,
  PRUNER_KIND,
  runAsync,
  SAMPLER,
  SAMPLER_KIND,
  type Artifact,
  type FrozenTrial,
  type JsonObject,
  type NestedPluginRef,
  type ParamValue,
  type PrunerPlugin,
  type SamplerPlugin,
  type StageContext,
  type StageEmitter,
  type StagePlugin,
  type StudyView,
  type TrialResult,
  type TrialRunner,
} from '@fairtune/core';
import { writeSearchReport } from '../report.js';
import { resolveSpace, spaceSchema, type ResolvedSpace, type SpaceEntry } from '../space.js';
import { join, resolve } from 'node:path';
import { openJournalStudy } from '../storage/journal.js';
import { MemoryStudyStore, type StudyStore } from '../study/store.js';

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
    reportOnce: { type: 'boolean', default: false, description: 'Report the objective once, after the last epoch, as the public FairTune code does (then pruning only relabels finished trials).' },
    studyName: { type: 'string', minLength: 1, description: 'Study name (default <pipeline>/<stage id>).' },
    modelStage: { type: 'string', minLength: 1, description: 'The trial stage whose model, predictions and embeddings the best trial passes on (default: objective.stage).' },
    storage: {
      type: 'string',
      default: 'journal:.fairtune/studies',
      description:
        'Where the study lives: "journal:<folder>" (an Optuna journal file <folder>/<study name>.journal, relative to the working directory; Optuna 3.1+ and optuna-dashboard open it), "journal:<file>.journal", or "memory" (no record beyond this stage\'s outputs). A study found there is continued: finished trials are not run again.',
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
  readonly version = '3';
  readonly description: string = "FairTune's outer loop: samples trial bindings (PEFT mask bits, learning rate, …), runs the pipeline's trial group with them, prunes by the objective reported per epoch.";
  readonly runsTrials = true;
  readonly paramsSchema = paramsSchema;
  readonly inputs = {
    backbone: { kind: ['backbone', 'model'], optional: true, description: 'The backbone whose layers a mask entry without "bits" counts (3 bits a block).' },
  };
  readonly outputs = {
    study: { kind: 'study', description: 'Every trial (number, state, params, bindings, intermediate and final values) and the best one.' },
    best: { kind: 'metrics', description: 'The best trial: its objective, params and bindings (the searched learning rate included).' },
    report: { kind: 'report', description: 'report.md and trajectory.svg: the optimisation trajectory, how often each mask component is selected among the top trials, the best trial against the baseline masks.' },
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
      if (!trials) throw new Error('search.optimise runs trials: name its trial group in the stage\'s "trials"');
      const p = ctx.params;
      for (const name of Object.keys(p.space)) if (!Object.hasOwn(trials.defaults, name)) throw new Error(`space.${name}: trial group "${trials.group}" binds no "${name}" (it binds: ${Object.keys(trials.defaults).join(', ')})`);
      if (!trials.stages.includes(p.objective.stage)) throw new Error(`objective.stage "${p.objective.stage}" is not a stage of trial group "${trials.group}" (its stages: ${trials.stages.join(', ')})`);
      const backbone = ctx.inputs['backbone'] as Artifact | undefined;
      const layers = Number((backbone?.meta as { config?: { nLayers?: unknown } } | undefined)?.config?.nLayers);
      const space = resolveSpace(p.space, Number.isFinite(layers) ? layers : undefined);
      const sampler = this.#plugin(this.#samplers, 'sampler', p.sampler.name).create(p.sampler.params, ctx.seed);
      const pruner = this.#plugin(this.#pruners, 'pruner', p.pruner.name).create(p.pruner.params);
      const store = openStore(p.storage, p.studyName ?? `${ctx.pipelineName}/${ctx.stageId}`, p.direction);
      const earlier = store.view().trials;
      const resumed = earlier.length;
      if (resumed) emit.log('info', `continuing study "${store.name}" (${resumed} trials, ${finishedCount(store)} finished)`);
      // A trial left RUNNING by a killed run will never finish: it fails, and its budget is given back.
      for (const t of earlier) if (t.state === 'RUNNING') {
        store.setUserAttr(t.number, 'fail_reason', 'left running by an earlier run that stopped');
        store.finish(t.number, 'FAIL');
      }
      // Enqueued and baseline trials open a study; a continued study has had them.
      const queue = resumed ? [] : enqueued(p, space);
      const ran: { study: number; result: TrialResult; bindings: Record<string, ParamValue> }[] = [];
      while (finishedCount(store) < p.trials) {
        if (ctx.signal.aborted) throw new Error('cancelled');
        const number = store.createTrial();
        const fixed = queue.shift() ?? {};
        if (Object.keys(fixed).length) store.setParams(number, fixed, pick(space.study, Object.keys(fixed)));
        const view = samplerView(store, number, p.sampler.name, pruner);
        const params = { ...sampler.sample(view, store.view().trials[number]!, space.study), ...fixed };
        // The enqueued values are in the study already; the sampler's are added.
        const sampled = Object.keys(params).filter((k) => !Object.hasOwn(fixed, k));
        store.setParams(number, pick(params, sampled), pick(space.study, sampled));
        const bindings = space.toBindings(params);
        store.setUserAttr(number, 'fairtune_bindings', bindings);
        const result = await runOneTrial(trials, store, number, bindings, p, pruner);
        ran.push({ study: number, result, bindings });
        const { value, state } = store.view().trials[number]!;
        emit.log('info', `trial ${number}: ${state.toLowerCase()}${value !== undefined ? `, ${p.objective.metric} ${value.toFixed(4)}` : ''}${result.reason ? ` (${result.reason})` : ''} — ${describe(bindings)}`);
        emit.progress(finishedCount(store), p.trials, undefined, 'trials');
      }
      await finishOutputs(emit, store, ran, p, this.passOn, trials, { workDir: ctx.workDir, masks: space.masks });
    });
  }

  #plugin<T extends { name: string }>(list: readonly T[], kind: string, name: string): T {
    const found = list.find((x) => x.name === name);
    // Validation resolved the name among the loaded plugins; missing here means the registry changed.
    if (!found) throw new Error(`no ${kind} plugin "${name}" is loaded (loaded: ${list.map((x) => x.name).join(', ') || 'none'})`);
    return found;
  }
}

/** One trial: bind, run, report per epoch (or once), prune, and record the outcome in the study. */
async function runOneTrial(trials: TrialRunner, store: StudyStore, number: number, bindings: Record<string, ParamValue>, p: SearchParams, pruner: { shouldPrune: (s: ReturnType<StudyStore['view']>, t: FrozenTrial) => boolean }): Promise<TrialResult> {
  const prune = new AbortController();
  let last: { step: number; value: number } | undefined;
  const result = await trials.run(bindings, {
    signal: prune.signal,
    onEvent: (e) => {
      if (e.type !== 'stage-event' || e.stage !== p.objective.stage || e.event.type !== 'metric' || e.event.name !== p.objective.metric) return;
      const step = e.event.epoch ?? e.event.step ?? (last ? last.step + 1 : 0);
      last = { step, value: e.event.value };
      if (p.reportOnce || prune.signal.aborted || !Number.isFinite(e.event.value)) return;
      store.report(number, step, e.event.value);
      const view = store.view();
      if (pruner.shouldPrune(view, view.trials[number]!)) prune.abort(new Error(`at epoch ${step + 1} (${p.objective.metric} ${e.event.value.toFixed(4)})`));
    },
  });
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
  return result;
}

async function finishOutputs(
  emit: StageEmitter,
  store: StudyStore,
  ran: { study: number; result: TrialResult; bindings: Record<string, ParamValue> }[],
  p: SearchParams,
  passOn: boolean,
  trials: TrialRunner,
  report: { workDir: string; masks: ReadonlyMap<string, number> },
): Promise<void> {
  const view = store.view();
  const complete = view.trials.filter((t) => t.state === 'COMPLETE' && t.value !== undefined);
  if (!complete.length) throw new Error(`no trial of ${view.trials.length} completed (${view.trials.map((t) => t.state.toLowerCase()).join(', ')})`);
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
  // The best trial's own trained model and outputs (the searched mask and learning rate kept).
  let bestRun = ran.find((r) => r.study === best.number);
  if (passOn && !bestRun) {
    // The best trial ran in an earlier run of a continued study: its stages, keyed by its values, are cached.
    const bindings = bindingsOf.get(best.number) ?? {};
    const result = await trials.run(bindings);
    if (result.status !== 'completed') throw new Error(`the best trial ${best.number} of study ${view.name} ran in an earlier run; running it again to pass its model on ${result.status}: ${result.reason ?? ''}`);
    bestRun = { study: best.number, result, bindings };
  }
  const modelStage = p.modelStage ?? p.objective.stage;
  let trainableShare: number | undefined;
  if (passOn && bestRun) for (const port of PASSED_ON) {
    try {
      const a = bestRun.result.output(modelStage, port);
      const meta = a.meta as { parameterCount?: number; trainableParameterCount?: number };
      if (port === 'model' && meta.parameterCount && meta.trainableParameterCount !== undefined) trainableShare = meta.trainableParameterCount / meta.parameterCount;
      emit.artifact(port, a);
    } catch (err) {
      throw new Error(`the best trial's stage "${modelStage}" has no output "${port}" to pass on (set modelStage to the trial's trainer): ${(err as Error).message}`);
    }
  }
  const bestJson = { number: best.number, value: best.value!, params: { ...best.params } as JsonObject, bindings: (bindingsOf.get(best.number) ?? {}) as JsonObject };
  const epochs = view.trials.reduce((s, t) => s + t.intermediateValues.size, 0);
  emit.metric('best_value', best.value!);
  emit.metric('trials_complete', complete.length);
  emit.metric('trials_pruned', view.trials.filter((t) => t.state === 'PRUNED').length);
  emit.metric('trials_failed', view.trials.filter((t) => t.state === 'FAIL').length);
  emit.metric('epochs_reported', epochs);
  emit.artifact('study', artifact('study', { name: view.name, direction: view.direction, objective: p.objective as unknown as JsonObject, sampler: p.sampler as unknown as JsonObject, pruner: p.pruner as unknown as JsonObject, trials: rows, best: bestJson }));
  emit.artifact('best', artifact('metrics', { label: `best trial ${best.number}`, objective: p.objective.metric, ...bestJson }));
  const files = writeSearchReport(report.workDir, { view, objective: p.objective.metric, bindings: bindingsOf, masks: report.masks, bestNumber: best.number, top: Math.max(3, Math.ceil(complete.length / 4)), ...(trainableShare !== undefined ? { bestTrainableShare: trainableShare } : {}) });
  emit.artifact('report', artifact('report', { title: `Search ${view.name}` }, {}, files));
}

/** The study's store from the `storage` param (see its description). */
function openStore(storage: string, name: string, direction: 'minimize' | 'maximize'): StudyStore {
  if (storage === 'memory') return new MemoryStudyStore(name, direction);
  if (!storage.startsWith('journal:')) throw new Error(`storage "${storage}": use "journal:<folder>", "journal:<file>.journal" or "memory"`);
  const target = storage.slice('journal:'.length) || '.fairtune/studies';
  // A study name may hold "/" (<pipeline>/<stage>); in a file name it is "--".
  const file = target.endsWith('.journal') ? target : join(target, `${name.replace(/[^A-Za-z0-9._-]+/g, '--')}.journal`);
  return openJournalStudy(resolve(file), name, direction);
}

function enqueued(p: SearchParams, space: ResolvedSpace): Record<string, ParamValue>[] {
  const out = p.enqueue.map((bindings) => Object.assign({}, ...Object.entries(bindings).map(([k, v]) => space.fromBinding(k, v))) as Record<string, ParamValue>);
  if (p.baselines) for (const [name] of space.masks) for (const layout of ['full', 'linear-readout', 'attention', 'layernorm']) out.push(space.fromBinding(name, layout));
  return out;
}

/**
 * What the sampler sees: the whole study, or with Hyperband only the trial's bracket for TPE, as
 * Optuna does (`optuna.pruners._filter_study`), so TPE models trials of comparable budgets.
 */
export function samplerView(store: StudyStore, number: number, samplerName: string, pruner: object): StudyView {
  const view = store.view();
  const bracket = (pruner as { bracketStudy?: (s: StudyView, t: FrozenTrial) => StudyView }).bracketStudy;
  return samplerName === 'tpe' && typeof bracket === 'function' ? bracket.call(pruner, view, view.trials[number]!) : view;
}

function finishedCount(store: StudyStore): number {
  return store.view().trials.filter((t) => t.state === 'COMPLETE' || t.state === 'PRUNED').length;
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

  constructor(@multiInject(SAMPLER) @optional() samplers?: SamplerPlugin[], @multiInject(PRUNER) @optional() pruners?: PrunerPlugin[]) {
    super(samplers, pruners);
  }
}

/**
 * `fairtune study ask` and `fairtune study tell`: Optuna 3.1's `optuna ask` / `optuna tell`
 * (flags, JSON output, the checks `Study.tell` makes) on our storages, so an external program or a
 * script written for Optuna's CLI can use FairTune's samplers on a study that searches, Python
 * Optuna workers and `optuna-dashboard` share.
 *
 * Optuna 3.1's CLI opens only database URLs (its `get_storage` turns any string into an
 * RDBStorage), so `--storage` takes ours: `journal:<folder>` (one file per study),
 * `journal:<file>.journal`, `redis://host:port[/db]` with `--prefix`.
 */
import { appendFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { errorCode, FairtuneError, UsageError, type CliIO, type Distribution, type ErrorCode, type ParamValue, type StudyDirection } from '@fairtune/core/plugin';
import { distributionConflict } from '../storage/journal-format.js';
import { JournalStorage, type JournalStudy } from '../storage/journal.js';
import { DEFAULT_STORAGE, journalFiles, openJournalStorage, parseStorage, type StorageLocation } from '../storage/location.js';
import { parseAskArgs, parseTellArgs, type AskArgs, type CommonArgs, type TellArgs } from './ask-tell-args.js';
import { formatAsk, paramCell } from './ask-tell-output.js';
import { parseOptunaSearchSpace, type ParsedSearchSpace } from './optuna-distributions.js';
import { chooseSampler } from './optuna-sampler.js';
import { fixedParamsOf } from '../study/waiting.js';

/**
 * The command's own failure (exit 1, as Python's traceback exits 1); the message names the flag.
 * FT_USAGE unless a wrapped error's code says more (a --search-space problem is FT_SEARCH_SPACE).
 */
export class AskTellError extends FairtuneError {
  override readonly name = 'AskTellError';
  constructor(message: string, options?: ErrorOptions, code: ErrorCode | (string & {}) = 'FT_USAGE') {
    super(code, message, {}, options);
  }
}

type JournalLocation = Exclude<StorageLocation, { kind: 'memory' }>;

export async function runAskTell(action: 'ask' | 'tell', argv: readonly string[], io: CliIO): Promise<number> {
  const args = action === 'ask' ? parseAskArgs(argv) : parseTellArgs(argv);
  const log = logger(args, io);
  try {
    if (action === 'ask') ask(args as AskArgs, io, log);
    else tell(args as TellArgs, io, log);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    io.stderr.write(`error: ${(e as Error).message}\n`);
    if (args.debug && (e as Error).stack) io.stderr.write(`${(e as Error).stack}\n`);
    return 1;
  }
}

type Log = (line: string) => void;

/** Info lines (Optuna's logger at INFO) on stderr unless `--quiet`, and in `--log-file`. */
function logger(args: CommonArgs, io: CliIO): Log {
  return (line) => {
    if (!args.quiet) io.stderr.write(`${line}\n`);
    if (args.logFile) appendFileSync(resolve(io.cwd, args.logFile), `${new Date().toISOString()} ${line}\n`);
  };
}

function location(args: CommonArgs, io: CliIO): JournalLocation & { text: string } {
  // Optuna's CLI falls back on OPTUNA_STORAGE; the other `fairtune study` commands on the default folder.
  const text = args.storage ?? io.env['OPTUNA_STORAGE'] ?? DEFAULT_STORAGE;
  let loc: StorageLocation;
  try {
    loc = parseStorage(text);
  } catch (e) {
    throw new UsageError(`--storage: ${(e as Error).message}`, { cause: e });
  }
  if (loc.kind === 'memory') throw new UsageError('--storage memory: a study in memory lives only inside its run; use journal:… or redis://…');
  return { ...loc, text };
}

/** The study name: `--study-name`, or the one study of the storage (Optuna's `load_study(study_name=None)`). */
function studyName(args: CommonArgs, loc: JournalLocation & { text: string }, cwd: string): string {
  if (args.studyName !== undefined) return args.studyName;
  const names: string[] = [];
  const storages = loc.kind === 'redis' ? [JournalStorage.redis(loc.url, { prefix: args.prefix })] : journalFiles(loc.target, cwd).map((f) => JournalStorage.file(f));
  try {
    for (const s of storages) names.push(...s.studyNames());
  } finally {
    for (const s of storages) s.close();
  }
  if (names.length !== 1) throw new AskTellError(`--study-name: could not determine the study name since the storage ${loc.text} does not contain exactly 1 study (it has ${names.length}); give --study-name`);
  return names[0]!;
}

function ask(args: AskArgs, io: CliIO, log: Log): void {
  const loc = location(args, io);
  if (args.direction !== undefined && args.directions !== undefined) throw new AskTellError('--direction, --directions: specify only one of them');
  const wanted: readonly StudyDirection[] | undefined = args.direction !== undefined ? [args.direction] : args.directions;
  if (wanted && wanted.length !== 1) throw new AskTellError(`--directions: FairTune studies have one objective (got ${wanted.length} directions)`);
  let space: ParsedSearchSpace = { names: [], space: {}, warnings: [] };
  if (args.searchSpace !== undefined) {
    try {
      space = parseOptunaSearchSpace(args.searchSpace);
    } catch (e) {
      throw new AskTellError(`--search-space: ${(e as Error).message}`, { cause: e }, errorCode(e) ?? 'FT_USAGE');
    }
  }
  for (const w of space.warnings) io.stderr.write(`warning: --search-space: ${w}\n`);
  const chosen = chooseSampler(args.sampler, args.samplerKwargs);
  const name = studyName(args, loc, io.cwd);
  const storage = openJournalStorage(loc, name, { prefix: args.prefix, cwd: io.cwd });
  try {
    const study = loadOrCreate(storage, name, wanted?.[0]);
    checkCompatible(study, space);
    // As Optuna's ask: a trial enqueued with enqueue_trial (WAITING) is taken first, its values kept.
    const claimed = study.claimWaiting();
    const number = claimed ?? study.createTrial();
    let params: Record<string, ParamValue>;
    try {
      const view = study.view();
      const fixed = claimed === undefined ? {} : fixedParamsOf(view.trials[number]!, space.space);
      params = { ...chosen.plugin.create(chosen.params, chosen.seed).sample(view, view.trials[number]!, space.space), ...fixed };
      // Written in the search space's order, as Optuna suggests them.
      study.setParams(number, Object.fromEntries(space.names.map((n) => [n, params[n]!])), space.space);
    } catch (e) {
      // Optuna would leave the trial RUNNING for ever; a FAIL with the reason keeps the study clean.
      study.setUserAttr(number, 'fail_reason', `fairtune study ask: ${(e as Error).message}`);
      study.finish(number, 'FAIL');
      const source = errorCode(e) === 'FT_SEARCH_SPACE' ? '' : `sampler ${chosen.plugin.name}: `;
      throw new AskTellError(`${source}${(e as Error).message} (trial ${number} marked FAIL)`, { cause: e }, errorCode(e) ?? 'FT_USAGE');
    }
    const cells = space.names.map((n) => [n, paramCell(study.trial(number).params[n]!, space.space[n])] as const);
    log(`Asked trial ${number} with parameters {${cells.map(([n]) => `'${n}': ${JSON.stringify(params[n])}`).join(', ')}}.`);
    io.stdout.write(`${formatAsk(number, cells, args.format, args.flatten)}\n`);
  } finally {
    storage.close();
  }
}

/** Optuna's ask: load the study (a given direction must match), else create it (minimize by default). */
function loadOrCreate(storage: JournalStorage, name: string, direction: StudyDirection | undefined): JournalStudy {
  if (storage.studyNames().includes(name)) {
    const study = storage.loadStudy(name);
    if (direction !== undefined && study.direction !== direction) throw new AskTellError(`--direction: cannot overwrite study direction from ${study.direction} to ${direction} (study "${name}")`);
    return study;
  }
  return storage.openStudy(name, direction ?? 'minimize');
}

/** A param whose distribution conflicts with the study's earlier trials is refused before a trial is created (Optuna refuses it when setting the param). */
function checkCompatible(study: JournalStudy, space: ParsedSearchSpace): void {
  for (const name of space.names) {
    const earlier = study.trials.find((t) => Object.hasOwn(t.distributions, name));
    const conflict = earlier && distributionConflict(earlier.distributions[name] as Distribution, space.space[name]!);
    if (conflict) throw new AskTellError(`--search-space: param "${name}": ${conflict} (trial ${earlier.number} has ${JSON.stringify(earlier.distributions[name])})`);
  }
}

function tell(args: TellArgs, io: CliIO, log: Log): void {
  if (args.trialNumber === undefined) throw new UsageError('--trial-number: name the trial to tell (the "number" that ask printed)');
  const loc = location(args, io);
  const name = studyName(args, loc, io.cwd);
  const storage = openJournalStorage(loc, name, { prefix: args.prefix, cwd: io.cwd });
  try {
    if (!storage.studyNames().includes(name)) throw new AskTellError(`--study-name: no study "${name}" in ${loc.text}`);
    const study = storage.loadStudy(name);
    const number = args.trialNumber;
    if (number < 0 || number >= study.trials.length) throw new AskTellError(`--trial-number: cannot tell for trial with number ${number} since it has not been created (study "${name}" has ${study.trials.length} trials)`);
    const trial = study.trial(number);
    if (trial.state !== 'RUNNING') {
      if (args.skipIfFinished && trial.state !== 'WAITING') {
        log(`Skipped telling trial ${number} with values ${valuesText(args.values)} and state ${args.state?.toUpperCase() ?? 'None'} since trial was already finished. Finished trial has values ${valuesText(trial.values ?? undefined)} and state ${trial.state}.`);
        return;
      }
      throw new AskTellError(`--trial-number: cannot tell a ${trial.state} trial (trial ${number} of study "${name}")`);
    }
    const { state, value } = tellOutcome(args, io);
    study.finish(number, state, value);
    log(`Told trial ${number} with values ${valuesText(args.values)} and state ${state}.`);
  } finally {
    storage.close();
  }
}

/**
 * `Study.tell`'s rules: complete needs values; pruned and fail take none (pruned keeps the last
 * intermediate value, done by `finish`); without `--state`, feasible values complete the trial
 * and anything else (no values, NaN, the wrong count) fails it with a warning.
 */
export function tellOutcome(args: Pick<TellArgs, 'values' | 'state'>, io?: Pick<CliIO, 'stderr'>): { state: 'COMPLETE' | 'PRUNED' | 'FAIL'; value?: number } {
  const { values, state } = args;
  if (state === 'complete' && values === undefined) throw new AskTellError('--values: no values were told; values are required when --state is complete');
  if ((state === 'pruned' || state === 'fail') && values !== undefined) throw new AskTellError(`--values: values cannot be given when --state is ${state}`);
  if (state === 'pruned') return { state: 'PRUNED' };
  if (state === 'fail') return { state: 'FAIL' };
  const problem = values === undefined ? 'The value None could not be cast to float.' : infeasible(values);
  if (problem === undefined) return { state: 'COMPLETE', value: values![0]! };
  if (state === 'complete') throw new AskTellError(`--values: ${problem}`);
  io?.stderr.write(`warning: ${problem} (the trial is told FAIL)\n`);
  return { state: 'FAIL' };
}

function infeasible(values: readonly number[]): string | undefined {
  const nan = values.find((v) => Number.isNaN(v));
  if (nan !== undefined) return `The value nan is not acceptable.`;
  if (values.length !== 1) return `The number of the values ${values.length} did not match the number of the objectives 1.`;
  return undefined;
}

function valuesText(values: readonly number[] | undefined): string {
  return values === undefined ? 'None' : `[${values.join(', ')}]`;
}

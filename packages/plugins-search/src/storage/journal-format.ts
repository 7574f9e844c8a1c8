/**
 * Optuna's journal format (`optuna/storages/_journal/storage.py`, stable from 3.1 to 5.0): the
 * operation codes, how params and distributions are written, and the replay that turns the log
 * into studies and trials. No I/O here: `JournalStorage` (journal.ts) reads and writes through a
 * backend and hands the records to `JournalReplay`.
 *
 * Ids are implied by line order, exactly as Optuna replays them: a study's id counts the
 * CREATE_STUDY lines that created a study (a duplicate name creates nothing); a trial's id counts
 * every CREATE_TRIAL line of an existing study, across studies; its number counts those of its
 * study. An update to a finished trial, to a missing trial or study, or a param whose distribution
 * conflicts with an earlier trial's is ignored, and is an error only for the worker that wrote it.
 */
import { FairtuneError, type CategoricalChoice, type Distribution, type ParamValue, type StudyDirection, type TrialState } from '@fairtune/core/plugin';
import { PyFloat, pyJsonDumps, pyJsonLoads, type PyJson } from './python-json.js';

export const JournalOperation = {
  CREATE_STUDY: 0,
  DELETE_STUDY: 1,
  SET_STUDY_USER_ATTR: 2,
  SET_STUDY_SYSTEM_ATTR: 3,
  CREATE_TRIAL: 4,
  SET_TRIAL_PARAM: 5,
  SET_TRIAL_STATE_VALUES: 6,
  SET_TRIAL_INTERMEDIATE_VALUE: 7,
  SET_TRIAL_USER_ATTR: 8,
  SET_TRIAL_SYSTEM_ATTR: 9,
} as const;

/** Optuna's TrialState values (RUNNING 0 … WAITING 4). */
export const TRIAL_STATE_CODES: readonly TrialState[] = ['RUNNING', 'COMPLETE', 'PRUNED', 'FAIL', 'WAITING'];
/** Optuna's StudyDirection values (NOT_SET 0, MINIMIZE 1, MAXIMIZE 2). */
export const DIRECTION_CODES: Readonly<Record<StudyDirection, number>> = { minimize: 1, maximize: 2 };
export type JournalDirection = StudyDirection | 'not_set';

export function stateCode(state: TrialState): number {
  return TRIAL_STATE_CODES.indexOf(state);
}

export function isFinished(state: TrialState): boolean {
  return state === 'COMPLETE' || state === 'PRUNED' || state === 'FAIL';
}

/** An operation on the journal that its own writer made and Optuna's replay refuses (Python raises then too). */
export class JournalOperationError extends FairtuneError {
  override readonly name = 'JournalOperationError';
  constructor(message: string, options?: ErrorOptions) {
    super('FT_STUDY_FORMAT', message, {}, options);
  }
}

// ---------------------------------------------------------------------------------------------
// Distributions: `distribution_to_json` / `json_to_distribution`.

/** `{"name": "FloatDistribution", "attributes": {…}}` as Python's `json.dumps` writes it (attributes in Optuna's order). */
export function distributionToJson(d: Distribution): string {
  switch (d.type) {
    case 'float':
      return pyJsonDumps({
        name: 'FloatDistribution',
        attributes: { step: d.step === undefined ? null : new PyFloat(d.step), low: new PyFloat(d.low), high: new PyFloat(d.high), log: d.log },
      });
    case 'int':
      return pyJsonDumps({ name: 'IntDistribution', attributes: { log: d.log, step: d.step, low: d.low, high: d.high } });
    case 'categorical':
      return pyJsonDumps({ name: 'CategoricalDistribution', attributes: { choices: d.choices as readonly PyJson[] } });
  }
}

/** The distribution a journal line names, including Optuna's pre-3.0 classes (read as their 3.x equivalents). */
export function distributionFromJson(text: string): Distribution {
  const j = pyJsonLoads(text) as Record<string, unknown>;
  const a = (j['attributes'] ?? j) as Record<string, unknown>;
  const num = (k: string): number => {
    const v = a[k];
    if (typeof v !== 'number') throw new FairtuneError('FT_STUDY_FORMAT', `distribution ${text}: attribute ${k} is not a number`);
    return v;
  };
  const name = (j['name'] as string | undefined) ?? `${String(j['type'])}-abbreviated`;
  switch (name) {
    case 'FloatDistribution':
    case 'float-abbreviated': {
      const step = a['step'];
      return { type: 'float', low: num('low'), high: num('high'), log: a['log'] === true, ...(typeof step === 'number' ? { step } : {}) };
    }
    case 'UniformDistribution':
      return { type: 'float', low: num('low'), high: num('high'), log: false };
    case 'LogUniformDistribution':
      return { type: 'float', low: num('low'), high: num('high'), log: true };
    case 'DiscreteUniformDistribution':
      return { type: 'float', low: num('low'), high: num('high'), log: false, step: num('q') };
    case 'IntDistribution':
    case 'int-abbreviated':
      return { type: 'int', low: num('low'), high: num('high'), log: a['log'] === true, step: typeof a['step'] === 'number' ? a['step'] : 1 };
    case 'IntUniformDistribution':
      return { type: 'int', low: num('low'), high: num('high'), log: false, step: typeof a['step'] === 'number' ? a['step'] : 1 };
    case 'IntLogUniformDistribution':
      return { type: 'int', low: num('low'), high: num('high'), log: true, step: typeof a['step'] === 'number' ? a['step'] : 1 };
    case 'CategoricalDistribution':
    case 'categorical-abbreviated': {
      const choices = a['choices'];
      if (!Array.isArray(choices)) throw new FairtuneError('FT_STUDY_FORMAT', `distribution ${text}: choices is not a list`);
      return { type: 'categorical', choices: choices as CategoricalChoice[] };
    }
    default:
      throw new FairtuneError('FT_STUDY_FORMAT', `Unknown distribution class: ${name}`);
  }
}

function choiceEqual(a: CategoricalChoice, b: CategoricalChoice): boolean {
  return a === b || (typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b));
}

/** `check_distribution_compatibility`: why `next` cannot follow `prev` for one param name, or undefined. */
export function distributionConflict(prev: Distribution, next: Distribution): string | undefined {
  if (prev.type !== next.type) return 'Cannot set different distribution kind to the same parameter name.';
  if (prev.type !== 'categorical' && next.type !== 'categorical') {
    return prev.log !== next.log ? 'Cannot set different log configuration to the same parameter name.' : undefined;
  }
  if (prev.type === 'categorical' && next.type === 'categorical') {
    const same = prev.choices.length === next.choices.length && prev.choices.every((c, i) => choiceEqual(c, next.choices[i]!));
    return same ? undefined : 'CategoricalDistribution does not support dynamic value space.';
  }
  return undefined;
}

/** `to_internal_repr`: a float for float and int params (written `1.0`), the choice's index for a categorical. */
export function toInternalRepr(d: Distribution, value: ParamValue): PyFloat | number {
  if (d.type === 'categorical') {
    const i = d.choices.findIndex((c) => choiceEqual(c, value as CategoricalChoice));
    if (i < 0) throw new FairtuneError('FT_PARAM_INVALID', `'${String(value)}' not in ${JSON.stringify(d.choices)}.`);
    return i;
  }
  if (typeof value !== 'number' || Number.isNaN(value)) throw new FairtuneError('FT_PARAM_INVALID', `'${String(value)}' is not a valid ${d.type} param value.`);
  if (d.log && value <= 0) throw new FairtuneError('FT_PARAM_INVALID', `\`${value}\` is invalid value for the case log=True.`);
  return new PyFloat(value);
}

/** `to_external_repr`. */
export function toExternalRepr(d: Distribution, internal: number): ParamValue {
  if (d.type === 'categorical') {
    const c = d.choices[Math.trunc(internal)];
    if (c === undefined) throw new FairtuneError('FT_STUDY_FORMAT', `categorical index ${internal} out of range for ${JSON.stringify(d.choices)}`);
    return c;
  }
  return d.type === 'int' ? Math.trunc(internal) : internal;
}

/** `datetime.now().isoformat(timespec="microseconds")`: local time without offset, as Optuna writes it. */
export function pythonDatetime(date: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(date.getFullYear(), 4)}-${p(date.getMonth() + 1)}-${p(date.getDate())}T${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}.${p(date.getMilliseconds(), 3)}000`;
}

// ---------------------------------------------------------------------------------------------
// Replay: `JournalStorageReplayResult`.

export interface JournalStudyRecord {
  readonly studyId: number;
  readonly name: string;
  readonly directions: readonly JournalDirection[];
  readonly userAttrs: Record<string, unknown>;
  readonly systemAttrs: Record<string, unknown>;
  /** Trial ids in number order. */
  readonly trialIds: number[];
}

export interface JournalTrialRecord {
  readonly trialId: number;
  readonly studyId: number;
  readonly number: number;
  state: TrialState;
  params: Record<string, ParamValue>;
  distributions: Record<string, Distribution>;
  values: number[] | null;
  intermediateValues: Map<number, number>;
  datetimeStart: string | null;
  datetimeComplete: string | null;
  userAttrs: Record<string, unknown>;
  systemAttrs: Record<string, unknown>;
  /** Bumped on every change (lets readers cache what they build from a record). */
  revision: number;
}

type Log = Record<string, unknown>;

export class JournalReplay {
  /** Records applied so far: the log number to read from next. */
  logNumberRead = 0;
  readonly studies = new Map<number, JournalStudyRecord>();
  readonly trials: JournalTrialRecord[] = [];
  /** Trial id of the last CREATE_TRIAL this worker wrote, once replayed. */
  lastCreatedTrialId = -1;
  /**
   * Trial id of the last WAITING trial this worker moved to RUNNING (Optuna's `owned_trial_id`):
   * when two workers claim one enqueued trial, the first RUNNING record wins and the second is
   * ignored on replay, so only the first owns it.
   */
  ownedTrialId = -1;
  #nextStudyId = 0;

  constructor(readonly workerId: string) {}

  /** Applies `logs` in order; stops with an error at a refused operation of this worker (the rest is applied on the next call). */
  apply(logs: readonly Log[]): void {
    for (const log of logs) {
      this.logNumberRead += 1;
      this.#applyOne(log);
    }
  }

  studyByName(name: string): JournalStudyRecord | undefined {
    for (const s of this.studies.values()) if (s.name === name) return s;
    return undefined;
  }

  #ours(log: Log): boolean {
    return log['worker_id'] === this.workerId;
  }

  #applyOne(log: Log): void {
    switch (log['op_code']) {
      case JournalOperation.CREATE_STUDY:
        return this.#createStudy(log);
      case JournalOperation.DELETE_STUDY:
        if (this.#studyExists(log['study_id'], log)) this.studies.delete(log['study_id'] as number);
        return;
      case JournalOperation.SET_STUDY_USER_ATTR:
        if (this.#studyExists(log['study_id'], log)) assignOwn(this.studies.get(log['study_id'] as number)!.userAttrs, oneKey(log, 'user_attr'));
        return;
      case JournalOperation.SET_STUDY_SYSTEM_ATTR:
        if (this.#studyExists(log['study_id'], log)) assignOwn(this.studies.get(log['study_id'] as number)!.systemAttrs, oneKey(log, 'system_attr'));
        return;
      case JournalOperation.CREATE_TRIAL:
        return this.#createTrial(log);
      case JournalOperation.SET_TRIAL_PARAM:
        return this.#setParam(log);
      case JournalOperation.SET_TRIAL_STATE_VALUES:
        return this.#setStateValues(log);
      case JournalOperation.SET_TRIAL_INTERMEDIATE_VALUE: {
        const t = this.#updatable(log);
        if (t) {
          t.intermediateValues.set(log['step'] as number, log['intermediate_value'] as number);
          t.revision++;
        }
        return;
      }
      case JournalOperation.SET_TRIAL_USER_ATTR: {
        const t = this.#updatable(log);
        if (t) {
          t.userAttrs = { ...t.userAttrs, ...oneKey(log, 'user_attr') };
          t.revision++;
        }
        return;
      }
      case JournalOperation.SET_TRIAL_SYSTEM_ATTR: {
        const t = this.#updatable(log);
        if (t) {
          t.systemAttrs = { ...t.systemAttrs, ...oneKey(log, 'system_attr') };
          t.revision++;
        }
        return;
      }
      default:
        throw new FairtuneError('FT_STUDY_FORMAT', `journal: unknown op_code ${JSON.stringify(log['op_code'])} at log ${this.logNumberRead - 1}`);
    }
  }

  #studyExists(studyId: unknown, log: Log): boolean {
    if (typeof studyId === 'number' && this.studies.has(studyId)) return true;
    if (this.#ours(log)) throw new JournalOperationError(`study ${String(studyId)}: Record does not exist.`);
    return false;
  }

  #createStudy(log: Log): void {
    const name = log['study_name'] as string;
    const directions = (log['directions'] as number[]).map((d): JournalDirection => (d === 1 ? 'minimize' : d === 2 ? 'maximize' : 'not_set'));
    if (this.studyByName(name)) {
      if (this.#ours(log)) throw new JournalOperationError(`Another study with name '${name}' already exists.`);
      return;
    }
    const studyId = this.#nextStudyId++;
    this.studies.set(studyId, { studyId, name, directions, userAttrs: {}, systemAttrs: {}, trialIds: [] });
  }

  #createTrial(log: Log): void {
    const studyId = log['study_id'] as number;
    if (!this.#studyExists(studyId, log)) return;
    const study = this.studies.get(studyId)!;
    const trialId = this.trials.length;
    const distributions: Record<string, Distribution> = Object.fromEntries(
      Object.entries((log['distributions'] ?? {}) as Record<string, string>).map(([k, v]) => [k, distributionFromJson(v)]),
    );
    const params: Record<string, ParamValue> = Object.fromEntries(
      Object.entries((log['params'] ?? {}) as Record<string, number>).map(([k, v]) => [k, toExternalRepr(distributions[k]!, v)]),
    );
    const value = log['value'];
    const values = log['values'];
    const intermediateValues = new Map<number, number>();
    for (const [k, v] of Object.entries((log['intermediate_values'] ?? {}) as Record<string, number>)) intermediateValues.set(Number(k), v);
    this.trials.push({
      trialId,
      studyId,
      number: study.trialIds.length,
      state: TRIAL_STATE_CODES[(log['state'] as number | undefined) ?? 0] ?? 'RUNNING',
      params,
      distributions,
      values: Array.isArray(values) ? (values as number[]) : typeof value === 'number' ? [value] : null,
      intermediateValues,
      datetimeStart: (log['datetime_start'] as string | null | undefined) ?? null,
      datetimeComplete: (log['datetime_complete'] as string | undefined) ?? null,
      userAttrs: { ...((log['user_attrs'] ?? {}) as Record<string, unknown>) },
      systemAttrs: { ...((log['system_attrs'] ?? {}) as Record<string, unknown>) },
      revision: 0,
    });
    study.trialIds.push(trialId);
    if (this.#ours(log)) this.lastCreatedTrialId = trialId;
  }

  #updatable(log: Log): JournalTrialRecord | undefined {
    const t = this.trials[log['trial_id'] as number];
    if (!t) {
      if (this.#ours(log)) throw new JournalOperationError(`trial ${String(log['trial_id'])}: Record does not exist.`);
      return undefined;
    }
    if (isFinished(t.state)) {
      if (this.#ours(log)) throw new JournalOperationError(`Trial#${t.number} has already finished and can not be updated.`);
      return undefined;
    }
    return t;
  }

  #setParam(log: Log): void {
    const t = this.#updatable(log);
    if (!t) return;
    const name = log['param_name'] as string;
    const distribution = distributionFromJson(log['distribution'] as string);
    for (const id of this.studies.get(t.studyId)?.trialIds ?? []) {
      const prev = this.trials[id]!;
      if (name in prev.params) {
        const conflict = distributionConflict(prev.distributions[name]!, distribution);
        if (conflict) {
          if (this.#ours(log)) throw new JournalOperationError(`param ${name}: ${conflict}`);
          return;
        }
        break;
      }
    }
    t.params = { ...t.params, [name]: toExternalRepr(distribution, log['param_value_internal'] as number) };
    t.distributions = { ...t.distributions, [name]: distribution };
    t.revision++;
  }

  #setStateValues(log: Log): void {
    const t = this.#updatable(log);
    if (!t) return;
    const state = TRIAL_STATE_CODES[log['state'] as number];
    if (!state) throw new FairtuneError('FT_STUDY_FORMAT', `journal: unknown trial state ${JSON.stringify(log['state'])}`);
    if (state === 'RUNNING' && t.state === 'RUNNING') return;
    if (state === 'RUNNING') {
      t.datetimeStart = log['datetime_start'] as string;
      if (this.#ours(log)) this.ownedTrialId = t.trialId;
    }
    if (isFinished(state)) t.datetimeComplete = log['datetime_complete'] as string;
    t.state = state;
    if (log['values'] !== null && log['values'] !== undefined) t.values = log['values'] as number[];
    t.revision++;
  }
}

/** Object.assign without the `__proto__` setter. */
function assignOwn(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(source)) Object.defineProperty(target, k, { value: v, enumerable: true, writable: true, configurable: true });
}

function oneKey(log: Log, field: string): Record<string, unknown> {
  const v = log[field];
  if (v === null || typeof v !== 'object' || Object.keys(v).length !== 1) throw new FairtuneError('FT_STUDY_FORMAT', `journal: ${field} must hold one key (log ${JSON.stringify(log)})`);
  return v as Record<string, unknown>;
}

/**
 * Studies kept in Optuna's journal format (algorithms.md §7.5), readable and writable by Python
 * Optuna (`JournalStorage(JournalFileStorage(path))`) and optuna-dashboard while a search runs.
 *
 * `JournalStorage` is one writer (one worker id) on one backend; it keeps the replayed log in
 * memory and, like Optuna, reads what other writers appended before answering and after each of
 * its own appends (which is how it learns the id of a trial it created). `JournalStudy` is one
 * study in it, with the search stage's `StudyStore` operations.
 *
 *     const study = JournalStorage.file('.fairtune/studies/s.journal').openStudy('s', 'maximize');
 *     const n = study.createTrial();
 *     study.setParams(n, { lr: 3e-4 }, { lr: { type: 'float', low: 1e-5, high: 1e-3, log: true } });
 *     study.report(n, 0, 0.71);
 *     if (pruner.shouldPrune(study.view(), study.trial(n))) study.finish(n, 'PRUNED');
 *
 * What is written is what Optuna writes for the same calls: params in their internal
 * representation with the distribution as a JSON string, floats as Python floats, NaN and
 * infinities as Python's bare tokens, datetimes as `datetime.isoformat()` writes local times.
 */
import { randomUUID } from 'node:crypto';
import { FairtuneError, type Distribution, type ErrorSubject, type FrozenTrial, type ParamValue, type StudyDirection, type TrialState } from '@fairtune/core/plugin';
import type { WritableStudyView } from '../pruners/study-view.js';
import type { StudyStore } from '../study/store.js';
import type { JournalBackend, JournalRecord } from './backend.js';
import { JournalFileBackend, type JournalFileBackendOptions } from './file-backend.js';
import { JournalRedisBackend, type JournalRedisBackendOptions } from './redis-backend.js';
import {
  DIRECTION_CODES,
  JournalOperation,
  JournalOperationError,
  JournalReplay,
  distributionToJson,
  pythonDatetime,
  stateCode,
  toInternalRepr,
  type JournalStudyRecord,
  type JournalTrialRecord,
} from './journal-format.js';
import { PyFloat, type PyJson } from './python-json.js';

/** A trial as the journal holds it: the core's FrozenTrial, plus Optuna's trial id and raw values. */
export interface JournalTrial extends FrozenTrial {
  /** Optuna's `trial._trial_id`: the trial's index among every trial of the file. */
  readonly trialId: number;
  /** Optuna's `values` (a PRUNED trial keeps its last intermediate value here, and in `value`). */
  readonly values: readonly number[] | null;
}

export interface JournalStorageOptions {
  /** This writer's `worker_id`; default `<uuid4>-<pid>` (Optuna: `<uuid4>-<thread id>`). */
  readonly workerId?: string;
  /** Clock for datetimes (tests). */
  readonly now?: () => Date;
}

export class JournalStorage {
  readonly workerId: string;
  readonly #replay: JournalReplay;
  readonly #now: () => Date;

  constructor(
    readonly backend: JournalBackend,
    options: JournalStorageOptions = {},
  ) {
    this.workerId = options.workerId ?? `${randomUUID()}-${process.pid}`;
    this.#now = options.now ?? (() => new Date());
    this.#replay = new JournalReplay(this.workerId);
    this.sync();
  }

  /** A storage on the journal file at `path` (created, with its folder, if missing), appending under Optuna's open lock. */
  static file(path: string, options: JournalFileBackendOptions & JournalStorageOptions = {}): JournalStorage {
    return new JournalStorage(new JournalFileBackend(path, options), options);
  }

  /** A storage on Redis at `url` (`redis://host:port[/db]`) with Optuna's key layout under `prefix`; an error naming the URL if it cannot connect. */
  static redis(url: string, options: JournalRedisBackendOptions & JournalStorageOptions = {}): JournalStorage {
    const backend = new JournalRedisBackend(url, options);
    try {
      return new JournalStorage(backend, options);
    } catch (e) {
      backend.close();
      throw e;
    }
  }

  /** Releases the backend's connection, if it has one. */
  close(): void {
    this.backend.close?.();
  }

  /** Reads and replays what was appended since the last read. */
  sync(): void {
    this.#replay.apply(this.backend.readLogs(this.#replay.logNumberRead));
  }

  /** Names of the studies in the journal. */
  studyNames(): string[] {
    this.sync();
    return [...this.#replay.studies.values()].map((s) => s.name);
  }

  /** A new study; an error if one of that name exists (Optuna's DuplicatedStudyError). */
  createStudy(name: string, direction: StudyDirection): JournalStudy {
    this.write([{ op_code: JournalOperation.CREATE_STUDY, worker_id: this.workerId, study_name: name, directions: [DIRECTION_CODES[direction]] }]);
    return this.loadStudy(name, direction);
  }

  /** An existing study; an error if there is none of that name, or if `direction` is given and differs. */
  loadStudy(name: string, direction?: StudyDirection): JournalStudy {
    this.sync();
    const record = this.#replay.studyByName(name);
    if (!record) throw new Error(`journal: no study named '${name}' (studies: ${[...this.#replay.studies.values()].map((s) => s.name).join(', ') || 'none'})`);
    const d = record.directions;
    if (d.length !== 1 || d[0] === 'not_set') throw new FairtuneError('FT_STUDY_FORMAT', `journal: study '${name}' has directions [${d.join(', ')}]; FairTune studies have one objective`, this.#about());
    if (direction !== undefined && d[0] !== direction) throw new FairtuneError('FT_STUDY_FORMAT', `journal: study '${name}' is to ${d[0]}, not to ${direction}`, this.#about());
    return new JournalStudy(this, record, d[0] as StudyDirection);
  }

  /** Loads the study, or creates it if it does not exist (Optuna's `create_study(load_if_exists=True)`, race with other creators included). */
  openStudy(name: string, direction: StudyDirection): JournalStudy {
    this.sync();
    if (this.#replay.studyByName(name)) return this.loadStudy(name, direction);
    try {
      return this.createStudy(name, direction);
    } catch (e) {
      if (e instanceof JournalOperationError && this.#replay.studyByName(name)) return this.loadStudy(name, direction);
      throw e;
    }
  }

  /** Appends records as this writer and replays the log up to them (an own record the replay refuses throws, as in Optuna). */
  write(records: readonly JournalRecord[]): void {
    this.backend.appendLogs(records);
    this.sync();
  }

  /** What an error about this storage is about: its journal file, if it has one. */
  #about(): ErrorSubject {
    return this.backend instanceof JournalFileBackend ? { file: this.backend.path } : {};
  }

  /** @internal */
  get replay(): JournalReplay {
    return this.#replay;
  }

  /** @internal */
  datetimeNow(): string {
    return pythonDatetime(this.#now());
  }
}

/** Opens (or creates) study `name` in the journal file at `path`. */
export function openJournalStudy(path: string, name: string, direction: StudyDirection, options: JournalFileBackendOptions & JournalStorageOptions = {}): JournalStudy {
  return JournalStorage.file(path, options).openStudy(name, direction);
}

export class JournalStudy implements StudyStore {
  readonly name: string;
  readonly studyId: number;
  readonly #study: JournalStudyRecord;
  readonly #frozen = new Map<number, { revision: number; trial: JournalTrial }>();

  constructor(
    readonly storage: JournalStorage,
    record: JournalStudyRecord,
    readonly direction: StudyDirection,
  ) {
    this.#study = record;
    this.name = record.name;
    this.studyId = record.studyId;
  }

  /** Releases the storage's connection (Redis); the study is not usable afterwards. */
  close(): void {
    this.storage.close();
  }

  /** Every trial as stored now, other writers' included (reads the journal first). A pruner given this view records its system attrs in the journal. */
  view(): WritableStudyView {
    this.storage.sync();
    return {
      name: this.name,
      direction: this.direction,
      trials: this.#trials(),
      setTrialSystemAttr: (trialNumber, key, value) => this.setSystemAttr(trialNumber, key, value),
    };
  }

  /** Every trial, as of the last read of the journal. */
  get trials(): readonly JournalTrial[] {
    return this.#trials();
  }

  /** One trial, as of the last read. */
  trial(number: number): JournalTrial {
    this.#record(number);
    return this.#trials()[number]!;
  }

  /** The study's user attrs, as of the last read. */
  get userAttrs(): Readonly<Record<string, unknown>> {
    return { ...this.#study.userAttrs };
  }

  /** The study's system attrs, as of the last read. */
  get systemAttrs(): Readonly<Record<string, unknown>> {
    return { ...this.#study.systemAttrs };
  }

  setStudyUserAttr(key: string, value: unknown): void {
    this.storage.write([{ ...this.#op(JournalOperation.SET_STUDY_USER_ATTR), study_id: this.studyId, user_attr: { [key]: value as PyJson } }]);
  }

  setStudySystemAttr(key: string, value: unknown): void {
    this.storage.write([{ ...this.#op(JournalOperation.SET_STUDY_SYSTEM_ATTR), study_id: this.studyId, system_attr: { [key]: value as PyJson } }]);
  }

  /**
   * A new RUNNING trial; returns its number (learned by reading the journal back, as Optuna does).
   * `systemAttrs` are written in the same record (Optuna's CREATE_TRIAL takes them), so no reader
   * ever sees the trial without them (the heartbeat: study/workers.ts).
   */
  createTrial(systemAttrs?: Readonly<Record<string, unknown>>): number {
    const attrs = systemAttrs && Object.keys(systemAttrs).length ? { system_attrs: systemAttrs as PyJson } : {};
    this.storage.write([{ ...this.#op(JournalOperation.CREATE_TRIAL), study_id: this.studyId, datetime_start: this.storage.datetimeNow(), ...attrs }]);
    const id = this.storage.replay.lastCreatedTrialId;
    const t = this.storage.replay.trials[id];
    if (!t || t.studyId !== this.studyId) throw new Error(`journal: the trial just created in study '${this.name}' was not found on reading back`);
    return t.number;
  }

  /**
   * Optuna 3.1's `_pop_waiting_trial_id`: for each WAITING trial in number order, writes RUNNING
   * and reads back; the first whose claim this writer won is returned (another worker may have
   * claimed it first, then the next is tried). Undefined when no WAITING trial is left.
   */
  claimWaiting(): number | undefined {
    this.storage.sync();
    for (const t of this.#trials()) {
      if (t.state !== 'WAITING') continue;
      const record = this.#record(t.number);
      this.storage.write([{ ...this.#op(JournalOperation.SET_TRIAL_STATE_VALUES), trial_id: record.trialId, state: stateCode('RUNNING'), values: null, datetime_start: this.storage.datetimeNow() }]);
      if (this.storage.replay.ownedTrialId === record.trialId) return t.number;
    }
    return undefined;
  }

  /** Sets `params` (their distributions taken from `distributions`); a param already set to the same value and distribution is not written again. */
  setParams(trial: number, params: Readonly<Record<string, ParamValue>>, distributions: Readonly<Record<string, Distribution>>): void {
    const t = this.#record(trial);
    const records: JournalRecord[] = [];
    for (const [name, value] of Object.entries(params)) {
      const d = distributions[name];
      if (!d) throw new FairtuneError('FT_PARAM_INVALID', `journal: param ${name} of trial ${trial} has no distribution`);
      const json = distributionToJson(d);
      if (name in t.params && t.params[name] === value && distributionToJson(t.distributions[name]!) === json) continue;
      records.push({ ...this.#op(JournalOperation.SET_TRIAL_PARAM), trial_id: t.trialId, param_name: name, param_value_internal: toInternalRepr(d, value), distribution: json });
    }
    if (records.length) this.storage.write(records);
  }

  /** Optuna's `Trial.report`: the intermediate value at `step` (an integer ≥ 0); a step already reported is ignored (returns false). */
  report(trial: number, step: number, value: number): boolean {
    if (!Number.isSafeInteger(step) || step < 0) throw new Error(`journal: step ${step} of trial ${trial} is not an integer ≥ 0`);
    if (typeof value !== 'number') throw new Error(`journal: the value reported for trial ${trial} at step ${step} is not a number`);
    this.storage.sync();
    const t = this.#record(trial);
    if (t.intermediateValues.has(step)) return false;
    this.storage.write([{ ...this.#op(JournalOperation.SET_TRIAL_INTERMEDIATE_VALUE), trial_id: t.trialId, step, intermediate_value: new PyFloat(value) }]);
    return true;
  }

  setUserAttr(trial: number, key: string, value: unknown): void {
    this.storage.write([{ ...this.#op(JournalOperation.SET_TRIAL_USER_ATTR), trial_id: this.#record(trial).trialId, user_attr: { [key]: value as PyJson } }]);
  }

  /** A trial system attr; numbers under successive halving's `completed_rung_<k>` keys are written as Python floats, as Optuna does. */
  setSystemAttr(trial: number, key: string, value: unknown): void {
    const v = typeof value === 'number' && /^completed_rung_\d+$/.test(key) ? new PyFloat(value) : (value as PyJson);
    this.storage.write([{ ...this.#op(JournalOperation.SET_TRIAL_SYSTEM_ATTR), trial_id: this.#record(trial).trialId, system_attr: { [key]: v } }]);
  }

  /**
   * Ends a RUNNING trial, as Optuna's `study.tell`: COMPLETE needs a value that is not NaN; PRUNED
   * takes `value`, else its last intermediate value unless that is NaN (Optuna keeps it as the
   * pruned trial's value); FAIL has no value.
   */
  finish(trial: number, state: Exclude<TrialState, 'RUNNING' | 'WAITING'>, value?: number): void {
    this.storage.sync();
    const t = this.#record(trial);
    if (t.state !== 'RUNNING') throw new Error(`journal: cannot finish trial ${trial} of study '${this.name}': it is ${t.state}`);
    let values: number[] | null = null;
    if (state === 'COMPLETE') {
      if (typeof value !== 'number' || Number.isNaN(value)) throw new Error(`journal: trial ${trial} cannot be COMPLETE with value ${String(value)} (Optuna records a NaN objective as FAIL)`);
      values = [value];
    } else if (state === 'PRUNED') {
      if (typeof value === 'number' && !Number.isNaN(value)) values = [value];
      else if (value === undefined && t.intermediateValues.size) {
        let lastStep = -1;
        for (const step of t.intermediateValues.keys()) lastStep = Math.max(lastStep, step);
        const last = t.intermediateValues.get(lastStep)!;
        if (!Number.isNaN(last)) values = [last];
      }
    } else if (state !== 'FAIL') throw new Error(`journal: ${String(state)} is not a final state`);
    this.storage.write([
      {
        ...this.#op(JournalOperation.SET_TRIAL_STATE_VALUES),
        trial_id: t.trialId,
        state: stateCode(state),
        values: values ? values.map((v) => new PyFloat(v)) : null,
        datetime_complete: this.storage.datetimeNow(),
      },
    ]);
  }

  #op(op: number): { op_code: number; worker_id: string } {
    return { op_code: op, worker_id: this.storage.workerId };
  }

  #record(number: number): JournalTrialRecord {
    const id = this.#study.trialIds[number];
    const t = id === undefined ? undefined : this.storage.replay.trials[id];
    if (!t) throw new Error(`journal: study '${this.name}' has no trial ${number}`);
    return t;
  }

  #trials(): JournalTrial[] {
    return this.#study.trialIds.map((id) => {
      const r = this.storage.replay.trials[id]!;
      const cached = this.#frozen.get(id);
      if (cached && cached.revision === r.revision) return cached.trial;
      const trial = freeze(r);
      this.#frozen.set(id, { revision: r.revision, trial });
      return trial;
    });
  }
}

function freeze(r: JournalTrialRecord): JournalTrial {
  return Object.freeze({
    number: r.number,
    trialId: r.trialId,
    state: r.state,
    params: Object.freeze({ ...r.params }),
    distributions: Object.freeze({ ...r.distributions }),
    ...(r.values && r.values.length === 1 ? { value: r.values[0]! } : {}),
    values: r.values ? Object.freeze([...r.values]) : null,
    intermediateValues: new Map(r.intermediateValues),
    ...(r.datetimeStart !== null ? { datetimeStart: r.datetimeStart } : {}),
    ...(r.datetimeComplete !== null ? { datetimeComplete: r.datetimeComplete } : {}),
    userAttrs: Object.freeze({ ...r.userAttrs }),
    systemAttrs: Object.freeze({ ...r.systemAttrs }),
  });
}

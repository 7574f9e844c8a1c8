/**
 * Where a search keeps its study: the operations a search stage needs (Optuna's `ask`, `report`
 * and `tell`), behind an interface so the study can live in memory, in an Optuna journal file or
 * in Redis. Trials are numbered from 0 in creation order across every writer.
 */
import type { Distribution, FrozenTrial, ParamValue, StudyDirection, StudyView, TrialState } from '@fairtune/core/plugin';

export interface StudyStore {
  readonly name: string;
  readonly direction: StudyDirection;
  /** Every trial as stored now (other writers' included). */
  view(): StudyView;
  /** A new RUNNING trial, with these system attrs from the start; returns its number. */
  createTrial(systemAttrs?: Readonly<Record<string, unknown>>): number;
  /**
   * Optuna's `_pop_waiting_trial_id`: moves the oldest WAITING trial (one enqueued with Optuna's
   * `enqueue_trial`, its values in the system attr `fixed_params`) that this writer wins to
   * RUNNING and returns its number; undefined when there is none.
   */
  claimWaiting(): number | undefined;
  setParams(trial: number, params: Readonly<Record<string, ParamValue>>, distributions: Readonly<Record<string, Distribution>>): void;
  report(trial: number, step: number, value: number): void;
  setUserAttr(trial: number, key: string, value: unknown): void;
  setSystemAttr(trial: number, key: string, value: unknown): void;
  /** Ends a trial: COMPLETE with its objective, PRUNED (value optional), FAIL. */
  finish(trial: number, state: Exclude<TrialState, 'RUNNING' | 'WAITING'>, value?: number): void;
  /** Releases a connection the store holds (Redis); absent where there is none. */
  close?(): void;
}

interface MutableTrial {
  number: number;
  state: TrialState;
  params: Record<string, ParamValue>;
  distributions: Record<string, Distribution>;
  value?: number;
  intermediateValues: Map<number, number>;
  datetimeStart: string;
  datetimeComplete?: string;
  userAttrs: Record<string, unknown>;
  systemAttrs: Record<string, unknown>;
}

/** A study kept in memory (tests, and searches that need no record beyond the run's artifacts). */
export class MemoryStudyStore implements StudyStore {
  readonly #trials: MutableTrial[] = [];

  constructor(
    readonly name: string,
    readonly direction: StudyDirection,
  ) {}

  /** The study now; pruners that keep state in the study (successive halving's rungs) write through it. */
  view(): StudyView & { setTrialSystemAttr(trial: number, key: string, value: unknown): void } {
    return { name: this.name, direction: this.direction, trials: this.#trials.map(freeze), setTrialSystemAttr: (trial, key, value) => this.setSystemAttr(trial, key, value) };
  }

  createTrial(systemAttrs: Readonly<Record<string, unknown>> = {}): number {
    const number = this.#trials.length;
    this.#trials.push({ number, state: 'RUNNING', params: {}, distributions: {}, intermediateValues: new Map(), datetimeStart: new Date().toISOString(), userAttrs: {}, systemAttrs: { ...systemAttrs } });
    return number;
  }

  claimWaiting(): number | undefined {
    const t = this.#trials.find((x) => x.state === 'WAITING');
    if (!t) return undefined;
    t.state = 'RUNNING';
    t.datetimeStart = new Date().toISOString();
    return t.number;
  }

  /** A WAITING trial with `fixed_params`, as Optuna's `enqueue_trial` adds one (tests of the claim). */
  enqueueWaiting(fixedParams: Readonly<Record<string, ParamValue>>): number {
    const number = this.createTrial({ fixed_params: { ...fixedParams } });
    this.#trials[number]!.state = 'WAITING';
    return number;
  }

  setParams(trial: number, params: Readonly<Record<string, ParamValue>>, distributions: Readonly<Record<string, Distribution>>): void {
    const t = this.#get(trial);
    Object.assign(t.params, params);
    Object.assign(t.distributions, distributions);
  }

  report(trial: number, step: number, value: number): void {
    this.#get(trial).intermediateValues.set(step, value);
  }

  setUserAttr(trial: number, key: string, value: unknown): void {
    this.#get(trial).userAttrs[key] = value;
  }

  setSystemAttr(trial: number, key: string, value: unknown): void {
    this.#get(trial).systemAttrs[key] = value;
  }

  finish(trial: number, state: Exclude<TrialState, 'RUNNING' | 'WAITING'>, value?: number): void {
    const t = this.#get(trial);
    t.state = state;
    if (value !== undefined) t.value = value;
    t.datetimeComplete = new Date().toISOString();
  }

  #get(trial: number): MutableTrial {
    const t = this.#trials[trial];
    if (!t) throw new Error(`study ${this.name} has no trial ${trial}`);
    return t;
  }
}

function freeze(t: MutableTrial): FrozenTrial {
  return {
    number: t.number,
    state: t.state,
    params: { ...t.params },
    distributions: { ...t.distributions },
    ...(t.value !== undefined ? { value: t.value } : {}),
    intermediateValues: new Map(t.intermediateValues),
    datetimeStart: t.datetimeStart,
    ...(t.datetimeComplete ? { datetimeComplete: t.datetimeComplete } : {}),
    userAttrs: { ...t.userAttrs },
    systemAttrs: { ...t.systemAttrs },
  };
}

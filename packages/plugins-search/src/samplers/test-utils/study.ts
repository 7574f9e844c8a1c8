/** A minimal in-memory study and test problems for the sampler tests, the oracle and the benchmark. */
import type { Distribution, FrozenTrial, ParamValue, Sampler, SearchSpace, StudyDirection, StudyView, TrialState } from '@fairtune/core/plugin';

export interface TrialInit {
  readonly state?: TrialState;
  readonly params?: Record<string, ParamValue>;
  readonly value?: number;
  readonly intermediate?: Record<number, number>;
  readonly distributions?: Record<string, Distribution>;
}

export function frozen(number: number, init: TrialInit, space: SearchSpace = {}): FrozenTrial {
  const params = init.params ?? {};
  const distributions = init.distributions ?? Object.fromEntries(Object.keys(params).filter((k) => space[k]).map((k) => [k, space[k]!]));
  return {
    number,
    state: init.state ?? 'COMPLETE',
    params,
    distributions,
    ...(init.value !== undefined ? { value: init.value } : {}),
    intermediateValues: new Map(Object.entries(init.intermediate ?? {}).map(([k, v]) => [Number(k), v])),
    userAttrs: {},
    systemAttrs: {},
  };
}

export function studyOf(trials: readonly TrialInit[], direction: StudyDirection = 'minimize', space: SearchSpace = {}): StudyView {
  return { name: 'test', direction, trials: trials.map((t, i) => frozen(i, t, space)) };
}

/** Appends a RUNNING trial (with optional enqueued params) and returns it. */
export function withRunning(study: StudyView, params: Record<string, ParamValue> = {}, space: SearchSpace = {}): { study: StudyView; trial: FrozenTrial } {
  const trial = frozen(study.trials.length, { state: 'RUNNING', params }, space);
  return { study: { ...study, trials: [...study.trials, trial] }, trial };
}

export interface Problem {
  readonly name: string;
  readonly space: SearchSpace;
  readonly direction: StudyDirection;
  readonly optimum: number;
  evaluate(params: Readonly<Record<string, ParamValue>>): number;
}

/** Runs `nTrials` sequential trials; returns the study and the best value after each trial. */
export function runStudy(sampler: Sampler, problem: Problem, nTrials: number): { study: StudyView; best: number[] } {
  const trials: FrozenTrial[] = [];
  const best: number[] = [];
  let bestValue = problem.direction === 'minimize' ? Infinity : -Infinity;
  for (let i = 0; i < nTrials; i++) {
    const running = frozen(i, { state: 'RUNNING' });
    const view: StudyView = { name: problem.name, direction: problem.direction, trials: [...trials, running] };
    const params = sampler.sample(view, running, problem.space);
    const value = problem.evaluate(params);
    trials.push(frozen(i, { state: 'COMPLETE', params, value }, problem.space));
    bestValue = problem.direction === 'minimize' ? Math.min(bestValue, value) : Math.max(bestValue, value);
    best.push(bestValue);
  }
  return { study: { name: problem.name, direction: problem.direction, trials }, best };
}

const MASK_BITS = 12;
/** The target mask: no two adjacent ones, so the interaction term vanishes at the optimum. */
export const MASK_TARGET = [1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0];
export const maskNames = Array.from({ length: MASK_BITS }, (_, i) => `mask_${String(i).padStart(2, '0')}`);

/**
 * FairTune's search in miniature: 12 mask bits (int 0/1) and a log-uniform learning rate.
 * Loss = Hamming distance to MASK_TARGET + 0.75 per pair of adjacent ones (bits interact)
 * + (log10 lr + 3.5)²; minimum 0 at the target and lr = 10^−3.5.
 */
export const maskLrProblem: Problem = {
  name: 'mask+lr',
  direction: 'minimize',
  optimum: 0,
  space: {
    ...Object.fromEntries(maskNames.map((n) => [n, { type: 'int', low: 0, high: 1, log: false, step: 1 } as Distribution])),
    lr: { type: 'float', low: 1e-5, high: 1e-2, log: true },
  },
  evaluate(p) {
    let loss = 0;
    const bits = maskNames.map((n) => Number(p[n]));
    bits.forEach((b, i) => {
      if (b !== MASK_TARGET[i]) loss += 1;
      if (i > 0 && b === 1 && bits[i - 1] === 1) loss += 0.75;
    });
    return loss + (Math.log10(Number(p['lr'])) + 3.5) ** 2;
  },
};

/** Branin on [−5, 10] × [0, 15]; global minimum 0.397887. */
export const braninProblem: Problem = {
  name: 'branin',
  direction: 'minimize',
  optimum: 0.397887,
  space: { x: { type: 'float', low: -5, high: 10, log: false }, y: { type: 'float', low: 0, high: 15, log: false } },
  evaluate(p) {
    const x = Number(p['x']);
    const y = Number(p['y']);
    const b = 5.1 / (4 * Math.PI ** 2);
    const c = 5 / Math.PI;
    return (y - b * x * x + c * x - 6) ** 2 + 10 * (1 - 1 / (8 * Math.PI)) * Math.cos(x) + 10;
  },
};

/** Hand-built studies for the pruner tests. */
import type { FrozenTrial, StudyDirection, StudyView, TrialState } from '@fairtune/core/plugin';
import type { WritableStudyView } from '../study-view.js';

export function trial(number: number, state: TrialState, reports: ReadonlyArray<readonly [number, number]>, systemAttrs: Record<string, unknown> = {}): FrozenTrial {
  return { number, state, params: {}, distributions: {}, intermediateValues: new Map(reports), userAttrs: {}, systemAttrs };
}

/**
 * A study whose trials are updated in place as a search would: `report` adds an intermediate value,
 * the pruner's rung attrs land in `systemAttrs` through `setTrialSystemAttr` (when `writable`).
 */
export class FakeStudy {
  readonly trials: FrozenTrial[] = [];
  readonly writes: { trial: number; key: string; value: unknown }[] = [];

  constructor(
    readonly direction: StudyDirection,
    readonly name = 'study',
    readonly writable = true,
  ) {}

  add(state: TrialState, reports: ReadonlyArray<readonly [number, number]> = []): number {
    const number = this.trials.length;
    this.trials.push(trial(number, state, reports));
    return number;
  }

  report(number: number, step: number, value: number): FrozenTrial {
    const t = this.trials[number]!;
    this.trials[number] = { ...t, intermediateValues: new Map([...t.intermediateValues, [step, value]]) };
    return this.trials[number]!;
  }

  complete(number: number): void {
    this.trials[number] = { ...this.trials[number]!, state: 'COMPLETE' };
  }

  view(): StudyView | WritableStudyView {
    const base = { name: this.name, direction: this.direction, trials: [...this.trials] };
    if (!this.writable) return base;
    return {
      ...base,
      setTrialSystemAttr: (n: number, key: string, value: unknown) => {
        this.writes.push({ trial: n, key, value });
        const t = this.trials[n]!;
        this.trials[n] = { ...t, systemAttrs: { ...t.systemAttrs, [key]: value } };
      },
    };
  }

  rungs(number: number): Record<string, unknown> {
    return Object.fromEntries(Object.entries(this.trials[number]!.systemAttrs).filter(([k]) => k.startsWith('completed_rung_')));
  }
}

/**
 * Metrics of one prediction set with optional subject-level bootstrap CIs: the computation
 * behind `fairtune metrics` and the `eval.metrics` stage.
 */
import { bootstrapBySubject, SubjectResampler, type ConfidenceInterval, type SubjectResample } from './bootstrap.js';
import { take } from './common.js';
import { computeTaskMetrics, flattenMetrics, type TaskMetrics, type TaskMetricsInput } from './summary.js';

export interface EvaluateOptions {
  /** Subject id per sample; with `bootstrap`, enables confidence intervals. */
  readonly subject?: ArrayLike<number>;
  readonly bootstrap?: {
    readonly replicates: number;
    readonly alpha: number;
    readonly seed: number;
    readonly onReplicate?: (done: number, total: number) => void | Promise<void>;
  };
  /**
   * Extra flat metrics (e.g. representation metrics of embeddings) computed on each bootstrap
   * replicate, so that their CIs come from the same subject draws as the task metrics.
   */
  readonly replicateMetrics?: (replicate: SubjectResample) => Record<string, number>;
}

export interface Evaluation extends TaskMetrics {
  /** Percentile CIs by flat metric name (`overall.mae`, `groups.<name>.mae`, …). */
  readonly ci?: Record<string, ConfidenceInterval>;
}

export async function evaluatePredictions(input: TaskMetricsInput, options: EvaluateOptions = {}): Promise<Evaluation> {
  const point = computeTaskMetrics(input);
  if (!options.bootstrap || !options.subject) return point;
  if (options.subject.length !== input.yTrue.length) {
    throw new RangeError(`bootstrap: ${options.subject.length} subject ids for ${input.yTrue.length} predictions`);
  }
  const resampler = new SubjectResampler(options.subject, input.group);
  const ci = await bootstrapBySubject(
    resampler,
    (rep) => ({
      ...flattenMetrics(
        computeTaskMetrics({
          ...input,
          yTrue: take(input.yTrue, rep.samples),
          yPred: take(input.yPred, rep.samples),
          group: take(input.group, rep.samples),
          // a subject drawn twice is two subjects of the replicate
          ...(input.subject ? { subject: rep.draws } : {}),
        }),
      ),
      ...options.replicateMetrics?.(rep),
    }),
    options.bootstrap,
  );
  return { ...point, ci };
}

/**
 * Timing of eval.metrics at a realistic size (prints figures; not a test):
 *   node --conditions=@fairtune/source --import @swc-node/register/esm-register scripts/bench_eval_metrics.ts [N] [D] [B]
 * N test windows from N/100 subjects (two groups), embeddings of dimension D, B bootstrap replicates.
 */
import { artifact, ndarray, Rng, type PredictionsMeta } from '@fairtune/core/plugin';
import { runStandalone } from '@fairtune/core/testing';
import { evalMetricsStage } from '../src/stages/eval-metrics.js';

const [N = 4000, D = 64, B = 200] = process.argv.slice(2).map(Number);
const rng = new Rng(7);
const S = Math.max(4, Math.round(N / 100));
const subject = Int32Array.from({ length: N }, (_, i) => Math.floor((i * S) / N));
const group = Int32Array.from(subject, (s) => s % 2);
const yTrue = Float32Array.from({ length: N }, () => 60 + 60 * rng.next());
const yPred = Float32Array.from(yTrue, (y, i) => y + rng.normal(0, 3 + 2 * group[i]!));
const z = Float32Array.from({ length: N * D }, (_, k) => rng.normal(k % D === 0 ? 0.5 * group[Math.floor(k / D)]! : 0));
const split = new Int8Array(N).fill(1);
const meta = { task: 'regression', target: { name: 'hr' }, dataset: 'bench', synthetic: true, subjects: Array.from({ length: S }, (_, s) => `S${s}`), splits: ['train', 'test'], groups: { attributes: ['sex'], names: ['f', 'm'] }, method: 'erm' } satisfies PredictionsMeta;
const arrays = { yTrue: ndarray(yTrue), yPred: ndarray(yPred), subject: ndarray(subject), group: ndarray(group), split: ndarray(split) };
const t0 = performance.now();
const { outputs } = await runStandalone(evalMetricsStage, {
  params: { bootstrap: { replicates: B } },
  inputs: { predictions: artifact('predictions', meta, arrays), embeddings: artifact('embeddings', meta, { z: ndarray(z, [N, D]), subject: arrays.subject, group: arrays.group, split: arrays.split }) },
});
const t1 = performance.now();
// Printed field by field; the meta's type (MetricsMeta) leaves every field optional.
const m = outputs.metrics!.meta as Record<string, any>;
console.log(`eval.metrics N=${N} windows, ${S} subjects, D=${D}, B=${B}: ${((t1 - t0) / 1000).toFixed(2)} s`);
console.log(`  mae ${m.overall.mae.toFixed(3)} gap ${m.overall.maeGap.toFixed(3)} CI [${m.ci.intervals['overall.maeGap'].lo.toFixed(3)}, ${m.ci.intervals['overall.maeGap'].hi.toFixed(3)}]`);
console.log(`  mmd2 ${m.representation.mmd2.toExponential(3)} (σ ${m.representation.sigma.toFixed(3)}, n ${m.representation.n}) silhouette ${m.representation.silhouette.toFixed(4)}`);

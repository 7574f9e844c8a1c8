/**
 * `npm run bench:tpe -w packages/plugins-search`: our TPE sampler's time per trial on the mask+lr
 * problem (12 int mask bits and a log-uniform learning rate, FairTune's search in miniature) at
 * 200 trials, univariate and multivariate, averaged over seeds; and Optuna's on the same problem
 * when /usr/bin/python3 (or FAIRTUNE_PYTHON) can import optuna. The objective costs nothing, so
 * the figures are the samplers' (and, for Optuna, its in-memory study's) own cost.
 * BENCH_TRIALS and BENCH_SEEDS change the sizes (200, 3).
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RandomSampler } from '../src/samplers/random.js';
import { TpeSampler } from '../src/samplers/tpe.js';
import { maskLrProblem, runStudy } from '../src/samplers/test-utils/study.js';

const trials = Number(process.env['BENCH_TRIALS'] ?? 200);
const seeds = Number(process.env['BENCH_SEEDS'] ?? 3);
const python = process.env['FAIRTUNE_PYTHON'] ?? '/usr/bin/python3';
const here = dirname(fileURLToPath(import.meta.url));

function ours(label: string, make: (seed: number) => TpeSampler | RandomSampler): void {
  runStudy(make(999), maskLrProblem, 30); // warm-up (JIT)
  let perTrial = 0;
  let last50 = 0;
  let best = 0;
  for (let seed = 0; seed < seeds; seed++) {
    const sampler = make(seed);
    const stamps: number[] = [];
    const timed = { sample: (...args: Parameters<TpeSampler['sample']>) => { const p = sampler.sample(...args); stamps.push(performance.now()); return p; } };
    const start = performance.now();
    const run = runStudy(timed, maskLrProblem, trials);
    perTrial += (stamps.at(-1)! - start) / trials;
    last50 += (stamps.at(-1)! - stamps.at(-51)!) / 50;
    best += run.best.at(-1)!;
  }
  console.log(`  ${label.padEnd(34)} ${(perTrial / seeds).toFixed(2).padStart(7)} ms/trial   last 50: ${(last50 / seeds).toFixed(2).padStart(7)} ms/trial   mean best ${(best / seeds).toFixed(3)}`);
}

console.log(`bench:tpe — mask+lr (13 params), ${trials} trials, mean of ${seeds} seeds`);
ours('ours tpe (univariate)', (s) => new TpeSampler(s));
ours('ours tpe (multivariate)', (s) => new TpeSampler(s, { multivariate: true }));
ours('ours random', (s) => new RandomSampler(s));

const probe = spawnSync(python, ['-c', 'import optuna'], { encoding: 'utf8' });
if (probe.status !== 0) {
  console.log(`  Optuna: skipped (${python} cannot import optuna; apt-get install -y python3-optuna)`);
} else {
  for (const mode of ['univariate', 'multivariate']) {
    const r = spawnSync(python, [join(here, 'bench_tpe.py'), String(trials), String(seeds), mode], { encoding: 'utf8' });
    if (r.status !== 0) {
      console.log(`  Optuna ${mode}: failed — ${r.stderr.trim().split('\n').at(-1)}`);
      continue;
    }
    const o = JSON.parse(r.stdout) as { version: string; perTrial: number; last50: number; best: number };
    console.log(`  ${`Optuna ${o.version} tpe (${mode})`.padEnd(34)} ${(o.perTrial * 1000).toFixed(2).padStart(7)} ms/trial   last 50: ${(o.last50 * 1000).toFixed(2).padStart(7)} ms/trial   mean best ${o.best.toFixed(3)}`);
  }
}

#!/usr/bin/env node
// The pruning benchmark registered in docs/experiments.md (entries 2026-12-05): dalia-fairtune's
// search with pruner none / successive-halving / hyperband × search seeds 1, 2, 3, 12 trials each
// (the first entry) or `--trials 24` (the follow-up), studies in memory. One `fairtune run` per search (a matrix over a trial-running stage is not
// supported by core yet), each from a small pipeline file that extends the shipped one and sets
// only the registered variables. Prints a table per search, the registered criteria per pruner,
// and writes everything as JSON.
//
// Usage (from the repository root or via npm -w):
//   npm run bench:pruning -w packages/plugins-search [-- --trials 24] [--jobs 3] [--out bench-pruning.json]
// Runs go to runs/bench-pruning (12 trials) or runs/bench-pruning-<trials>; so do the results.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = join(root, 'packages/core/dist/cli.js');
const PRUNERS = ['none', 'successive-halving', 'hyperband'];
const SEEDS = [1, 2, 3];
/** the value after a flag, or undefined. */
function flagValue(flag) {
  const i = process.argv.indexOf(flag);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const TRIALS = Number(flagValue('--trials') ?? 12);
if (!Number.isInteger(TRIALS) || TRIALS < 1) throw new Error(`--trials: expected a positive integer, got ${flagValue('--trials')}`);
const runsDir = join(root, TRIALS === 12 ? 'runs/bench-pruning' : `runs/bench-pruning-${TRIALS}`);
const outFile = resolve(flagValue('--out') ?? join(runsDir, 'results.json'));
// How many searches of one pruner run at once (default 1). Execution only: each search is
// deterministic given its seed, so the figures do not depend on it; wall times do.
const JOBS = Number(flagValue('--jobs') ?? 1);
if (!Number.isInteger(JOBS) || JOBS < 1) throw new Error(`--jobs: expected a positive integer, got ${flagValue('--jobs')}`);

/** stage-end events of one run, by stage id. */
function stageEnds(runDir) {
  const ends = new Map();
  for (const line of readFileSync(join(runDir, 'events.jsonl'), 'utf8').split('\n')) {
    if (!line) continue;
    const e = JSON.parse(line);
    if (e.type === 'stage-end') ends.set(e.stageId, e);
  }
  return ends;
}

async function runSearch(pruner, seed, work) {
  const file = join(work, `${pruner}-seed${seed}.json`);
  // The name stays "dalia-fairtune": the study is named after it, and Hyperband's bracket
  // assignment hashes the study name, so the benchmark searches exactly what the shipped one does.
  const pipeline = {
    extends: join(root, 'pipelines/dalia-fairtune.json'),
    name: 'dalia-fairtune',
    stages: { search: { seed, params: { pruner: { name: pruner }, trials: TRIALS, storage: 'memory' } } },
  };
  writeFileSync(file, JSON.stringify(pipeline, null, 2));
  const started = Date.now();
  // Each search's progress goes to its own log (searches may run at once, see --jobs).
  mkdirSync(join(runsDir, 'logs'), { recursive: true });
  const log = join(runsDir, 'logs', `${pruner}-seed${seed}.log`);
  const child = promisify(execFile)(process.execPath, [cli, 'run', file, '--runs-dir', runsDir], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 });
  child.child.stderr.on('data', (d) => writeFileSync(log, d, { flag: 'a' }));
  const { stdout } = await child;
  const runDir = stdout.trim().split('\n').pop().trim();
  const ends = stageEnds(resolve(root, runDir));
  const search = ends.get('search');
  const test = ends.get('metrics-dalia');
  if (!search || search.status === 'failed') throw new Error(`${pruner} seed ${seed}: the search stage did not finish (run ${runDir})`);
  const m = search.metrics;
  return {
    pruner,
    seed,
    runDir,
    seconds: (Date.now() - started) / 1000,
    epochs: m.epochs_reported,
    complete: m.trials_complete,
    pruned: m.trials_pruned,
    failed: m.trials_failed,
    best: m.best_value,
    testMae: test?.metrics?.mae ?? null,
    testWorstGroupMae: test?.metrics?.worstGroupMae ?? null,
  };
}

const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const f = (x, d = 3) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : 'n/a');

const work = mkdtempSync(join(tmpdir(), 'bench-pruning-'));
const rows = [];
try {
  for (const pruner of PRUNERS) {
    // Seeds in batches of JOBS; rows keep the order pruner × seed whatever finishes first.
    for (let i = 0; i < SEEDS.length; i += JOBS) {
      const batch = SEEDS.slice(i, i + JOBS);
      const done = await Promise.all(
        batch.map(async (seed) => {
          process.stderr.write(`bench-pruning: ${pruner}, seed ${seed}…\n`);
          const r = await runSearch(pruner, seed, work);
          process.stderr.write(`bench-pruning: ${pruner}, seed ${seed}: ${r.epochs} epochs, best ${f(r.best, 4)} (${r.seconds.toFixed(0)} s)\n`);
          return r;
        }),
      );
      rows.push(...done);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

console.log('| pruner | seed | epochs | complete | pruned | failed | best val worst-group MAE | test MAE | test worst-group MAE | wall s |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.pruner} | ${r.seed} | ${r.epochs} | ${r.complete} | ${r.pruned} | ${r.failed} | ${f(r.best, 4)} | ${f(r.testMae)} | ${f(r.testWorstGroupMae)} | ${r.seconds.toFixed(0)} |`);

const none = rows.filter((r) => r.pruner === 'none');
const noneEpochs = none.reduce((s, r) => s + r.epochs, 0);
const worstNone = Math.max(...none.map((r) => r.best));
const criteria = PRUNERS.filter((p) => p !== 'none').map((pruner) => {
  const mine = rows.filter((r) => r.pruner === pruner);
  const ratio = mine.reduce((s, r) => s + r.epochs, 0) / noneEpochs;
  const medianBest = median(mine.map((r) => r.best));
  return { pruner, epochRatio: ratio, epochsMet: ratio <= 1 / 3, medianBest, worstNoneBest: worstNone, bestMet: medianBest <= worstNone };
});
console.log('\n| pruner | epoch ratio vs none | ≤ 1/3 | median best | worst best without pruning | within spread | goal met |');
console.log('|---|---:|---|---:|---:|---|---|');
for (const c of criteria) console.log(`| ${c.pruner} | ${f(c.epochRatio)} | ${c.epochsMet ? 'yes' : 'no'} | ${f(c.medianBest, 4)} | ${f(c.worstNoneBest, 4)} | ${c.bestMet ? 'yes' : 'no'} | ${c.epochsMet && c.bestMet ? 'yes' : 'no'} |`);

writeFileSync(outFile, `${JSON.stringify({ entry: `docs/experiments.md 2026-12-05 (pruning, ${TRIALS} trials)`, trials: TRIALS, rows, criteria }, null, 2)}\n`);
console.log(`\nwritten: ${outFile}`);

// End-to-end test of the imaging family at tiny size (node's test runner; needs the packages built):
// the shipped pipelines/fitzpatrick17k-compare.json through the `fairtune` CLI, with its
// environment switches turned down (1 epoch, 3 search trials, 400-image synthetic cohorts written
// into a temporary folder): Fitzpatrick17k-format files → split → groups, HAM10000-format files →
// ViT pretraining, six fine-tunes in a method matrix plus FairTune's search, metrics, and the
// report in the Table 1 layout; a second run must be fully cached.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'packages/core/dist/cli.js');
const pipeline = join(root, 'pipelines/fitzpatrick17k-compare.json');
const work = mkdtempSync(join(tmpdir(), 'fairtune-e2e-imaging-'));
const env = {
  ...process.env,
  FAIRTUNE_SYNTHETIC_DIR: join(work, 'synthetic'),
  FAIRTUNE_BACKEND: process.env.FAIRTUNE_BACKEND ?? 'wasm',
  FAIRTUNE_FITZPATRICK17K_ROOT: join(work, 'no-fitzpatrick17k'),
  FAIRTUNE_HAM10000_ROOT: join(work, 'no-HAM10000'),
  FAIRTUNE_VIT_WEIGHTS: '',
  FAIRTUNE_EPOCHS: '1',
  FAIRTUNE_PRETRAIN_EPOCHS: '1',
  FAIRTUNE_SEARCH_TRIALS: '3',
  FAIRTUNE_SEARCH_STORAGE: 'memory',
};
const sets = ['fitz.syntheticImages=400', 'pretrain-data.syntheticImages=400'].flatMap((s) => ['--set', s]);

function run() {
  const r = spawnSync(process.execPath, [cli, 'run', pipeline, ...sets, '--cache-dir', join(work, 'cache'), '--runs-dir', join(work, 'runs')], { env, encoding: 'utf8', timeout: 600_000 });
  assert.equal(r.status, 0, `fairtune run failed (${r.status}):\n${r.stderr}`);
  const runDir = r.stdout.trim().split('\n').at(-1);
  return { runDir, stderr: r.stderr, summary: JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) };
}

test('fitzpatrick17k-compare at tiny size: pretraining on HAM10000, six methods and the search, Table 1 report, then a fully cached re-run', () => {
  try {
    const first = run();
    assert.equal(first.summary.status, 'succeeded');
    const stages = first.summary.stages;
    assert.match(first.stderr, /\[pretrain\] pretraining done: \d+ images of "ham10000"/);
    assert.equal(stages['finetune[method=linear]'].metrics.parameters_trainable, 65);
    assert.equal(stages['finetune[method=full]'].metrics.parameters_trainable, stages['finetune[method=full]'].metrics.parameters_total);
    assert.equal((stages.search.metrics.trials_complete ?? 0) + (stages.search.metrics.trials_pruned ?? 0), 3);
    for (const id of ['metrics[method=scratch]', 'metrics[method=bitfit]', 'metrics-fairtune']) assert.ok(Number.isFinite(stages[id].metrics.auc), `${id}: AUC ${stages[id].metrics.auc}`);

    const report = readFileSync(join(first.runDir, 'report', 'report.md'), 'utf8');
    assert.match(report, /## Table 1 layout/);
    assert.match(report, /\| Metric \(%\) \| full \| scratch \| linear \| attention \| norm \| bitfit \| fairtune \|/);
    assert.match(report, /\| Min\. \(worst-group\) AUC ↑ \| \d+\.\d \[\d+\.\d, \d+\.\d\] \|/);
    assert.match(report, /## Definitions\n\nAUC per group/);
    // The search's own report: the component frequencies over the tiny ViT's 4 blocks (12 bits).
    const search = readFileSync(join(first.runDir, 'search', 'report.md'), 'utf8');
    assert.match(search, /\| block \| norm \| attention \| mlp \|/);
    assert.match(search, /\| full \| 111111111111 \|/);
    assert.ok(existsSync(join(first.runDir, 'report', 'per-group-auc.svg')));

    const second = run();
    assert.equal(second.summary.counts.cached, Object.keys(second.summary.stages).length);
    assert.deepEqual(second.summary.stages['metrics-fairtune'].metrics, stages['metrics-fairtune'].metrics);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

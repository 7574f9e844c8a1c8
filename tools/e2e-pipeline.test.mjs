// End-to-end test of the whole stack at tiny size (node's test runner; needs the packages built):
// pipelines/test/tiny-e2e.json goes from synthetic DaLiA and BUT-PPG files in their real formats
// through preprocessing, PPG-GPT pretraining and GroupDRO fine-tuning to metrics and a report,
// through the `fairtune` CLI exactly as a user runs it; a second run must be fully cached.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'packages/core/dist/cli.js');
const pipeline = join(root, 'pipelines/test/tiny-e2e.json');
const work = mkdtempSync(join(tmpdir(), 'fairtune-e2e-'));
const env = { ...process.env, FAIRTUNE_SYNTHETIC_DIR: join(work, 'synthetic'), FAIRTUNE_BACKEND: process.env.FAIRTUNE_BACKEND ?? 'wasm' };

function run() {
  const r = spawnSync(process.execPath, [cli, 'run', pipeline, '--cache-dir', join(work, 'cache'), '--runs-dir', join(work, 'runs')], { env, encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, `fairtune run failed (${r.status}):\n${r.stderr}`);
  const runDir = r.stdout.trim().split('\n').at(-1);
  return { runDir, stderr: r.stderr, summary: JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) };
}

test('tiny DaLiA → PPG-GPT → GroupDRO → metrics → report, then a fully cached re-run', () => {
  try {
    const first = run();
    assert.match(first.stderr.split('\n')[0], /^NOTE \[dalia\]: SYNTHETIC DATA: dalia uses the synthetic cohort/);
    assert.equal(first.summary.status, 'succeeded');
    assert.equal(first.summary.counts.executed, Object.keys(first.summary.stages).length);

    const env = JSON.parse(readFileSync(join(first.runDir, 'environment.json'), 'utf8'));
    assert.match(env.tensorBackend, /^wasm|^cpu|^tensorflow|^webgl/);

    const ft = first.summary.stages.finetune.metrics;
    assert.ok(ft.parameters_trainable > 0 && ft.parameters_trainable <= ft.parameters_total);
    const m = first.summary.stages['metrics-dalia'].metrics;
    assert.ok(Number.isFinite(m.mae) && m.mae > 0 && m.mae < 100, `DaLiA test MAE ${m.mae}`);
    assert.ok(Number.isFinite(m.maeGap) && m.maeGap >= 0);
    assert.ok(Number.isFinite(first.summary.stages['metrics-butppg'].metrics.mae));
    // eval.predict took the raw BUT-PPG dataset and replayed the model's band-pass and resampling.
    assert.match(first.stderr, /\[transfer\] but-ppg: bandpass 0\.5–8 Hz \(order 2\) on ppg \(as the model's training data\)/);
    assert.match(first.stderr, /\[transfer\] but-ppg: resample to 40 Hz on ppg/);

    const report = readFileSync(join(first.runDir, 'report', 'report.md'), 'utf8');
    assert.match(report, /Synthetic data/);
    assert.match(report, /\| group-dro · DaLiA test \|/);
    assert.match(report, /\| group-dro · BUT-PPG \|/);
    for (const svg of ['per-group-mae.svg', 'embeddings-pca.svg', 'training-curves.svg']) {
      assert.ok(existsSync(join(first.runDir, 'report', svg)), `${svg} missing`);
      assert.match(readFileSync(join(first.runDir, 'report', svg), 'utf8'), /^<svg/);
    }
    const json = JSON.parse(readFileSync(join(first.runDir, 'report', 'report.json'), 'utf8'));
    assert.equal(json.methods.length, 2);
    // BUT-PPG has 4 subjects, below eval.metrics' default minSubjects: flagged, and no gap
    assert.ok(!('maeGap' in first.summary.stages['metrics-butppg'].metrics), 'BUT-PPG gap reported for groups below minSubjects');
    assert.match(report, /fewer than minSubjects = 5: its metrics are reported but it takes part in no gap/);

    // model card: method and params, group sizes per split, both evaluations; DaLiA activity carried from windowing into the predictions
    const card = JSON.parse(readFileSync(join(first.runDir, 'model-card', 'model-card.json'), 'utf8'));
    assert.equal(card.synthetic, true);
    assert.equal(card.method.training.strategy.name, 'group-dro');
    assert.deepEqual(Object.keys(card.data.splits), ['train', 'validation', 'test']);
    assert.equal(card.evaluations.length, 2);
    assert.ok(card.evaluations[0].byActivity.strata.length > 0, 'no MAE by activity on DaLiA');
    assert.equal(card.evaluations[1].byActivity, null);
    assert.ok(card.evaluations[1].smallGroups.length > 0);
    assert.match(readFileSync(join(first.runDir, 'model-card', 'model-card.md'), 'utf8'), /^# Model card: group-dro\n\n> \*\*Synthetic data\.\*\*/);

    const second = run();
    assert.equal(second.summary.counts.cached, Object.keys(second.summary.stages).length);
    assert.deepEqual(second.summary.stages['metrics-dalia'].metrics, first.summary.stages['metrics-dalia'].metrics);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

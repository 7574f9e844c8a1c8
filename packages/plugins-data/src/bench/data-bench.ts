/**
 * Benchmark (not a test): pickle reading speed on a DaLiA-sized synthetic subject (2.5 h,
 * wrist and 700-Hz chest signals, Python-2-style protocol-2 pickle, as the real S<n>.pkl),
 * against CPython's pickle.load with numpy on the same file, and windows/s of the
 * preprocessing chain (band-pass → resample → 8-s/2-s windows → z-score).
 *
 *   npm run bench:data -w packages/plugins-data [-- --minutes 150 --protocol 2]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { artifact, ndarray, type DatasetMeta } from '@fairtune/core/plugin';
// A benchmark, not plugin code: it runs the stages as a pipeline would, through the testing entry.
import { runStandalone } from '@fairtune/core/testing';
import { writePickleFile, openPickle } from '../formats/pickle/index.js';
import { daliaSubjectValue } from '../synthetic/dalia.js';
import { withDefaults } from '../synthetic/cohort.js';
import { readDaliaSubject } from '../loaders/dalia.js';
import { BandpassStage, ResampleStage } from '../stages/signal-stages.js';
import { WindowStage } from '../stages/window-stage.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const minutes = arg('minutes', 150);
const protocol = arg('protocol', 2) as 0 | 2;
const dir = fileURLToPath(new URL(`../../.bench/dalia-${minutes}min-p${protocol}/S1/`, import.meta.url));
const pkl = join(dir, 'S1.pkl');
const mb = (b: number) => b / 1e6;

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${minutes} min subject, protocol ${protocol}`);
  if (!existsSync(pkl)) {
    mkdirSync(dir, { recursive: true });
    const t0 = performance.now();
    const { value } = daliaSubjectValue({ ...withDefaults({ subjects: 1, minutes, seed: 1 }), chest: true, protocol }, 0);
    const t1 = performance.now();
    const bytes = writePickleFile(pkl, value, protocol);
    const t2 = performance.now();
    console.log(`generated subject in ${((t1 - t0) / 1000).toFixed(1)} s; wrote ${mb(bytes).toFixed(1)} MB in ${((t2 - t1) / 1000).toFixed(1)} s (${(mb(bytes) / ((t2 - t1) / 1000)).toFixed(0)} MB/s)`);
  }
  const size = statSync(pkl).size;
  console.log(`file: ${pkl} (${mb(size).toFixed(1)} MB)`);

  // 1. Loader path: parse, materialise only wrist BVP/ACC, label, activity.
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    readDaliaSubject(join(dir, '..'), 'S1', false);
    best = Math.min(best, performance.now() - t);
  }
  console.log(`TS loader (wrist only, chest skipped): ${(best / 1000).toFixed(3)} s = ${(mb(size) / (best / 1000)).toFixed(0)} MB/s of pickle`);

  // 2. Full materialisation of every array (what pickle.load does).
  best = Infinity;
  for (let r = 0; r < 2; r++) {
    const t = performance.now();
    const doc = openPickle(pkl);
    const walk = (v: unknown): void => {
      if (v && typeof v === 'object' && 'toTyped' in v) (v as { toTyped(): unknown }).toTyped();
      else if (v && typeof v === 'object') Object.values(v).forEach(walk);
    };
    walk(doc.root);
    doc.close();
    best = Math.min(best, performance.now() - t);
  }
  console.log(`TS reader (all arrays materialised): ${(best / 1000).toFixed(3)} s = ${(mb(size) / (best / 1000)).toFixed(0)} MB/s`);

  try {
    execFileSync('/usr/bin/python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    const code = `import pickle,time,sys\nb=1e9\nfor _ in range(3):\n  t=time.perf_counter()\n  with open(sys.argv[1],'rb') as f: pickle.load(f, encoding='latin1')\n  b=min(b,time.perf_counter()-t)\nprint(b)`;
    const secs = Number(execFileSync('/usr/bin/python3', ['-c', code, pkl], { encoding: 'utf8' }).trim());
    const ver = execFileSync('/usr/bin/python3', ['-c', 'import sys,numpy;print(sys.version.split()[0], numpy.__version__)'], { encoding: 'utf8' }).trim();
    console.log(`CPython ${ver} pickle.load: ${secs.toFixed(3)} s = ${(mb(size) / secs).toFixed(0)} MB/s`);
  } catch {
    console.log('CPython + numpy not available (apt-get install python3-numpy) — skipped the comparison');
  }

  // 3. Preprocessing chain windows/s on the subject's wrist BVP.
  const s = readDaliaSubject(join(dir, '..'), 'S1', false);
  const meta: DatasetMeta = {
    name: 'bench',
    synthetic: true,
    source: { root: dir },
    recordings: [{ id: 'S1', subject: 'S1', attributes: s.attributes, signals: { ppg: { array: 'S1/ppg', fs: 64 } }, labels: { hr: { array: 'S1/hr', windowSeconds: 8, shiftSeconds: 2, offsetSeconds: 0 } } }],
  };
  const ds = artifact('dataset', meta, { 'S1/ppg': ndarray(s.bvp), 'S1/hr': ndarray(s.label) });
  const t = performance.now();
  const bp = (await runStandalone(new BandpassStage(), { params: { low: 0.5, high: 8, order: 4 }, inputs: { dataset: ds } })).outputs['dataset']!;
  const t1 = performance.now();
  const rs = (await runStandalone(new ResampleStage(), { params: { fs: 32 }, inputs: { dataset: bp } })).outputs['dataset']!;
  const t2 = performance.now();
  const win = (await runStandalone(new WindowStage(), { params: { windowSeconds: 8, shiftSeconds: 2, normalisation: 'zscore' }, inputs: { dataset: rs } })).outputs['samples']!;
  const t3 = performance.now();
  const n = win.arrays['y']!.shape[0]!;
  console.log(`preprocessing chain: ${n} windows in ${((t3 - t) / 1000).toFixed(2)} s = ${(n / ((t3 - t) / 1000)).toFixed(0)} windows/s (band-pass ${((t1 - t) / 1000).toFixed(2)} s, resample ${((t2 - t1) / 1000).toFixed(2)} s, window ${((t3 - t2) / 1000).toFixed(2)} s)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

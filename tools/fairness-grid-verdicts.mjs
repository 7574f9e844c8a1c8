#!/usr/bin/env node
// Applies the decision rules registered in docs/experiments.md (entry 2026-12-04, "Do the
// mitigations close a group gap, and only where one can be closed?") to the five condition
// reports of a fairness-grid run, and prints one Markdown table per condition.
//
// Why a script and not report.compare's own verdict: the registered rules fix the worse-served
// group in advance (female, the group the generator affects), whereas report.compare picks the
// worse-served group from ERM's means, which in the `none` and `noise` conditions may be either
// sex. Both are printed; where they differ, this script's verdict is the registered one.
// Written and committed before any report of the grid was read.
//
// Usage: node tools/fairness-grid-verdicts.mjs [runs/fairness-grid/<run id>]   (default: latest)
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OVERALL_HARM_BPM, registeredVerdict } from './registered-verdict.mjs';

const CONDITIONS = ['none', 'physiology', 'noise', 'learnable-0.5', 'learnable-1'];
const KEYS = { gap: 'overall.maeGap', female: 'groups.female.mae', male: 'groups.male.mae', overall: 'overall.mae', worst: 'overall.worstGroupMae' };

const runDir = process.argv[2] ?? 'runs/fairness-grid/latest';
if (process.argv[2] === '--self-test') selfTest();
else if (!existsSync(runDir)) {
  console.error(`fairness-grid-verdicts: ${runDir} does not exist; run \`npx nx run pipelines:fairness-grid\` first`);
  process.exit(2);
}

const f2 = (x) => (Number.isFinite(x) ? (x >= 0 ? '+' : '−') + Math.abs(x).toFixed(2) : 'n/a');
const p3 = (x) => (Number.isFinite(x) ? (x < 0.001 ? '<0.001' : x.toFixed(3)) : 'n/a');
const cell = (m) => `${f2(m.mean)} [${f2(m.ci.lo)}, ${f2(m.ci.hi)}]`;

function reportFile(condition) {
  const dir = join(runDir, `report[effect=${condition}]`);
  const file = join(dir, 'report.json');
  if (!existsSync(file)) {
    const have = readdirSync(runDir).filter((d) => d.startsWith('report')).join(', ') || 'none';
    throw new Error(`${file} is missing (report folders in ${runDir}: ${have}); has the grid finished?`);
  }
  return file;
}

/** The rule's branches on hand-made intervals (run with --self-test). */
function selfTest() {
  const r = (lo, hi) => ({ lo, hi });
  const cases = [
    [{ gap: r(-2, -1), female: r(-1, -0.5), male: r(-0.2, 0.3), overall: r(-1, 0) }, 'works'],
    [{ gap: r(-2, -1), female: r(-0.5, 0.2), male: r(0.1, 0.6), overall: r(0, 0.5) }, 'levelling down'],
    [{ gap: r(-2, -1), female: r(-0.5, 0.2), male: r(-0.1, 0.6), overall: r(0, 0.5) }, "gap closes; neither rule's group condition holds (no registered category)"],
    [{ gap: r(-0.5, 0.4), female: r(-1, -0.5), male: r(-1, -0.5), overall: r(-1, -0.5) }, 'no detectable effect'],
    [{ gap: r(0.1, 0.4), female: r(0, 1), male: r(-1, 0), overall: r(0, 1) }, 'harm (gap widens)'],
    [{ gap: r(-0.5, 0.4), female: r(1, 2), male: r(1, 2), overall: r(1.2, 2) }, 'no detectable effect; harm (overall MAE CI above +1 bpm)'],
  ];
  for (const [c, want] of cases) {
    const got = registeredVerdict(c);
    if (got !== want) throw new Error(`self-test: ${JSON.stringify(c)} gave "${got}", expected "${want}"`);
  }
  console.log(`self-test: ${cases.length} cases pass`);
  process.exit(0);
}

for (const condition of CONDITIONS) {
  const file = reportFile(condition);
  const report = JSON.parse(readFileSync(file, 'utf8'));
  const erm = report.methods.find((m) => m.method === report.baseline);
  const mean = (key) => erm?.metrics?.[key]?.value;
  console.log(`### Condition \`${condition}\` (${file})\n`);
  if (erm) {
    const v = (k) => (typeof mean(k) === 'number' ? mean(k).toFixed(2) : JSON.stringify(mean(k)));
    console.log(`ERM, mean over seeds: gap ${v(KEYS.gap)}, female MAE ${v(KEYS.female)}, male MAE ${v(KEYS.male)}, overall MAE ${v(KEYS.overall)} bpm.\n`);
  }
  console.log('| method | n | Δ gap [95 % CI] | d_z gap | p_perm gap (Holm) | Δ female MAE [CI] | Δ male MAE [CI] | Δ overall MAE [CI] | Δ worst-group MAE [CI] | verdict (registered rule) | report.compare verdict |');
  console.log('|---|---:|---|---:|---:|---|---|---|---|---|---|');
  for (const m of report.methods) {
    if (m.method === report.baseline || !m.pairedToBaseline) continue;
    const p = m.pairedToBaseline;
    const missing = Object.values(KEYS).filter((k) => !p[k]);
    if (missing.length) throw new Error(`${file}: method ${m.method} has no paired comparison of ${missing.join(', ')}`);
    const ci = (k) => ({ lo: p[k].ci.lo, hi: p[k].ci.hi });
    const verdict = registeredVerdict({ gap: ci(KEYS.gap), female: ci(KEYS.female), male: ci(KEYS.male), overall: ci(KEYS.overall) });
    const g = p[KEYS.gap];
    console.log(
      `| ${m.method} | ${g.n} | ${cell(g)} | ${Number.isFinite(g.dz) ? g.dz.toFixed(2) : 'n/a'} | ${p3(g.signFlip.p)} (${p3(g.signFlipHolm)}) | ${cell(p[KEYS.female])} | ${cell(p[KEYS.male])} | ${cell(p[KEYS.overall])} | ${cell(p[KEYS.worst])} | ${verdict} | ${m.levellingDown?.verdict ?? 'n/a'} |`,
    );
  }
  console.log('');
}

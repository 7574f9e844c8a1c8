#!/usr/bin/env node
// Applies the decision rules registered in docs/experiments.md (entry 2026-12-05, "Do the
// mitigations narrow the sex gap across datasets?") to the report of a ppg-transfer-matrix-seeds
// run: the per-pair rule of the fairness grid (registered-verdict.mjs, female fixed as the
// worse-served group) for every source → target pair and method, then the entry's headline rule
// for inverse frequency and GroupDRO over the six cross-dataset pairs. Written and committed with
// the entry, before the run.
//
// Usage: node tools/transfer-seeds-verdicts.mjs [runs/ppg-transfer-matrix-seeds/<run id>]   (default: latest)
//        node tools/transfer-seeds-verdicts.mjs --self-test
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { registeredVerdict } from './registered-verdict.mjs';

const KEYS = { gap: 'overall.maeGap', female: 'groups.female.mae', male: 'groups.male.mae', overall: 'overall.mae' };
/** The paper's headline methods (as named in the matrix) and the entry's threshold: "works" in ≥ 4 of the 6 transfers, harm in none. */
const HEADLINE_METHODS = ['if-sampling', 'group-dro'];
const HEADLINE_MIN_WORKS = 4;

/** The entry's headline rule for one method, from its verdicts on the six cross-dataset pairs. */
export function headline(verdicts) {
  const works = verdicts.filter((v) => v.split('; ')[0] === 'works').length;
  const harmed = verdicts.filter((v) => v.includes('harm')).length;
  const reproduced = works >= HEADLINE_MIN_WORKS && harmed === 0;
  return { works, harmed, reproduced, text: `${reproduced ? 'reproduced' : 'not reproduced'} (works in ${works} of ${verdicts.length} transfers, harm in ${harmed})` };
}

function selfTest() {
  const w = 'works';
  const n = 'no detectable effect';
  const cases = [
    [[w, w, w, w, n, n], true],
    [[w, w, w, n, n, n], false],
    [[w, w, w, w, w, 'harm (gap widens)'], false],
    [[w, w, w, w, 'works; harm (overall MAE CI above +1 bpm)', n], false],
    [['levelling down', 'levelling down', 'levelling down', 'levelling down', w, w], false],
  ];
  for (const [verdicts, want] of cases) {
    const got = headline(verdicts).reproduced;
    if (got !== want) throw new Error(`self-test: ${JSON.stringify(verdicts)} gave ${got}, expected ${want}`);
  }
  console.log(`self-test: ${cases.length} cases pass`);
}

const f2 = (x) => (Number.isFinite(x) ? (x >= 0 ? '+' : '−') + Math.abs(x).toFixed(2) : 'n/a');
const pct = (x) => (Number.isFinite(x) ? `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(0)} %` : 'n/a');
const cell = (m) => `${f2(m.mean)} [${f2(m.ci.lo)}, ${f2(m.ci.hi)}]`;

/** Prints the per-pair tables and returns each method's verdict per pair. */
function perPair(report, file) {
  const verdicts = new Map();
  const sets = [...new Set(report.methods.map((m) => m.evaluationSet))];
  for (const set of sets) {
    const rows = report.methods.filter((m) => m.evaluationSet === set);
    const erm = rows.find((m) => m.method === report.baseline);
    const pair = erm?.pair ?? rows[0].pair;
    const cross = pair.source !== pair.target;
    console.log(`### ${pair.source} → ${pair.target}${cross ? '' : ' (in domain)'}\n`);
    if (erm) console.log(`ERM, mean over ${erm.metrics[KEYS.gap].n ?? 1} seeds: gap ${erm.metrics[KEYS.gap].value.toFixed(2)}, female MAE ${erm.metrics[KEYS.female].value.toFixed(2)}, male MAE ${erm.metrics[KEYS.male].value.toFixed(2)}, overall MAE ${erm.metrics[KEYS.overall].value.toFixed(2)} bpm.\n`);
    console.log('| method | n | Δ gap [95 % CI] | relative Δ gap | p_perm gap (Holm) | Δ female MAE [CI] | Δ male MAE [CI] | Δ overall MAE [CI] | verdict (registered rule) |');
    console.log('|---|---:|---|---:|---:|---|---|---|---|');
    for (const m of rows) {
      if (m.method === report.baseline) continue;
      const p = m.pairedToBaseline;
      const missing = p ? Object.values(KEYS).filter((k) => !p[k]) : Object.values(KEYS);
      if (missing.length) throw new Error(`${file}: ${m.method} on ${set} has no paired comparison of ${missing.join(', ')} (one seed only?)`);
      const ci = (k) => {
        // One seed has no CI: the registered rule cannot be applied, and null must not read as "includes 0".
        if (!Number.isFinite(p[k].ci?.lo) || !Number.isFinite(p[k].ci?.hi)) throw new Error(`${file}: ${m.method} on ${set}: ${k} has no CI (n = ${p[k].n}); the rule needs several seeds`);
        return p[k].ci;
      };
      const verdict = registeredVerdict({ gap: ci(KEYS.gap), female: ci(KEYS.female), male: ci(KEYS.male), overall: ci(KEYS.overall) });
      const g = p[KEYS.gap];
      const holm = (x) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
      console.log(`| ${m.method} | ${g.n} | ${cell(g)} | ${pct(g.relativePercent)} | ${holm(g.signFlip?.p)} (${holm(g.signFlipHolm)}) | ${cell(p[KEYS.female])} | ${cell(p[KEYS.male])} | ${cell(p[KEYS.overall])} | ${verdict} |`);
      if (cross) verdicts.set(m.method, [...(verdicts.get(m.method) ?? []), verdict]);
    }
    console.log('');
  }
  return verdicts;
}

if (process.argv[2] === '--self-test') {
  selfTest();
} else {
  const runDir = process.argv[2] ?? 'runs/ppg-transfer-matrix-seeds/latest';
  const file = join(runDir, 'report', 'report.json');
  if (!existsSync(file)) {
    console.error(`transfer-seeds-verdicts: ${file} does not exist; run \`npx nx run pipelines:ppg-transfer-matrix-seeds\` first`);
    process.exit(2);
  }
  const verdicts = perPair(JSON.parse(readFileSync(file, 'utf8')), file);
  console.log('### The paper\'s headline (IF and GroupDRO narrow the gap across datasets)\n');
  for (const method of HEADLINE_METHODS) {
    const v = verdicts.get(method);
    if (!v || v.length !== 6) throw new Error(`${file}: expected ${method} on 6 cross-dataset pairs, found ${v?.length ?? 0}`);
    console.log(`- ${method}: ${headline(v).text}`);
  }
}

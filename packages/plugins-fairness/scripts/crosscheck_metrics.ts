/**
 * Cross-check of every metric and statistic against scikit-learn / SciPy / NumPy references
 * (not part of `jest`).
 *
 *   npm run crosscheck:metrics -w packages/plugins-fairness
 *
 * Generates seeded random cases (with ties, unknown groups, one-class groups, > 2 groups;
 * paired differences with ties and zeros; true values on bin edges, subjects with unequal window
 * counts), computes the metrics (with bias, Bland–Altman limits, subject-weighted MAE and errors
 * by stratum) and the paired statistics of
 * report.compare with this package, writes inputs and outputs to a temporary JSON file and runs
 * scripts/crosscheck_metrics.py with /usr/bin/python3 (Debian python3-sklearn, python3-scipy,
 * python3-numpy), which recomputes everything and prints the largest absolute difference.
 * Exit status: that of the Python side (non-zero if any difference exceeds its tolerance).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '@fairtune/core/plugin';
import {
  aggregateSeeds,
  binIndex,
  binLabels,
  blandAltman,
  bootstrapBySubject,
  categoryStrata,
  classificationMetrics,
  computeTaskMetrics,
  matrixFromRows,
  mmd2Rbf,
  RepresentationAnalysis,
  regressionMetrics,
  silhouetteScore,
  stratifiedErrors,
  stratifiedJson,
  stratumGaps,
  SubjectResampler,
  subjectWeightedMae,
  toJsonSafe,
} from '../src/metrics/index.js';
import { comparePaired, holmAdjust, pairedBootstrapMeanCI, paretoFront, signFlipTest, wilcoxonSignedRank } from '../src/metrics/paired.js';

const rng = new Rng(20240917);
const cases: Record<string, unknown[]> = { regression: [], classification: [], representation: [], bootstrap: [], seeds: [], paired: [], holm: [], pareto: [] };

const ints = (n: number, k: number, unknownRate = 0) =>
  Array.from({ length: n }, () => (rng.next() < unknownRate ? -1 : rng.int(k)));

for (let c = 0; c < 6; c++) {
  const n = 50 + rng.int(400);
  const G = 2 + (c % 3);
  const group = ints(n, G, c % 2 ? 0.05 : 0);
  const yTrue = Array.from({ length: n }, () => 60 + 30 * rng.next());
  const yPred = yTrue.map((y, i) => y + rng.normal(0, 3 + 2 * Math.max(group[i]!, 0)));
  cases.regression!.push({ yTrue, yPred, group, result: regressionMetrics(yTrue, yPred, group) });
}

for (let c = 0; c < 8; c++) {
  const n = 40 + rng.int(300);
  const G = 2 + (c % 3);
  const group = ints(n, G, c % 2 ? 0.05 : 0);
  const yTrue = Array.from({ length: n }, (_, i) => (group[i] === 0 && c % 4 === 3 ? 1 : rng.next() < 0.4 ? 1 : 0));
  // rounding to 1 or 2 decimals creates many ties; some cases hit the threshold exactly
  const decimals = c % 2 ? 1 : 2;
  const score = yTrue.map((y) => Math.round(Math.min(1, Math.max(0, 0.3 * y + 0.7 * rng.next())) * 10 ** decimals) / 10 ** decimals);
  const threshold = [0.5, 0.3, 0.7, 0.5][c % 4]!;
  const eceBins = [15, 10, 7, 15][c % 4]!;
  cases.classification!.push({
    yTrue, score, group, threshold, eceBins,
    result: toJsonSafe(classificationMetrics(yTrue, score, group, { threshold, eceBins })),
  });
}

for (let c = 0; c < 5; c++) {
  const D = 2 + rng.int(16);
  const n = 20 + rng.int(120);
  const G = 2 + (c % 2);
  const group = ints(n, G);
  const z = group.map((g) => Array.from({ length: D }, (_, k) => rng.normal(k === 0 ? g * 0.7 : 0, 1)));
  const analysis = new RepresentationAnalysis(matrixFromRows(z), group, { maxSamples: 100000 });
  const x = matrixFromRows(z.filter((_, i) => group[i] === 0));
  const y = matrixFromRows(z.filter((_, i) => group[i] === 1));
  const fixedSigma = 0.5 + rng.next() * 3;
  cases.representation!.push({
    z, group,
    full: toJsonSafe(analysis.compute()),
    sigma: analysis.sigma,
    pair01Median: mmd2Rbf(x, y),
    pair01Fixed: { sigma: fixedSigma, mmd2: mmd2Rbf(x, y, fixedSigma).mmd2 },
    silhouette: silhouetteScore(matrixFromRows(z), group),
  });
}

for (let c = 0; c < 3; c++) {
  const subjects = 8 + rng.int(10);
  const subjectGroup = Array.from({ length: subjects }, (_, s) => s % 2);
  const subject: number[] = [];
  for (let s = 0; s < subjects; s++) for (let k = 0, m = 3 + rng.int(20); k < m; k++) subject.push(s);
  const group = subject.map((s) => subjectGroup[s]!);
  const yTrue = subject.map(() => 70 + 20 * rng.next());
  const yPred = yTrue.map((y, i) => y + rng.normal(0, 2 + 3 * group[i]!));
  const replicates: number[][] = [];
  const values: number[] = [];
  const ci = await bootstrapBySubject(
    new SubjectResampler(subject, group),
    (rep) => {
      replicates.push(Array.from(rep.samples));
      const r = regressionMetrics(Array.from(rep.samples, (i) => yTrue[i]!), Array.from(rep.samples, (i) => yPred[i]!), Array.from(rep.samples, (i) => group[i]!));
      values.push(r.maeGap);
      return { mae: r.mae, maeGap: r.maeGap };
    },
    { seed: 11 + c, replicates: 40, alpha: 0.1 },
  );
  cases.bootstrap!.push({ subject, group, yTrue, yPred, replicates, alpha: 0.1, ci });
}

for (let c = 0; c < 3; c++) {
  const runs = Array.from({ length: 2 + c }, () => ({ mae: 5 + rng.next(), gap: rng.next() }));
  cases.seeds!.push({ runs, result: aggregateSeeds(runs) });
}

// Paired differences over seeds (report.compare): n from 2 to 20 (exact sign-flip enumeration),
// some with tied magnitudes and zero differences (rounded to 1 decimal), some continuous; and
// n up to 40 for the Wilcoxon test alone.
for (let c = 0; c < 24; c++) {
  const n = 2 + (c % 19);
  const kind = c % 3; // 0: continuous, 1: rounded (ties, zeros), 2: integer-valued (many ties)
  const shift = rng.normal(0, 0.6);
  const baseline = Array.from({ length: n }, () => 3 + 2 * rng.next());
  const d = Array.from({ length: n }, () => {
    const v = rng.normal(shift, 1);
    return kind === 0 ? v : kind === 1 ? Math.round(v * 10) / 10 : Math.round(v * 2);
  });
  // The tests take d as drawn (exact ties and zeros); the CI and effect size take the two arms,
  // method = baseline + d, as the report does.
  const method = baseline.map((b, i) => b + d[i]!);
  const diffs = d;
  const replicates: number[][] = [];
  const ci = pairedBootstrapMeanCI(method, baseline, { seed: 100 + c, replicates: 400, alpha: 0.05, onReplicate: (idx) => replicates.push(Array.from(idx)) });
  const cmp = comparePaired(method, baseline, { seed: 100 + c, replicates: 400 });
  cases.paired!.push({
    method, baseline, diffs, scale: kind === 0 ? null : kind === 1 ? 10 : 1,
    signFlip: toJsonSafe(signFlipTest(diffs)),
    wilcoxon: toJsonSafe(wilcoxonSignedRank(diffs)),
    compare: toJsonSafe({ mean: cmp.mean, std: cmp.std, dz: cmp.dz, relativePercent: cmp.relativePercent, ci: cmp.ci }),
    ci, replicates,
  });
}
for (let c = 0; c < 6; c++) {
  const n = 21 + 4 * c;
  const d = Array.from({ length: n }, () => (c % 2 ? Math.round(rng.normal(0.3, 1) * 4) / 4 : rng.normal(0.3, 1)));
  cases.paired!.push({ diffs: d, wilcoxon: toJsonSafe(wilcoxonSignedRank(d)) });
}

for (let c = 0; c < 8; c++) {
  const k = 1 + (c % 6);
  const p = Array.from({ length: k }, () => (rng.next() < 0.15 ? Number.NaN : rng.next() ** 3));
  if (c === 7) p.splice(0, p.length, 0.01, 0.04, 0.03, 0.04); // tied p-values
  cases.holm!.push({ p: p.map((x) => (Number.isFinite(x) ? x : null)), adjusted: toJsonSafe(holmAdjust(p)) });
}

for (let c = 0; c < 6; c++) {
  const pts = Array.from({ length: 3 + rng.int(10) }, () => ({ x: Math.round(rng.next() * 8) / 2, y: Math.round(rng.next() * 8) / 2 }));
  cases.pareto!.push({ points: pts, front: paretoFront(pts) });
}

// Bias, Bland–Altman limits, subject-weighted MAE, gaps over eligible groups and errors by
// stratum (eval.metrics' regression breakdowns), on a stream of their own so the cases above do
// not change: subjects with unequal window counts, unknown groups, true values on bin edges.
{
  const r2 = new Rng(20261204);
  cases['agreement'] = [];
  cases['strata'] = [];
  cases['subjectBootstrap'] = [];
  for (let c = 0; c < 8; c++) {
    const subjects = 6 + r2.int(20);
    const G = 2 + (c % 3);
    const subjectGroup = Array.from({ length: subjects }, (_, s) => (c % 2 && r2.next() < 0.1 ? -1 : s % G));
    const subject: number[] = [];
    for (let s = 0; s < subjects; s++) for (let k = 0, m = 1 + r2.int(c % 4 === 0 ? 40 : 8); k < m; k++) subject.push(s);
    const group = subject.map((s) => subjectGroup[s]!);
    // whole bpm for half the cases, so that many true values sit exactly on the edges 60, 80, 100, 120
    const yTrue = subject.map(() => (c % 2 ? Math.round(45 + 95 * r2.next()) : 45 + 95 * r2.next()));
    const yPred = yTrue.map((y, i) => y + r2.normal(0.5 * Math.max(group[i]!, 0) - 0.7, 2 + Math.max(group[i]!, 0)));
    const gapGroups = new Set(Array.from({ length: G }, (_, g) => g).filter(() => r2.next() < 0.7));
    const input = { task: 'regression' as const, yTrue, yPred, group, groupNames: [], subject };
    cases['agreement']!.push({
      yTrue, yPred, group, subject, gapGroups: [...gapGroups],
      result: toJsonSafe(regressionMetrics(yTrue, yPred, group, { subject })),
      blandAltman: toJsonSafe(blandAltman(yTrue, yPred)),
      subjectMae: subjectWeightedMae(yTrue, yPred, subject),
      gapped: toJsonSafe(computeTaskMetrics({ ...input, gapGroups }).overall),
    });
    const edges = c % 3 === 2 ? [50 + 10 * r2.int(3), 85, 85.5, 130] : [60, 80, 100, 120];
    const bins = binIndex(yTrue, edges);
    const minSubjects = 1 + r2.int(4);
    const activity = subject.map((s) => (r2.next() < 0.05 ? Number.NaN : [0, 1, 2, 3, 4, 5, 6, 7, 8][(s + r2.int(3)) % 9]!));
    const cat = categoryStrata(activity);
    for (const [kind, stratum, names] of [['bins', bins, binLabels(edges)], ['activity', cat.stratum, cat.names]] as const) {
      const st = stratifiedErrors(yTrue, yPred, stratum, names, group, subject);
      const gaps = stratumGaps(st, (g, k) => st.groups.get(g)![k]!.subjects >= minSubjects);
      cases['strata']!.push({ kind, yTrue, yPred, group, subject, activity: activity.map((a) => (Number.isFinite(a) ? a : null)), edges, minSubjects, bins: Array.from(bins), codes: cat.codes, result: toJsonSafe(stratifiedJson(st, gaps, [])) });
    }
  }
  for (let c = 0; c < 3; c++) {
    const subjects = 8 + r2.int(8);
    const subject: number[] = [];
    for (let s = 0; s < subjects; s++) for (let k = 0, m = 2 + r2.int(15); k < m; k++) subject.push(s);
    const group = subject.map((s) => s % 2);
    const yTrue = subject.map(() => 60 + 50 * r2.next());
    const yPred = yTrue.map((y, i) => y + r2.normal(0, 2 + 2 * group[i]!));
    const replicates: { samples: number[]; draws: number[] }[] = [];
    const ci = await bootstrapBySubject(
      new SubjectResampler(subject, group),
      (rep) => {
        replicates.push({ samples: Array.from(rep.samples), draws: Array.from(rep.draws) });
        const m = computeTaskMetrics({ task: 'regression', yTrue: Array.from(rep.samples, (i) => yTrue[i]!), yPred: Array.from(rep.samples, (i) => yPred[i]!), group: Array.from(rep.samples, (i) => group[i]!), groupNames: [], subject: rep.draws });
        return { subjectMae: m.overall['subjectMae']!, subjectMaeGap: m.overall['subjectMaeGap']!, loaUpper: m.overall['loaUpper']! };
      },
      { seed: 40 + c, replicates: 50, alpha: 0.05 },
    );
    cases['subjectBootstrap']!.push({ subject, group, yTrue, yPred, replicates, alpha: 0.05, ci });
  }
}

const dir = mkdtempSync(join(tmpdir(), 'fairtune-crosscheck-'));
const file = join(dir, 'cases.json');
writeFileSync(file, JSON.stringify(cases));
const py = join(dirname(fileURLToPath(import.meta.url)), 'crosscheck_metrics.py');
const res = spawnSync('/usr/bin/python3', [py, file], { stdio: 'inherit' });
if (res.error) {
  console.error(`could not run /usr/bin/python3 (${res.error.message}); install python3-sklearn, python3-scipy and python3-numpy`);
  process.exit(1);
}
process.exit(res.status ?? 1);

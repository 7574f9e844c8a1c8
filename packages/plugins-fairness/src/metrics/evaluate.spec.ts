import { evaluatePredictions } from './evaluate.js';

describe('evaluatePredictions', () => {
  // 6 subjects × 2 windows; the prediction error grows with the subject id.
  const subject = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5];
  const yTrue = subject.map(() => 70);
  const yPred = subject.map((s) => 70 + s);
  const group = subject.map((s) => s % 2);
  const input = { task: 'regression' as const, yTrue, yPred, group, groupNames: ['female', 'male'] };

  it('bootstraps the extra per-replicate metrics together with the task metrics, on the same replicates', async () => {
    const seen: number[][] = [];
    const r = await evaluatePredictions(input, {
      subject,
      bootstrap: { replicates: 20, alpha: 0.1, seed: 4 },
      // e.g. representation metrics: here the mean drawn subject id, which mirrors the MAE
      replicateMetrics: (rep) => {
        seen.push(Array.from(rep.subjects));
        return { 'extra.meanSubject': Array.from(rep.subjects).reduce((a, b) => a + b, 0) / rep.subjects.length };
      },
    });
    expect(seen).toHaveLength(20);
    expect(r.ci!['extra.meanSubject']!.valid).toBe(20);
    // MAE of a replicate = mean over its windows of the subject id = the mean drawn subject id
    expect(r.ci!['extra.meanSubject']!.lo).toBeCloseTo(r.ci!['overall.mae']!.lo, 12);
    expect(r.ci!['extra.meanSubject']!.hi).toBeCloseTo(r.ci!['overall.mae']!.hi, 12);
    expect(r.overall['mae']).toBeCloseTo(2.5, 12);
  });

  it('counts a subject drawn twice as two subjects in the subject-weighted MAE of a replicate', async () => {
    // constant error per subject (|e| = 1 + s) and unequal window counts: the subject-weighted MAE
    // of a replicate is the mean of |e| over its draws, repeats included
    const subj = [0, 1, 1, 1, 2, 3, 3, 4, 4, 4, 4, 5];
    const err = (s: number) => 1 + s;
    const rows = { task: 'regression' as const, yTrue: subj.map(() => 70), yPred: subj.map((s) => 70 + err(s)), group: subj.map((s) => s % 2), groupNames: ['f', 'm'], subject: subj };
    const r = await evaluatePredictions(rows, {
      subject: subj,
      bootstrap: { replicates: 30, alpha: 0.1, seed: 9 },
      replicateMetrics: (rep) => ({ 'extra.meanOverDraws': Array.from(rep.subjects, err).reduce((a, b) => a + b, 0) / rep.subjects.length }),
    });
    expect(r.overall['subjectMae']).toBeCloseTo(3.5, 12);
    expect(r.ci!['overall.subjectMae']!.lo).toBeCloseTo(r.ci!['extra.meanOverDraws']!.lo, 12);
    expect(r.ci!['overall.subjectMae']!.hi).toBeCloseTo(r.ci!['extra.meanOverDraws']!.hi, 12);
  });

  it('returns point metrics only without a bootstrap', async () => {
    const r = await evaluatePredictions(input, { replicateMetrics: () => ({ x: 1 }) });
    expect(r.ci).toBeUndefined();
  });
});

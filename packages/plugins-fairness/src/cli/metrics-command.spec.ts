import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { CliIO } from '@fairtune/core';
import { MetricsCommand, parseMetricsArgs } from './metrics-command.js';
import { readPredictionsCsv } from './predictions-csv.js';

function fakeIO(cwd: string): CliIO & { out: () => string; err: () => string } {
  const sink = () => {
    const chunks: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, cb) {
        chunks.push(String(chunk));
        cb();
      },
    });
    return { stream, text: () => chunks.join('') };
  };
  const o = sink();
  const e = sink();
  return { cwd, stdout: o.stream, stderr: e.stream, env: {}, out: o.text, err: e.text };
}

const dir = mkdtempSync(join(tmpdir(), 'fairtune-metrics-cli-'));
writeFileSync(
  join(dir, 'reg.csv'),
  ['subject,sex,age,hr,hr_pred', 's1,female,young,1,2', 's1,female,young,2,2', 's2,male,old,3,5', 's3,male,young,4,0', 's4,,old,10,10'].join('\n'),
);
writeFileSync(
  join(dir, 'cls.csv'),
  ['"label","p","sex"', '0,0.1,f', '1,0.9,f', '1,0.4,f', '0,0.6,f', '1,0.8,m', '1,0.7,m', '0,0.2,m', '1,0.3,m'].join('\r\n'),
);

describe('fairtune metrics', () => {
  const cmd = new MetricsCommand();

  it('prints one JSON object with regression metrics per group', async () => {
    const io = fakeIO(dir);
    const code = await cmd.run(['reg.csv', '--task', 'regression', '--target', 'hr', '--prediction', 'hr_pred', '--group', 'sex', '--json'], io);
    expect(io.err()).toBe('');
    expect(code).toBe(0);
    const out = JSON.parse(io.out());
    // errors 1 0 2 4 0 → MAE 7/5; female 0.5, male 3
    expect(out.overall.mae).toBeCloseTo(7 / 5, 12);
    expect(out.overall.rmse).toBeCloseTo(Math.sqrt(21 / 5), 12);
    expect(out.overall.maeGap).toBeCloseTo(2.5, 12);
    expect(out.overall.worstGroupMae).toBe(3);
    // signed errors ŷ − y: female +1, 0 → bias 0.5, SD √0.5; male +2, −4 → bias −1, SD √18; limits bias ± 1.96·SD
    expect(out.groups).toEqual({
      female: { n: 2, mae: 0.5, rmse: Math.sqrt(0.5), bias: 0.5, sd: Math.sqrt(0.5), loaLower: 0.5 - 1.96 * Math.sqrt(0.5), loaUpper: 0.5 + 1.96 * Math.sqrt(0.5) },
      male: { n: 2, mae: 3, rmse: Math.sqrt(10), bias: -1, sd: Math.sqrt(18), loaLower: -1 - 1.96 * Math.sqrt(18), loaUpper: -1 + 1.96 * Math.sqrt(18) },
    });
    expect(out.overall.bias).toBeCloseTo((1 + 0 + 2 - 4 + 0) / 5, 12);
    expect(out.warnings).toEqual(['1 row(s) with an empty group cell count in overall metrics only']);
  });

  it('joins several group columns with | and adds subject bootstrap CIs', async () => {
    const io = fakeIO(dir);
    const args = ['reg.csv', '--task', 'regression', '--target', 'hr', '--prediction', 'hr_pred', '--group', 'sex', '--group', 'age', '--subject', 'subject', '--bootstrap', '30', '--json'];
    expect(await cmd.run(args, io)).toBe(0);
    const out = JSON.parse(io.out());
    expect(Object.keys(out.groups)).toEqual(['female|young', 'male|old', 'male|young']);
    // with --subject: subjects per group and the subject-weighted MAE (s1: 0.5, s2: 2, s3: 4, s4: 0)
    expect(out.groups['female|young'].subjects).toBe(1);
    expect(out.overall.subjectMae).toBeCloseTo((0.5 + 2 + 4 + 0) / 4, 12);
    expect(out.overall.subjectMaeGap).toBeCloseTo(4 - 0.5, 12);
    expect(out.ci.unit).toBe('subject');
    const mae = out.ci.intervals['overall.mae'];
    expect(mae.valid).toBe(30);
    expect(mae.lo).toBeLessThanOrEqual(mae.hi);
  });

  it('computes classification metrics, null for undefined values', async () => {
    const io = fakeIO(dir);
    expect(await cmd.run(['cls.csv', '--task', 'classification', '--target', 'label', '--prediction', 'p', '--group', 'sex', '--json'], io)).toBe(0);
    const out = JSON.parse(io.out());
    expect(Object.keys(out.overall)).toEqual(['auc', 'minAuc', 'aucGap', 'accuracy', 'equalizedOddsDifference', 'demographicParityDifference', 'ece']);
    // f: y 0 1 1 0, ŷ 0 1 0 1 → AUC 0.75 (pairs: .9>.1 .9>.6 .4>.1 .4<.6), TPR ½, FPR ½, SR ½
    // m: y 1 1 0 1, ŷ 1 1 0 0 → every positive scores above the negative 0.2 → AUC 1
    expect(out.groups.f).toEqual({ n: 4, auc: 0.75, accuracy: 0.5, tpr: 0.5, fpr: 0.5, selectionRate: 0.5 });
    expect(out.groups.m.auc).toBe(1);
    expect(out.groups.m.tpr).toBeCloseTo(2 / 3, 12);
    expect(out.overall.demographicParityDifference).toBe(0);
    expect(out.overall.equalizedOddsDifference).toBeCloseTo(0.5, 12);
    expect(out.overall.aucGap).toBe(0.25);
    writeFileSync(join(dir, 'onecls.csv'), 'y,p,sex\n1,0.2,a\n0,0.4,a\n1,0.5,b\n');
    const io2 = fakeIO(dir);
    expect(await cmd.run(['onecls.csv', '--task', 'classification', '--target', 'y', '--prediction', 'p', '--group', 'sex', '--json'], io2)).toBe(0);
    const one = JSON.parse(io2.out());
    expect(one.groups.b.auc).toBeNull();
    expect(one.overall.minAuc).toBe(0);
    expect(one.overall.aucGap).toBe(0);
    expect(one.warnings[0]).toMatch(/group "b" has only one class/);
  });

  it('prints tables without --json', async () => {
    const io = fakeIO(dir);
    expect(await cmd.run(['cls.csv', '--task', 'classification', '--target', 'label', '--prediction', 'p', '--group', 'sex'], io)).toBe(0);
    expect(io.out()).toMatch(/minAuc\s+0\.7500/);
    expect(io.out()).toMatch(/group\s+n\s+auc/);
  });

  it.each([
    [['reg.csv', '--target', 'hr', '--prediction', 'hr_pred', '--group', 'sex'], /--task must be "regression" or "classification"/],
    [['--task', 'regression', '--target', 'hr', '--prediction', 'p', '--group', 'g'], /expected one predictions CSV file, got none/],
    [['reg.csv', '--task', 'regression', '--target', 'hr', '--prediction', 'hr_pred'], /at least one --group/],
    [['reg.csv', '--task', 'regression', '--target', 'hr', '--prediction', 'hr_pred', '--group', 'sex', '--threshold', 'x'], /--threshold must be a number, got "x"/],
    [['reg.csv', '--task', 'regression', '--target', 'hr', '--prediction', 'hr_pred', '--group', 'sex', '--colour'], /Unknown option '--colour'/],
  ])('exits 2 with usage on bad usage %#', async (argv, message) => {
    const io = fakeIO(dir);
    expect(await cmd.run(argv, io)).toBe(2);
    expect(io.err()).toMatch(message);
    expect(io.err()).toMatch(/Usage: fairtune metrics/);
    expect(() => parseMetricsArgs(argv)).toThrow(expect.objectContaining({ code: 'FT_USAGE' }));
  });

  it('names the file, line and column of bad input and exits 2', async () => {
    writeFileSync(join(dir, 'bad.csv'), 'hr,hr_pred,sex\n1,2,f\n3,abc,m\n');
    writeFileSync(join(dir, 'ragged.csv'), 'hr,hr_pred,sex\n1,2,f\n3,4\n');
    writeFileSync(join(dir, 'label.csv'), 'y,p,sex\n1,0.2,f\n2,0.4,m\n');
    const run = async (file: string, task = 'regression', target = 'hr', pred = 'hr_pred') => {
      const io = fakeIO(dir);
      const code = await cmd.run([file, '--task', task, '--target', target, '--prediction', pred, '--group', 'sex'], io);
      return { code, err: io.err() };
    };
    expect(await run('bad.csv')).toEqual({ code: 2, err: 'fairtune metrics: bad.csv: line 3, column 2 ("hr_pred"): expected a number, got "abc"\n' });
    expect((await run('ragged.csv')).err).toMatch(/ragged\.csv: Invalid Record Length: expect 3, got 2 on line 3/);
    expect((await run('label.csv', 'classification', 'y', 'p')).err).toMatch(/label\.csv: line 3, column 1 \("y"\): classification targets must be 0 or 1, got "2"/);
    expect((await run('reg.csv', 'regression', 'heart_rate')).err).toMatch(/reg\.csv: line 1: no column "heart_rate" \(given by --target\); columns are: subject, sex, age, hr, hr_pred/);
    expect((await run('missing.csv')).err).toMatch(/missing\.csv: cannot read file \(ENOENT\)/);
    // The codes behind those messages (docs/errors.md): an absent file, a file in the wrong form.
    const read = (file: string) => () => readPredictionsCsv(join(dir, file), file, 'regression', { target: 'hr', prediction: 'hr_pred', groups: ['sex'] });
    expect(read('missing.csv')).toThrow(expect.objectContaining({ code: 'FT_DATA_MISSING', about: { file: join(dir, 'missing.csv') }, message: 'missing.csv: cannot read file (ENOENT)' }));
    expect(read('bad.csv')).toThrow(expect.objectContaining({ code: 'FT_DATA_FORMAT', about: { file: join(dir, 'bad.csv') } }));
  });

  it('prints usage for --help', async () => {
    const io = fakeIO(dir);
    expect(await cmd.run(['--help'], io)).toBe(0);
    expect(io.out()).toMatch(/^Usage: fairtune metrics/);
  });
});

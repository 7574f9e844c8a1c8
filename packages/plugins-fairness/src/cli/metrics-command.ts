/**
 * `fairtune metrics <predictions.csv> …`: every regression or classification metric, overall
 * and per group, for predictions made by any model (docs/fairness.md §CLI).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError, type CliCommand, type CliIO, type TaskKind } from '@fairtune/core/plugin';
import { evaluatePredictions } from '../metrics/evaluate.js';
import { toJsonSafe } from '../metrics/summary.js';
import { InputError, readPredictionsCsv } from './predictions-csv.js';

const USAGE = `Usage: fairtune metrics <predictions.csv> --task regression|classification
         --target <column> --prediction <column> --group <column> [--group <column> …]
         [--threshold 0.5] [--ece-bins 15] [--subject <column> [--bootstrap 200] [--seed 0]] [--json]

Computes every metric from a CSV file with a header row and one row per sample.
  --task         regression (MAE, RMSE, per-group MAE, gap, worst group, bias = mean of
                 prediction − target, Bland–Altman SD and 95 % limits of agreement) or classification
                 (AUC, worst-group AUC, AUC gap, accuracy, equalized-odds and demographic-parity
                 differences, ECE; the prediction column is the positive-class probability)
  --target       column with the true value (0/1 for classification)
  --prediction   column with the prediction
  --group        sensitive-attribute column; repeat for intersections (values joined with "|");
                 rows with an empty group cell count overall but in no group
  --threshold    classification: ŷ = [prediction ≥ threshold] (default 0.5)
  --ece-bins     classification: equal-width ECE bins (default 15)
  --subject      subject column: adds subjects per group, the subject-weighted MAE and its gap
                 (regression), and bootstrap confidence intervals resampling subjects
  --bootstrap    number of bootstrap replicates (default 200)
  --seed         bootstrap seed (default 0)
  --json         print one JSON object instead of tables (undefined metrics are null)
Exit codes: 0 success, 2 bad usage or bad input.`;

interface Parsed {
  file: string;
  task: TaskKind;
  target: string;
  prediction: string;
  groups: string[];
  threshold: number;
  eceBins: number;
  subject?: string;
  bootstrap: number;
  seed: number;
  json: boolean;
}

/** The command's arguments; throws a UsageError (FT_USAGE) on bad usage. */
export function parseMetricsArgs(argv: readonly string[]): Parsed | 'help' {
  let values: Record<string, string | boolean | string[] | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        task: { type: 'string' },
        target: { type: 'string' },
        prediction: { type: 'string' },
        group: { type: 'string', multiple: true },
        threshold: { type: 'string' },
        'ece-bins': { type: 'string' },
        subject: { type: 'string' },
        bootstrap: { type: 'string' },
        seed: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message, { cause: err });
  }
  if (values.help) return 'help';
  if (positionals.length !== 1) throw new UsageError(`expected one predictions CSV file, got ${positionals.length === 0 ? 'none' : positionals.join(', ')}`);
  const task = values.task;
  if (task !== 'regression' && task !== 'classification') throw new UsageError(`--task must be "regression" or "classification"${task ? `, got "${task}"` : ''}`);
  for (const name of ['target', 'prediction'] as const) if (!values[name]) throw new UsageError(`--${name} <column> is required`);
  const groups = (values.group as string[] | undefined) ?? [];
  if (groups.length === 0) throw new UsageError('at least one --group <column> is required');
  const number = (name: string, fallback: number, check: (v: number) => boolean, what: string): number => {
    const raw = values[name] as string | undefined;
    if (raw === undefined) return fallback;
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(v) || !check(v)) throw new UsageError(`--${name} must be ${what}, got "${raw}"`);
    return v;
  };
  if (values.bootstrap !== undefined && values.subject === undefined) throw new UsageError('--bootstrap needs --subject <column> (confidence intervals resample subjects)');
  return {
    file: positionals[0]!,
    task,
    target: values.target as string,
    prediction: values.prediction as string,
    groups,
    threshold: number('threshold', 0.5, () => true, 'a number'),
    eceBins: number('ece-bins', 15, (v) => Number.isInteger(v) && v >= 1, 'a positive integer'),
    subject: values.subject as string | undefined,
    bootstrap: number('bootstrap', 200, (v) => Number.isInteger(v) && v >= 1, 'a positive integer'),
    seed: number('seed', 0, (v) => Number.isInteger(v), 'an integer'),
    json: values.json === true,
  };
}

const fmt = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? 'n/a' : Math.abs(v) >= 100 ? v.toFixed(2) : v.toFixed(4));

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

export class MetricsCommand implements CliCommand {
  readonly name = 'metrics';
  readonly summary = 'Fairness and accuracy metrics (overall and per group) of a predictions CSV';
  readonly usage = USAGE;

  async run(argv: readonly string[], io: CliIO): Promise<number> {
    let args: Parsed | 'help';
    try {
      args = parseMetricsArgs(argv);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      io.stderr.write(`fairtune metrics: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    if (args === 'help') {
      io.stdout.write(`${USAGE}\n`);
      return 0;
    }
    try {
      const t = readPredictionsCsv(resolve(io.cwd, args.file), args.file, args.task, {
        target: args.target,
        prediction: args.prediction,
        groups: args.groups,
        subject: args.subject,
      });
      const result = await evaluatePredictions(
        { task: args.task, yTrue: t.yTrue, yPred: t.yPred, group: t.group, groupNames: t.groupNames, threshold: args.threshold, eceBins: args.eceBins, ...(t.subject ? { subject: t.subject } : {}) },
        t.subject ? { subject: t.subject, bootstrap: { replicates: args.bootstrap, alpha: 0.05, seed: args.seed } } : {},
      );
      const warnings = [...result.warnings];
      if (t.unknownGroupRows > 0) warnings.push(`${t.unknownGroupRows} row(s) with an empty group cell count in overall metrics only`);
      if (args.json) {
        const out: Record<string, unknown> = {
          file: args.file,
          task: args.task,
          n: t.yTrue.length,
          groupColumns: args.groups,
          ...(args.task === 'classification' ? { threshold: args.threshold, eceBins: args.eceBins } : {}),
          overall: result.overall,
          groups: result.groups,
          warnings,
        };
        if (result.ci) out.ci = { level: 0.95, unit: 'subject', replicates: args.bootstrap, seed: args.seed, subjects: t.subjectNames!.length, intervals: result.ci };
        io.stdout.write(`${JSON.stringify(toJsonSafe(out), null, 2)}\n`);
        return 0;
      }
      const ci = (key: string) => {
        const c = result.ci?.[key];
        return c ? `[${fmt(c.lo)}, ${fmt(c.hi)}]` : '';
      };
      const lines: string[] = [`${args.file}: ${t.yTrue.length} rows, ${args.task}, groups by ${args.groups.join(' × ')}`, ''];
      lines.push(table([['metric', 'value', ...(result.ci ? ['95% CI (subjects)'] : [])], ...Object.entries(result.overall).map(([k, v]) => [k, fmt(v), ...(result.ci ? [ci(`overall.${k}`)] : [])])]));
      const names = Object.keys(result.groups);
      if (names.length) {
        const metricNames = Object.keys(result.groups[names[0]!]!);
        lines.push('', table([['group', ...metricNames], ...names.map((g) => [g, ...metricNames.map((m) => (m === 'n' ? String(result.groups[g]![m]) : fmt(result.groups[g]![m])))])]));
      }
      for (const w of warnings) lines.push(`warning: ${w}`);
      io.stdout.write(`${lines.join('\n')}\n`);
      return 0;
    } catch (err) {
      if (err instanceof InputError || err instanceof RangeError) {
        io.stderr.write(`fairtune metrics: ${err.message}\n`);
        return 2;
      }
      throw err;
    }
  }
}

/**
 * The transfer-matrix layout of `report.compare` (the PPG paper's tables): when the metrics name
 * the dataset the model was trained on (eval.metrics `trainedOn`), each evaluation set is a
 * source → target pair, and the report adds pairs × methods tables of the error and the gap with
 * their CIs, and of each method's change against the baseline on that pair.
 */

/** One cell as report.compare shows it: a value with its CI, or mean ± std over seeds. */
export interface MatrixCell {
  readonly value: number;
  readonly lo?: number;
  readonly hi?: number;
  readonly std?: number;
  readonly n?: number;
}

/** A method's change against the baseline on one pair (report/compare.ts, paired by seed). */
export interface MatrixDelta {
  readonly mean: number;
  readonly n: number;
  readonly ci: { readonly lo: number; readonly hi: number };
  readonly relativePercent: number;
}

export interface MatrixRow {
  readonly method: string;
  /** The evaluation set key, "<source> → <dataset> <split>". */
  readonly evalSet: string;
  readonly source: string;
  readonly target: string;
}

export interface TransferMatrixInput {
  readonly rows: readonly MatrixRow[];
  readonly methods: readonly string[];
  readonly baseline: string;
  /** Flat metric keys shown: the error and the gap (e.g. `overall.mae`, `overall.maeGap`) with their titles. */
  readonly metrics: readonly { readonly key: string; readonly title: string }[];
  readonly cell: (row: MatrixRow, key: string) => MatrixCell | undefined;
  readonly delta: (row: MatrixRow, key: string) => MatrixDelta | undefined;
  readonly format: (v: number | undefined) => string;
  readonly units: string;
}

/** Pairs in the order their sources, then targets, first appear; in-domain pairs are marked. */
export function matrixPairs(rows: readonly MatrixRow[]): { source: string; target: string; evalSet: string }[] {
  const out: { source: string; target: string; evalSet: string }[] = [];
  const sources = [...new Set(rows.map((r) => r.source))];
  for (const s of sources) {
    for (const r of rows) if (r.source === s && !out.some((p) => p.evalSet === r.evalSet)) out.push({ source: s, target: r.target, evalSet: r.evalSet });
  }
  return out;
}

/** The Markdown section; empty when no run names its training dataset. */
export function transferMatrixMarkdown(o: TransferMatrixInput): string[] {
  if (o.rows.length === 0) return [];
  const pairs = matrixPairs(o.rows);
  const rowOf = (evalSet: string, method: string) => o.rows.find((r) => r.evalSet === evalSet && r.method === method);
  const cellText = (c: MatrixCell | undefined) => {
    if (!c || !Number.isFinite(c.value)) return 'n/a';
    if (c.n !== undefined && c.n > 1) return `${o.format(c.value)} ± ${o.format(c.std)}`;
    if (c.lo !== undefined && c.hi !== undefined && Number.isFinite(c.lo) && Number.isFinite(c.hi)) return `${o.format(c.value)} [${o.format(c.lo)}, ${o.format(c.hi)}]`;
    return o.format(c.value);
  };
  const signed = (v: number) => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${o.format(v)}` : 'n/a');
  const deltaText = (d: MatrixDelta | undefined) => {
    if (!d || !Number.isFinite(d.mean)) return 'n/a';
    const ci = d.n >= 2 && Number.isFinite(d.ci.lo) ? ` [${o.format(d.ci.lo)}, ${o.format(d.ci.hi)}]` : '';
    const rel = Number.isFinite(d.relativePercent) ? ` (${d.relativePercent >= 0 ? '+' : ''}${d.relativePercent.toFixed(1)} %)` : '';
    return `${signed(d.mean)}${ci}${rel}`;
  };
  const pairLabel = (p: { source: string; target: string; evalSet: string }) => {
    const set = p.evalSet.slice(p.evalSet.indexOf('→') + 1).trim();
    return `${p.source} → ${set}${p.source === p.target ? ' (in domain)' : ''}`;
  };
  const units = o.units ? ` (${o.units})` : '';
  const md: string[] = [
    '## Transfer matrix',
    '',
    'Rows: the dataset the model was fine-tuned on → the evaluation set (in domain: the source\'s test subjects; otherwise every subject of the other dataset, brought to the model\'s input by eval.predict). ' +
      'Cells: value [95 % bootstrap CI resampling subjects] for one run, mean ± std over seeds for several.',
    '',
  ];
  for (const m of o.metrics) {
    md.push(`### ${m.title}${units}`, '', `| Source → target | ${o.methods.join(' | ')} |`, `|---|${o.methods.map(() => '---:').join('|')}|`);
    for (const p of pairs) md.push(`| ${pairLabel(p)} | ${o.methods.map((method) => { const r = rowOf(p.evalSet, method); return r ? cellText(o.cell(r, m.key)) : '–'; }).join(' | ')} |`);
    md.push('');
  }
  const others = o.methods.filter((m) => m !== o.baseline);
  if (others.length > 0 && o.methods.includes(o.baseline)) {
    md.push(
      `### Change against ${o.baseline} per pair`,
      '',
      `method − ${o.baseline} on the same pair and seed: mean difference${units} [95 % CI over seed pairs, from 2 seeds] (relative change); negative = lower error or gap. With one seed, a single difference without a CI.`,
      '',
    );
    for (const m of o.metrics) {
      md.push(`#### Δ ${m.title}`, '', `| Source → target | ${others.join(' | ')} |`, `|---|${others.map(() => '---:').join('|')}|`);
      for (const p of pairs) md.push(`| ${pairLabel(p)} | ${others.map((method) => { const r = rowOf(p.evalSet, method); return r ? deltaText(o.delta(r, m.key)) : '–'; }).join(' | ')} |`);
      md.push('');
    }
  }
  return md;
}

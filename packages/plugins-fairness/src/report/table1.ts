/**
 * The classification comparison laid out as the FairTune paper's Table 1: metrics as rows,
 * methods as columns, in percent. The paper prints point values only; here every cell keeps its
 * uncertainty: the bootstrap CI (resampling subjects) for a single run, mean ± sample std over
 * seeds when runs are repeated.
 */

/** One table cell as report.compare aggregates it (value and CI, or mean ± std over n seeds). */
export interface Table1Cell {
  readonly value: number;
  readonly lo?: number;
  readonly hi?: number;
  readonly std?: number;
  readonly n?: number;
}

/** Rows of the paper's Table 1 (overall, min and gap AUC) and the two rate differences of its appendix. */
export const TABLE1_ROWS: ReadonlyArray<readonly [key: string, label: string]> = [
  ['overall.auc', 'Overall AUC ↑'],
  ['overall.minAuc', 'Min. (worst-group) AUC ↑'],
  ['overall.aucGap', 'Gap AUC ↓'],
  ['overall.equalizedOddsDifference', 'EOddsD ↓'],
  ['overall.demographicParityDifference', 'DPD ↓'],
];

const pct = (v: number | undefined): string => (v !== undefined && Number.isFinite(v) ? (100 * v).toFixed(1) : 'n/a');

export function table1CellText(c: Table1Cell | undefined): string {
  if (!c || !Number.isFinite(c.value)) return 'n/a';
  if (c.n !== undefined && c.n > 1) return `${pct(c.value)} ± ${pct(c.std)} (n=${c.n})`;
  if (c.lo !== undefined && c.hi !== undefined && Number.isFinite(c.lo) && Number.isFinite(c.hi)) return `${pct(c.value)} [${pct(c.lo)}, ${pct(c.hi)}]`;
  return pct(c.value);
}

/** Markdown lines of the table: one column per method (labels already escaped for table cells). */
export function table1Markdown(methods: ReadonlyArray<{ label: string; cells: Readonly<Record<string, Table1Cell>> }>): string[] {
  return [
    `| Metric (%) | ${methods.map((m) => m.label).join(' | ')} |`,
    `|---|${methods.map(() => '---:').join('|')}|`,
    ...TABLE1_ROWS.map(([key, name]) => `| ${name} | ${methods.map((m) => table1CellText(m.cells[key])).join(' | ')} |`),
  ];
}

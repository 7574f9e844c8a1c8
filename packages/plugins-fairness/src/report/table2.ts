/**
 * The FairTune paper's Table 2 (its ablation of the search objective and space) as report.compare
 * lays it out: one row per variant (objective × mask space), columns overall AUC, worst-group AUC
 * and AUC gap in percent. The paper prints averages over datasets, transposed (variants as
 * columns); here a row per variant keeps the objective and space readable beside each cell, and
 * every cell keeps its uncertainty (bootstrap CI for one run, mean ± std over seeds).
 */
import { table1CellText, type Table1Cell } from './table1.js';

/** One row as a pipeline declares it: the metrics label (eval.metrics `label`) and what it varies. */
export interface Table2Row {
  readonly method: string;
  readonly objective: string;
  readonly space: string;
}

export const TABLE2_COLUMNS: ReadonlyArray<readonly [key: string, label: string]> = [
  ['overall.auc', 'Overall AUC ↑'],
  ['overall.minAuc', 'Worst-group AUC ↑'],
  ['overall.aucGap', 'AUC gap ↓'],
];

/**
 * Markdown lines of the table, rows in the declared order. A declared row with no metrics is kept
 * with n/a cells (and named in the returned `missing`), so a variant that did not run is visible
 * rather than silently dropped.
 */
export function table2Markdown(rows: readonly Table2Row[], cellsOf: (method: string) => Readonly<Record<string, Table1Cell>> | undefined, esc: (s: string) => string = (s) => s.replace(/\|/g, '\\|')): { lines: string[]; missing: string[] } {
  const missing = rows.filter((r) => !cellsOf(r.method)).map((r) => r.method);
  return {
    lines: [
      `| Variant | Objective | Space | ${TABLE2_COLUMNS.map(([, l]) => l).join(' | ')} |`,
      `|---|---|---|${TABLE2_COLUMNS.map(() => '---:').join('|')}|`,
      ...rows.map((r) => {
        const c = cellsOf(r.method);
        return `| ${esc(r.method)} | ${esc(r.objective)} | ${esc(r.space)} | ${TABLE2_COLUMNS.map(([k]) => table1CellText(c?.[k])).join(' | ')} |`;
      }),
    ],
    missing,
  };
}

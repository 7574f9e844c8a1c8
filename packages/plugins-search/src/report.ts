/**
 * The search report (report.md + trajectory.svg + components.svg): the optimisation trajectory
 * (objective per trial and best so far, pruned trials marked, epochs each trial trained), how often
 * each block component is selected among the top trials (the ICLR paper's Figure 4, as a table and
 * as a blocks × components heat map), and the best trial against the baseline masks on the
 * validation objective.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FrozenTrial, StudyView } from '@fairtune/core/plugin';

export interface SearchReportInput {
  readonly view: StudyView;
  readonly objective: string;
  /** Trial number → its bindings (mask bit strings, learning rate, …). */
  readonly bindings: ReadonlyMap<number, Readonly<Record<string, unknown>>>;
  /** Mask bindings and their bit counts. */
  readonly masks: ReadonlyMap<string, number>;
  /** Bits a block of each mask binding (absent: 3, FairTune's norm / attention / MLP layout). */
  readonly perBlock?: ReadonlyMap<string, 1 | 3>;
  /** Share of the backbone the best model trains, when known. */
  readonly bestTrainableShare?: number;
  readonly bestNumber: number;
  /** How many of the best complete trials the component frequencies count. */
  readonly top: number;
}

const COMPONENTS = ['norm', 'attention', 'mlp'];

/** Writes report.md, trajectory.svg and (when the space has masks) components.svg into `dir`; returns their paths by file name. */
export function writeSearchReport(dir: string, r: SearchReportInput): Record<string, string> {
  const freqs = componentFrequencies(r);
  const md = [`# Search: ${r.view.name}`, '', ...trajectorySection(r), ...frequencySection(freqs), ...baselineSection(r)].join('\n');
  const files: Record<string, string> = { 'report.md': join(dir, 'report.md'), 'trajectory.svg': join(dir, 'trajectory.svg') };
  writeFileSync(files['report.md']!, md);
  writeFileSync(files['trajectory.svg']!, trajectorySvg(r));
  if (freqs.length) {
    files['components.svg'] = join(dir, 'components.svg');
    writeFileSync(files['components.svg'], componentsSvg(freqs));
  }
  return files;
}

function fmt(v: number | undefined, digits = 4): string {
  return v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits);
}

function better(direction: StudyView['direction'], a: number, b: number): boolean {
  return direction === 'minimize' ? a < b : a > b;
}

function trajectorySection(r: SearchReportInput): string[] {
  const { view } = r;
  let best: number | undefined;
  const rows = view.trials.map((t) => {
    if (t.state === 'COMPLETE' && t.value !== undefined && (best === undefined || better(view.direction, t.value, best))) best = t.value;
    const b = r.bindings.get(t.number) ?? {};
    return `| ${t.number} | ${t.state.toLowerCase()} | ${fmt(t.value)} | ${fmt(best)} | ${t.intermediateValues.size} | ${Object.entries(b).map(([k, v]) => `${k} ${typeof v === 'number' && !Number.isInteger(v) ? v.toPrecision(3) : String(v)}`).join(', ')} |`;
  });
  const epochs = view.trials.reduce((s, t) => s + t.intermediateValues.size, 0);
  const full = Math.max(0, ...view.trials.map((t) => t.intermediateValues.size)) * view.trials.filter((t) => t.state !== 'FAIL').length;
  return [
    `Objective: ${r.objective} (${view.direction}). ${view.trials.length} trials: ${count(view, 'COMPLETE')} complete, ${count(view, 'PRUNED')} pruned, ${count(view, 'FAIL')} failed; ${epochs} epochs reported${full ? ` (${full} without pruning)` : ''}.`,
    '',
    '![trajectory](trajectory.svg)',
    '',
    '## Trajectory',
    '',
    '| trial | state | value | best so far | epochs | values |',
    '|---:|---|---:|---:|---:|---|',
    ...rows,
    '',
  ];
}

function count(view: StudyView, state: FrozenTrial['state']): number {
  return view.trials.filter((t) => t.state === state).length;
}

/** One mask binding's component frequencies among the top trials: `share[block][column]`, undefined past the last bit. */
export interface ComponentFrequencies {
  readonly name: string;
  readonly columns: readonly string[];
  /** How many trials the shares count. */
  readonly top: number;
  readonly share: ReadonlyArray<ReadonlyArray<number | undefined>>;
}

/** The top complete trials by the objective, and per mask binding the share of them training each block component. */
export function componentFrequencies(r: SearchReportInput): ComponentFrequencies[] {
  if (!r.masks.size) return [];
  const complete = r.view.trials.filter((t) => t.state === 'COMPLETE' && t.value !== undefined).sort((a, b) => (better(r.view.direction, a.value!, b.value!) ? -1 : 1));
  const top = complete.slice(0, Math.max(1, Math.min(r.top, complete.length)));
  return [...r.masks].map(([name, bits]) => {
    // One bit a block (Table 2's spaces) has one column; FairTune's layout three.
    const per = r.perBlock?.get(name) ?? 3;
    const columns = per === 3 ? COMPONENTS : ['trained'];
    const blocks = Math.ceil(bits / per);
    const share = Array.from({ length: blocks }, (_, b) =>
      columns.map((_c, c) => {
        const i = per * b + c;
        if (i >= bits || !top.length) return undefined;
        return top.filter((t) => String(r.bindings.get(t.number)?.[name] ?? '')[i] === '1').length / top.length;
      }),
    );
    return { name, columns, top: top.length, share };
  });
}

function frequencySection(freqs: readonly ComponentFrequencies[]): string[] {
  const out: string[] = [];
  freqs.forEach(({ name, columns, top, share }, k) => {
    out.push(
      `## How often the top ${top} trials train each component of \`${name}\``,
      '',
      'Share of the best complete trials (by the objective) whose mask trains that block component (the ICLR paper\'s Figure 4).',
      '',
      // One figure holds every mask binding's panel, so it is linked once, under the first.
      ...(k === 0 ? ['![component frequencies among the top trials](components.svg)', ''] : []),
      `| block | ${columns.join(' | ')} |`,
      `|---:|${columns.map(() => '---:').join('|')}|`,
      ...share.map((row, b) => `| ${b} | ${row.map((f) => (f === undefined ? '' : `${Math.round(f * 100)} %`)).join(' | ')} |`),
      '',
    );
  });
  return out;
}

function baselineSection(r: SearchReportInput): string[] {
  const byValue = (t: FrozenTrial) => fmt(t.value);
  const best = r.view.trials.find((t) => t.number === r.bestNumber);
  if (!best || !r.masks.size) return [];
  const [name] = [...r.masks.keys()];
  const bits = r.masks.get(name!)!;
  // The named layouts are 3-bit-a-block patterns; in a one-bit-a-block space only "all" and "none" mean anything.
  const threeBit = (r.perBlock?.get(name!) ?? 3) === 3;
  const named: Record<string, string> = threeBit
    ? { full: '1'.repeat(bits), 'linear readout': '0'.repeat(bits), attention: pattern(bits, 1), 'norm only': pattern(bits, 0) }
    : { 'every block': '1'.repeat(bits), 'no block (head only)': '0'.repeat(bits) };
  const rows = Object.entries(named).map(([label, bitsText]) => {
    const t = r.view.trials.find((x) => String(r.bindings.get(x.number)?.[name!] ?? '') === bitsText && x.state === 'COMPLETE');
    return `| ${label} | ${bitsText} | ${t ? byValue(t) : 'not run to completion'} |`;
  });
  return [
    '## The best trial against the baseline masks (validation objective)',
    '',
    '| mask | bits | value |',
    '|---|---|---:|',
    `| best (trial ${best.number}) | ${String(r.bindings.get(best.number)?.[name!] ?? '')} | ${byValue(best)} |`,
    ...rows,
    '',
    ...(r.bestTrainableShare !== undefined ? [`The best model trains ${(100 * r.bestTrainableShare).toFixed(1)} % of its parameters.`, ''] : []),
    'Test-set figures of the best model are in the pipeline\'s evaluation and report stages.',
    '',
  ];
}

function pattern(bits: number, component: number): string {
  return Array.from({ length: bits }, (_, i) => (i % 3 === component ? '1' : '0')).join('');
}

/** Objective per trial (filled: complete, hollow: pruned, cross: failed) and the best-so-far line. */
export function trajectorySvg(r: SearchReportInput): string {
  const W = 640;
  const H = 320;
  const m = { l: 60, r: 20, t: 20, b: 40 };
  const trials = r.view.trials;
  const values = trials.map((t) => t.value ?? [...t.intermediateValues.values()].at(-1)).filter((v): v is number => v !== undefined && Number.isFinite(v));
  const lo = values.length ? Math.min(...values) : 0;
  const hi = values.length ? Math.max(...values) : 1;
  const span = hi - lo || 1;
  const x = (n: number) => m.l + ((W - m.l - m.r) * (n + 0.5)) / Math.max(1, trials.length);
  const y = (v: number) => m.t + (H - m.t - m.b) * (1 - (v - (lo - 0.05 * span)) / (1.1 * span));
  const marks: string[] = [];
  let best: number | undefined;
  const line: string[] = [];
  for (const t of trials) {
    const v = t.value ?? [...t.intermediateValues.values()].at(-1);
    if (t.state === 'COMPLETE' && t.value !== undefined && (best === undefined || better(r.view.direction, t.value, best))) best = t.value;
    if (best !== undefined) line.push(`${x(t.number).toFixed(1)},${y(best).toFixed(1)}`);
    if (v === undefined || !Number.isFinite(v)) {
      marks.push(`<text x="${x(t.number).toFixed(1)}" y="${(H - m.b - 4).toFixed(1)}" font-size="11" text-anchor="middle" fill="#b00">×</text>`);
      continue;
    }
    const fill = t.state === 'COMPLETE' ? '#1f77b4' : 'none';
    marks.push(`<circle cx="${x(t.number).toFixed(1)}" cy="${y(v).toFixed(1)}" r="4" fill="${fill}" stroke="#1f77b4" stroke-width="1.5"><title>trial ${t.number} ${t.state.toLowerCase()}: ${v.toFixed(4)}</title></circle>`);
  }
  const ticks = [lo, lo + span / 2, hi].map((v) => `<text x="${m.l - 6}" y="${y(v).toFixed(1)}" font-size="11" text-anchor="end" dominant-baseline="middle">${v.toFixed(3)}</text>`);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="#333"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="#333"/>`,
    ...ticks,
    `<text x="${(W + m.l) / 2}" y="${H - 8}" font-size="12" text-anchor="middle">trial (filled: complete, hollow: pruned, ×: failed; line: best so far)</text>`,
    `<text x="14" y="${H / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${H / 2})">${escapeXml(r.objective)}</text>`,
    line.length > 1 ? `<polyline points="${line.join(' ')}" fill="none" stroke="#d62728" stroke-width="1.5"/>` : '',
    ...marks,
    '</svg>',
    '',
  ].join('\n');
}

/** White (0) to the trajectory's blue (1), so that a share reads as depth of colour. */
function shade(f: number): string {
  const mix = (to: number) => Math.round(255 + (to - 255) * Math.min(1, Math.max(0, f)));
  return `rgb(${mix(0x1f)},${mix(0x77)},${mix(0xb4)})`;
}

/**
 * Figure 4 as a heat map: one panel per mask binding, blocks down (block 0 at the top, as the
 * report's table), components across, each cell shaded by the share of the top trials that train
 * it and labelled with it (percent in the cell, the exact count in its title). Cells past the last
 * bit of a mask are left out rather than drawn as 0 %, which would claim they were never chosen.
 */
export function componentsSvg(freqs: readonly ComponentFrequencies[]): string {
  const cw = 72;
  const ch = 22;
  const m = { l: 56, t: 46, b: 36, gap: 40 };
  const panels = freqs.map((f) => ({ f, w: f.columns.length * cw }));
  const W = m.l + panels.reduce((s, p) => s + p.w + m.gap, 0);
  const H = m.t + Math.max(1, ...freqs.map((f) => f.share.length)) * ch + m.b;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
  ];
  let x0 = m.l;
  for (const { f, w } of panels) {
    out.push(`<g data-mask="${escapeXml(f.name)}">`);
    out.push(`<text x="${x0 + w / 2}" y="14" font-size="12" text-anchor="middle">${escapeXml(f.name)} (top ${f.top} trials)</text>`);
    f.columns.forEach((c, ci) => out.push(`<text x="${x0 + ci * cw + cw / 2}" y="${m.t - 8}" font-size="11" text-anchor="middle">${escapeXml(c)}</text>`));
    f.share.forEach((row, b) => {
      const y = m.t + b * ch;
      out.push(`<text x="${x0 - 6}" y="${y + ch / 2}" font-size="11" text-anchor="end" dominant-baseline="middle">${b}</text>`);
      row.forEach((v, ci) => {
        if (v === undefined) return;
        const x = x0 + ci * cw;
        const pct = `${Math.round(v * 100)} %`;
        out.push(
          `<rect x="${x}" y="${y}" width="${cw}" height="${ch}" fill="${shade(v)}" stroke="#ccc" data-block="${b}" data-component="${escapeXml(f.columns[ci]!)}" data-share="${v.toFixed(4)}"><title>block ${b} ${escapeXml(f.columns[ci]!)}: ${pct} (${Math.round(v * f.top)} of ${f.top})</title></rect>`,
          // Dark text on light cells, white on dark ones.
          `<text x="${x + cw / 2}" y="${y + ch / 2}" font-size="11" text-anchor="middle" dominant-baseline="middle" fill="${v > 0.55 ? 'white' : '#222'}">${pct}</text>`,
        );
      });
    });
    out.push('</g>');
    x0 += w + m.gap;
  }
  out.push(`<text x="${m.l}" y="${H - 12}" font-size="11">rows: block; cells: share of the top trials whose mask trains that component (white 0 %, blue 100 %)</text>`);
  out.push('</svg>', '');
  return out.join('\n');
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

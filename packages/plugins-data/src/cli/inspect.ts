/**
 * `fairtune data inspect <path> [--json]`: describes a WFDB record (`.hea` path or record
 * name), a pickle, or a dataset root (DaLiA, BUT-PPG, MIMIC matched subset), verifying every
 * checksum the format carries. Exit codes: 0 ok, 1 unreadable data, 2 bad usage.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { injectable, multiInject, optional } from 'inversify';
import { DATASET_INSPECTOR, UsageError, type CliCommand, type CliIO, type DatasetInspector } from '@fairtune/core/plugin';
import { readRecord, WfdbError } from '../formats/wfdb/index.js';
import { isNdArray, openPickle, pyString, PickleError } from '../formats/pickle/index.js';
import { listDaliaSubjects, readDaliaSubject } from '../loaders/dalia.js';
import { butPpgSignal, indexButPpg } from '../loaders/but-ppg.js';
import { listMimicSubjects, subjectIdOf } from '../loaders/mimic.js';
import { readCsvTable } from '../loaders/csv.js';
import { inspectImagingRoot, isImagingRoot } from './inspect-imaging.js';
import { FITZPATRICK_CSV } from '../loaders/fitzpatrick17k.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export function inspectWfdb(path: string, cwd: string): Json {
  const rec = readRecord(path, cwd);
  return {
    kind: 'wfdb-record',
    name: rec.name,
    fs: rec.fs,
    segments: rec.nSegments,
    signals: rec.channels.map((c) => ({ name: c.name, fs: c.fs, samples: c.physical.length, units: c.units, checksumOk: c.checksumOk })),
  };
}

function describePy(v: unknown, depth = 0): Json {
  if (isNdArray(v)) return { ndarray: { dtype: v.dtype?.name ?? '?', shape: v.shape } };
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return v as Json;
  const s = pyString(v);
  if (s !== undefined) return s.length > 80 ? `${s.slice(0, 77)}...` : s;
  if (Array.isArray(v)) return depth > 3 ? `list(${v.length})` : v.slice(0, 10).map((x) => describePy(x, depth + 1));
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, describePy(x, depth + 1)]));
  return String(v);
}

export function inspectPickle(path: string): Json {
  const doc = openPickle(path);
  try {
    return { kind: 'pickle', path, bytes: doc.size, content: describePy(doc.root) };
  } finally {
    doc.close();
  }
}

function counts(values: readonly (string | number | null)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[String(v)] = (out[String(v)] ?? 0) + 1;
  return out;
}

function inspectDalia(root: string): Json {
  const subjects = listDaliaSubjects(root);
  const rows = subjects.map((id) => {
    const s = readDaliaSubject(root, id, false);
    return {
      id,
      sex: s.attributes['sex'] ?? null,
      age: s.attributes['age'] ?? null,
      skinType: s.attributes['skinType'] ?? null,
      signals: [
        { name: 'ppg', fs: 64, samples: s.bvp.length },
        { name: 'acc', fs: 32, samples: s.acc.length / 3 },
      ],
      labels: { hr: s.label.length, activity: s.activity.length },
    } as Json;
  });
  const r = rows as { sex: string | null; skinType: number | null }[];
  return { kind: 'dataset', dataset: 'dalia', root, subjects: rows, attributeCounts: { sex: counts(r.map((x) => x.sex)), skinType: counts(r.map((x) => x.skinType)) } };
}

function inspectButPpg(root: string): Json {
  const idx = indexButPpg(root, false);
  let checksumsOk = true;
  const bySubject = new Map<string, { records: number; samples: number; fs: number }>();
  for (const id of idx.records) {
    const rec = readRecord(join(root, id, `${id}_PPG`));
    if (rec.channels.some((c) => !c.checksumOk)) checksumsOk = false;
    const s = butPpgSignal(rec, 'PPG_R');
    const e = bySubject.get(id.slice(0, 3)) ?? { records: 0, samples: 0, fs: s.fs };
    e.records++;
    e.samples += s.values.length;
    bySubject.set(id.slice(0, 3), e);
  }
  const q = [...idx.quality.values()];
  return {
    kind: 'dataset',
    dataset: 'but-ppg',
    root,
    records: idx.records.length,
    checksumsOk,
    subjects: [...bySubject].map(([id, e]) => ({ id, records: e.records, signals: [{ name: 'ppg', fs: e.fs, samples: e.samples }] })),
    labelCounts: { quality: counts(q.map((x) => x.quality)), hr: q.filter((x) => Number.isFinite(x.hr)).length },
    // Rows the loader would reject (empty or invalid HR/Quality cells), named so they can be fixed.
    ...(q.some((x) => x.problem) ? { problems: q.filter((x) => x.problem).map((x) => `quality-hr-ann.csv: ${x.problem!}`) } : {}),
    attributeCounts: { sex: counts([...idx.info.values()].map((r) => r['gender'] ?? null)) },
  };
}

function inspectMimic(root: string): Json {
  const rels = listMimicSubjects(root);
  const patients = existsSync(join(root, 'PATIENTS.csv')) ? readCsvTable(join(root, 'PATIENTS.csv')).rows : [];
  return {
    kind: 'dataset',
    dataset: 'mimic',
    root,
    subjects: rels.map((r) => ({ id: subjectIdOf(r), dir: r })),
    attributeCounts: { sex: counts(patients.filter((p) => rels.some((r) => subjectIdOf(r) === String(Number(p['subject_id'])))).map((p) => p['gender'] ?? null)) },
  };
}

/**
 * The dataset roots this package describes, as DATASET_INSPECTORs (bound in index.ts, so other
 * packages' inspectors follow them). The guards keep the order in which
 * the folder checks ran before inspectors existed: imaging, BUT-PPG, DaLiA, MIMIC.
 */
export const BUILTIN_INSPECTORS: readonly DatasetInspector[] = [
  { format: 'DaLiA', canInspect: (abs) => !isImagingRoot(abs) && !isButPpgRoot(abs) && (existsSync(join(abs, 'PPG_FieldStudy')) || listSafe(() => listDaliaSubjects(abs)).length > 0), inspect: (abs) => inspectDalia(existsSync(join(abs, 'PPG_FieldStudy')) ? join(abs, 'PPG_FieldStudy') : abs) },
  { format: 'BUT-PPG', canInspect: (abs) => !isImagingRoot(abs) && isButPpgRoot(abs), inspect: inspectButPpg },
  { format: 'MIMIC', canInspect: (abs) => !isImagingRoot(abs) && listSafe(() => listMimicSubjects(abs)).length > 0, inspect: inspectMimic },
  { format: 'Fitzpatrick17k', canInspect: (abs) => existsSync(join(abs, FITZPATRICK_CSV)), inspect: inspectImagingRoot },
  { format: 'HAM10000', canInspect: (abs) => isImagingRoot(abs), inspect: inspectImagingRoot },
];

function isButPpgRoot(abs: string): boolean {
  return existsSync(join(abs, 'quality-hr-ann.csv')) || existsSync(join(abs, 'subject-info.csv'));
}

function formatList(inspectors: readonly DatasetInspector[]): string {
  const names = inspectors.map((i) => i.format);
  return names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)!}` : names.join('');
}

/** Works out what `path` is and describes it; dataset folders go to the first inspector that recognises them. */
export function inspectPath(path: string, cwd: string, inspectors: readonly DatasetInspector[] = BUILTIN_INSPECTORS): Json {
  const abs = resolve(cwd, path);
  if (existsSync(abs) && statSync(abs).isDirectory()) {
    const inspector = inspectors.find((i) => i.canInspect(abs));
    if (inspector) return inspector.inspect(abs) as Json;
    throw new UsageError(`${abs}: not a ${formatList(inspectors)} dataset root, WFDB record or pickle`);
  }
  if (abs.endsWith('.pkl') || abs.endsWith('.pickle')) return inspectPickle(abs);
  if (abs.endsWith('.hea') || existsSync(`${abs}.hea`)) return inspectWfdb(abs, cwd);
  if (!existsSync(abs)) throw new WfdbError(abs.endsWith('.hea') ? abs : `${abs}.hea`, 'no such record, pickle or directory', 'FT_DATA_MISSING');
  throw new UsageError(`${abs}: not a WFDB header (.hea), pickle (.pkl) or dataset directory`);
}

function listSafe(f: () => string[]): string[] {
  try {
    return f();
  } catch {
    return [];
  }
}

/** Text for people: tables for records and dataset roots, an indented outline for the rest. */
function human(j: Json): string {
  const o = j as { kind?: string } & Record<string, Json>;
  if (o && o.kind === 'wfdb-record') {
    const sigs = o['signals'] as { name: string; fs: number; samples: number; units: string; checksumOk: boolean }[];
    return [
      `WFDB record ${String(o['name'])}: ${String(o['fs'])} Hz, ${String(o['segments'])} segment(s)`,
      table(['signal', 'Hz', 'samples', 'units', 'checksum'], sigs.map((s) => [s.name, String(s.fs), String(s.samples), s.units, s.checksumOk ? 'ok' : 'MISMATCH'])),
    ].join('\n');
  }
  if (o && o.kind === 'dataset' && Array.isArray(o['subjects'])) {
    const subjects = o['subjects'] as Record<string, Json>[];
    const attrs = [...new Set(subjects.flatMap((s) => Object.keys(s).filter((k) => !['id', 'signals', 'labels', 'records'].includes(k) && (s[k] === null || typeof s[k] !== 'object'))))];
    const fmtSignals = (v: Json) => (Array.isArray(v) ? (v as { name: string; fs: number; samples: number }[]).map((x) => `${x.name} ${x.fs} Hz × ${x.samples}`).join(', ') : '');
    const fmtLabels = (v: Json) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.entries(v).map(([k, n]) => `${k} ${String(n)}`).join(', ') : '');
    const rows = subjects.map((s) => [String(s['id']), ...attrs.map((a) => String(s[a] ?? '')), fmtSignals(s['signals'] ?? null), fmtLabels(s['labels'] ?? null)]);
    const rest = Object.fromEntries(Object.entries(o).filter(([k]) => k !== 'subjects')) as Json;
    return [outline(rest), `${subjects.length} subjects:`, table(['subject', ...attrs, 'signals', 'labels (count)'], rows)].join('\n');
  }
  return outline(j);
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function outline(j: Json, indent = ''): string {
  if (j === null || typeof j !== 'object') return String(j);
  if (Array.isArray(j)) return j.map((x) => `${indent}- ${typeof x === 'object' && x !== null ? '\n' + outline(x, indent + '    ') : String(x)}`).join('\n');
  return Object.entries(j)
    .map(([k, v]) => (v !== null && typeof v === 'object' ? `${indent}${k}:\n${outline(v, indent + '  ')}` : `${indent}${k}: ${String(v)}`))
    .join('\n');
}

@injectable()
export class DataCommand implements CliCommand {
  readonly name = 'data';
  /** Every bound DATASET_INSPECTOR (this package's first); the built-in ones when constructed by hand. */
  readonly #inspectors: readonly DatasetInspector[];

  constructor(@multiInject(DATASET_INSPECTOR) @optional() inspectors?: DatasetInspector[]) {
    this.#inspectors = inspectors?.length ? inspectors : BUILTIN_INSPECTORS;
  }

  readonly summary = 'Inspect datasets, WFDB records and pickles (fairtune data inspect <path> [--json])';
  readonly usage = [
    'Usage: fairtune data inspect <path> [--json]',
    '',
    '  <path>   a WFDB record (.hea path or record name), a pickle (.pkl), or a dataset root',
    '           (PPG_FieldStudy, BUT-PPG release, MIMIC-III matched subset, Fitzpatrick17k with',
    '           fitzpatrick17k.csv, HAM10000 with HAM10000_metadata.csv)',
    '           or a dataset folder of a format a plugin package adds (load it with --plugin <package>)',
    '  --json   print JSON instead of text',
    '',
    'Verifies every checksum the format carries. Exit codes: 0 ok, 1 unreadable data, 2 bad usage.',
  ].join('\n');

  async run(argv: readonly string[], io: CliIO): Promise<number> {
    const args = [...argv];
    const json = args.includes('--json');
    const rest = args.filter((a) => a !== '--json');
    if (rest[0] === '--help' || rest[0] === '-h') {
      io.stdout.write(this.usage + '\n');
      return 0;
    }
    if (rest[0] !== 'inspect' || rest.length !== 2 || rest[1]!.startsWith('-')) {
      io.stderr.write(`fairtune data: expected "inspect <path> [--json]", got "${argv.join(' ')}"\n${this.usage}\n`);
      return 2;
    }
    try {
      const out = inspectPath(rest[1]!, io.cwd, this.#inspectors);
      io.stdout.write(json ? JSON.stringify(out, null, 2) + '\n' : human(out) + '\n');
      const sigs = (out as { signals?: { checksumOk?: boolean; name: string }[] }).signals;
      const badSig = Array.isArray(sigs) ? sigs.filter((s) => s.checksumOk === false) : [];
      const badDs = (out as { checksumsOk?: boolean }).checksumsOk === false;
      if (badSig.length || badDs) {
        io.stderr.write(`${basename(rest[1]!)}: checksum mismatch${badSig.length ? ` in ${badSig.map((s) => s.name).join(', ')}` : ''}\n`);
        return 1;
      }
      return 0;
    } catch (err) {
      if (err instanceof UsageError) {
        io.stderr.write(`${err.message}\n`);
        return 2;
      }
      const msg = err instanceof WfdbError || err instanceof PickleError || err instanceof Error ? err.message : String(err);
      io.stderr.write(`fairtune data inspect: cannot read ${msg}\n`);
      return 1;
    }
  }
}

/**
 * `fairtune data inspect` for the imaging roots (Fitzpatrick17k, HAM10000): what the loader
 * would keep after its rules, label and attribute counts, dropped rows by reason, and how many
 * listed images are missing. Reads the CSV and lists the image folders; decodes nothing.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { groupKey } from '@fairtune/core/plugin';
import { FITZPATRICK_CSV, locateFitzpatrickImages, readFitzpatrickTable, skinTypeGroup } from '../loaders/fitzpatrick17k.js';
import { HAM_CSV, locateHamImages, MEDFAIR_MALIGNANT, readHamTable } from '../loaders/ham10000.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function counts(values: readonly (string | number | null)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[String(v)] = (out[String(v)] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

export function isImagingRoot(root: string): boolean {
  return existsSync(join(root, FITZPATRICK_CSV)) || existsSync(join(root, HAM_CSV));
}

export function inspectImagingRoot(root: string): Json {
  if (existsSync(join(root, FITZPATRICK_CSV))) {
    const t = readFitzpatrickTable(root);
    const located = locateFitzpatrickImages(root, t.rows);
    const positives = t.rows.filter((r) => r.malignant).length;
    return {
      kind: 'dataset',
      dataset: 'fitzpatrick17k',
      root,
      images: t.rows.length,
      labels: { malignant: positives, other: t.rows.length - positives },
      attributeCounts: { skinType: counts(t.rows.map((r) => skinTypeGroup(r.fitzpatrick))), fitzpatrick: counts(t.rows.map((r) => r.fitzpatrick)) },
      dropped: t.dropped,
      missingImages: located.filter((p) => p === null).length,
    };
  }
  const t = readHamTable(root);
  const located = locateHamImages(root, t.rows);
  const positives = t.rows.filter((r) => MEDFAIR_MALIGNANT.includes(r.dx)).length;
  const key = (r: (typeof t.rows)[number], attrs: string[]) => groupKey({ sex: r.sex, age: r.age }, attrs);
  return {
    kind: 'dataset',
    dataset: 'ham10000',
    root,
    images: t.rows.length,
    lesions: new Set(t.rows.map((r) => r.lesionId)).size,
    labels: { malignant: positives, other: t.rows.length - positives },
    attributeCounts: {
      age: counts(t.rows.map((r) => key(r, ['age']))),
      sex: counts(t.rows.map((r) => key(r, ['sex']))),
      'sex|age': counts(t.rows.map((r) => key(r, ['sex', 'age']))),
      dx: counts(t.rows.map((r) => r.dx)),
    },
    dropped: t.dropped,
    missingImages: located.filter((p) => p === null).length,
  };
}

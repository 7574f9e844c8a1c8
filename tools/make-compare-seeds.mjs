#!/usr/bin/env node
/**
 * Writes pipelines/dalia-compare-seeds.json from pipelines/dalia-compare.json: the subject split,
 * the backbone's initialisation and everything downstream of them (pretraining, the fine-tunes,
 * transfer, metrics) repeated for
 * several replicates, each stage id suffixed `-r<k>` and given the replicate's seed; the data stages stay shared (cached once); each report takes every replicate's
 * metrics, which report.compare aggregates per method as mean ± std across seeds.
 *
 *   node tools/make-compare-seeds.mjs   (tools/check-pipelines.mjs fails when the file is stale; --write there regenerates it too)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Replicate seeds after the first, which is dalia-compare's own seed. */
const MORE_SEEDS = [11, 3, 19, 23];
/** The replicated stages: these and everything downstream (the backbone's initial weights vary too). */
const ROOTS = ['dalia-split', 'backbone'];

/** The text of pipelines/dalia-compare-seeds.json as generated from pipelines/dalia-compare.json. */
export function compareSeedsPipeline() {
  const source = JSON.parse(readFileSync(join(root, 'pipelines/dalia-compare.json'), 'utf8'));
  const SEEDS = [source.seed ?? 0, ...MORE_SEEDS];
  const refs = (inputs) => Object.values(inputs ?? {}).flatMap((v) => (Array.isArray(v) ? v : [v])).map((r) => r.split('.')[0]);
  const isReport = (s) => s.type.startsWith('report.');

  // The roots and every stage downstream of them, reports aside.
  const replicated = new Set(ROOTS);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [id, s] of Object.entries(source.stages)) {
      if (!replicated.has(id) && !isReport(s) && refs(s.inputs).some((r) => replicated.has(r))) {
        replicated.add(id);
        grew = true;
      }
    }
  }
  const rename = (ref, k) => {
    const [id, ...port] = ref.split('.');
    return replicated.has(id) ? [`${id}-r${k}`, ...port].join('.') : ref;
  };
  const mapInputs = (inputs, k) => Object.fromEntries(Object.entries(inputs ?? {}).map(([p, v]) => [p, Array.isArray(v) ? v.map((r) => rename(r, k)) : rename(v, k)]));

  const stages = {};
  for (const [id, s] of Object.entries(source.stages)) if (!replicated.has(id) && !isReport(s)) stages[id] = s;
  SEEDS.forEach((seed, i) => {
    const k = i + 1;
    for (const id of replicated) {
      const s = structuredClone(source.stages[id]);
      // A stage-level seed (the pipeline seed otherwise): the split, pretraining, fine-tunes and
      // bootstraps of a replicate all draw from it; replicate 1 (the pipeline seed) is
      // dalia-compare itself and shares its cache entries.
      s.seed = seed;
      if (s.inputs) s.inputs = mapInputs(s.inputs, k);
      stages[`${id}-r${k}`] = s;
    }
  });
  for (const [id, s] of Object.entries(source.stages)) {
    if (!isReport(s)) continue;
    const r = structuredClone(s);
    r.inputs = Object.fromEntries(Object.entries(s.inputs).map(([p, v]) => [p, (Array.isArray(v) ? v : [v]).flatMap((ref) => (replicated.has(ref.split('.')[0]) ? SEEDS.map((_, i) => rename(ref, i + 1)) : [ref]))]));
    // Embedding projections and curves: the first replicate only (one panel per method).
    for (const p of ['embeddings', 'curves']) if (r.inputs[p]) r.inputs[p] = r.inputs[p].filter((ref) => ref.split('.')[0].endsWith('-r1'));
    r.params = { ...r.params, title: `${s.params.title} (${SEEDS.length} seeds)` };
    stages[id] = r;
  }
  const out = {
    $schema: source.$schema,
    name: 'dalia-compare-seeds',
    description: `${source.description}; the split, backbone initialisation, pretraining and fine-tunes repeated for seeds ${SEEDS.join(', ')}, reported as mean ± std across seeds. Generated from dalia-compare.json by tools/make-compare-seeds.mjs: edit that file and regenerate.`,
    seed: source.seed,
    stages,
  };
  return JSON.stringify(out, null, 2) + '\n';
}

export const COMPARE_SEEDS_FILE = 'pipelines/dalia-compare-seeds.json';

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(join(root, COMPARE_SEEDS_FILE), compareSeedsPipeline());
  console.log(`wrote ${COMPARE_SEEDS_FILE}`);
}

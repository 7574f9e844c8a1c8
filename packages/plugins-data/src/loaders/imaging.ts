/**
 * What the two imaging loaders share: params (image geometry and normalisation, the policy for
 * missing or unreadable images, the synthetic fallback), finding image files by id whatever the
 * case and extension, decoding every image with bounded concurrency into one uint8 tensor, and
 * the `samples` artifact they emit (ImageSpec, per-subject attributes, `dropped` counts).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { artifact, FairtuneError, ndarray, paramError, type AttributeValue, type ImageSpec, type SamplesMeta, type StageEmitter } from '@fairtune/core/plugin';
import { decodeImageInto, decoderName, defaultResize, IMAGENET_MEAN, IMAGENET_STD, pooled } from '../images/decode.js';
import { prefixedError } from '../errors.js';
import { ensureCohortAsync } from '../synthetic/cohort.js';
import { IMAGING_GENERATOR_VERSION } from '../synthetic/imaging-cohorts.js';
import { dataRootState, rootFingerprint, type LoaderParams, type SyntheticMode } from './common.js';

export type MissingImagePolicy = 'error' | 'drop';

export interface ImageLoaderParams<E> {
  root: string;
  synthetic: SyntheticMode;
  size: number;
  resize?: number;
  mean: [number, number, number];
  std: [number, number, number];
  missingImages: MissingImagePolicy;
  concurrency: number;
  syntheticImages: number;
  syntheticImageSize: number;
  syntheticSeed: number;
  groupEffect: E;
}

export function imageLoaderSchema(root: string, groupEffect: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const triple = (d: readonly number[], what: string) => ({ type: 'array', items: { type: 'number' }, minItems: 3, maxItems: 3, default: [...d], description: what });
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      root: { type: 'string', minLength: 1, default: root, description: 'Dataset root directory (environment variables are substituted by the core).' },
      synthetic: { enum: ['auto', 'never', 'always'], default: 'auto', description: 'auto: generate a synthetic cohort in the published format when root does not exist.' },
      size: { type: 'integer', minimum: 8, maximum: 1024, default: 224, description: 'Side of the square centre crop (pixels).' },
      resize: { type: 'integer', minimum: 8, maximum: 2048, description: 'Shorter side after resizing, before the crop (default round(size·256/224)).' },
      mean: triple(IMAGENET_MEAN, 'Per-channel mean (0–1 scale) a model subtracts; ImageNet by default.'),
      std: triple(IMAGENET_STD, 'Per-channel standard deviation (0–1 scale) a model divides by; ImageNet by default.'),
      missingImages: { enum: ['error', 'drop'], default: 'error', description: 'A row whose image is missing or unreadable: fail naming it, or drop it and count it in meta.dropped.' },
      concurrency: { type: 'integer', minimum: 1, maximum: 64, default: 4, description: 'Images decoded at once.' },
      syntheticImages: { type: 'integer', minimum: 20, maximum: 100000, default: 1200, description: 'Images in the synthetic cohort.' },
      syntheticImageSize: { type: 'integer', minimum: 16, maximum: 1024, default: 64, description: 'Width of the synthetic images (pixels).' },
      syntheticSeed: { type: 'integer', default: 42 },
      groupEffect: { type: 'object', additionalProperties: false, default: Object.fromEntries(Object.entries(groupEffect).map(([k, v]) => [k, (v as { default: unknown }).default])), properties: groupEffect },
      ...extra,
    },
  };
}

/** What the cache key adds for the data root: the files' stat fingerprint, or the imaging generator's version when absent. */
export function imageRootFingerprint<E>(p: ImageLoaderParams<E>): string {
  const fp = rootFingerprint({ root: p.root, synthetic: p.synthetic } as LoaderParams);
  return fp.startsWith('absent:') ? `${fp}:imaging-generator-v${IMAGING_GENERATOR_VERSION}` : fp;
}

export function imagePreflight<E>(dataset: string, p: ImageLoaderParams<E>): string[] {
  const root = resolve(p.root);
  if (p.synthetic === 'always') return [`SYNTHETIC DATA: ${dataset} uses the synthetic cohort (synthetic: 'always'), not ${root}`];
  try {
    if (dataRootState(root) === 'folder') return [];
  } catch (err) {
    return [`${dataset}: ${(err as Error).message}; the run will fail`];
  }
  if (p.synthetic === 'never') return [];
  return [`SYNTHETIC DATA: ${dataset} data root ${root} is absent, so this run uses the synthetic ${dataset}-format cohort (set the root param to use real data)`];
}

/** The real root, or the synthetic cohort (generated once into `.fairtune/synthetic/`). */
export async function resolveImageRoot<E>(dataset: string, p: ImageLoaderParams<E>, emit: StageEmitter, generate: (dir: string) => Promise<unknown>): Promise<{ root: string; synthetic: boolean; note?: string }> {
  const root = resolve(p.root);
  const exists = p.synthetic !== 'always' && dataRootState(root) === 'folder';
  if (p.synthetic === 'never' || (p.synthetic === 'auto' && exists)) {
    if (!exists) throw new FairtuneError('FT_DATA_MISSING', `${dataset}: data root ${root} does not exist (synthetic: 'never'). Point 'root' at the dataset or allow synthetic data.`, { file: root, param: 'root' });
    return { root, synthetic: false };
  }
  const gen = { imagingGenerator: IMAGING_GENERATOR_VERSION, images: p.syntheticImages, imageSize: p.syntheticImageSize, seed: p.syntheticSeed, groupEffect: p.groupEffect };
  emit.log('info', `${dataset}: preparing the synthetic cohort (${p.syntheticImages} images)`);
  const { dir, reused } = await ensureCohortAsync(dataset, gen, async (tmp) => {
    await generate(tmp);
  });
  const why = p.synthetic === 'always' ? "synthetic: 'always'" : `data root ${root} does not exist`;
  const cohort = `the synthetic ${dataset} cohort (${JSON.stringify(gen)}) in ${dir}`;
  emit.log('warn', `SYNTHETIC DATA: ${why}; ${reused ? 'reusing' : 'generated'} ${cohort}`);
  // The meta's note leaves out whether this run generated the cohort or reused it: the data are
  // the same either way, and the output must not depend on what an earlier run left on disk.
  const note = `SYNTHETIC DATA: ${why}; using ${cohort}`;
  return { root: dir, synthetic: true, note };
}

/** Lower-cased file stem (name without a .jpg/.jpeg/.png extension, any case) → path, over `dirs` (first wins). */
export function indexImageFiles(dirs: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const dir of dirs) {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory() || e.name.startsWith('.')) continue;
      const stem = e.name.toLowerCase().replace(/\.(jpe?g|png)$/, '');
      if (!out.has(stem)) out.set(stem, join(dir, e.name));
    }
  }
  return out;
}

/** Sub-folders of `root` whose lower-cased name passes `accept` (one level down too: archives often nest a folder of the same name). */
export function findImageDirs(root: string, accept: (lowerName: string) => boolean): string[] {
  const dirs: string[] = [];
  const visit = (dir: string, depth: number) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if ((e.isDirectory() || (e.isSymbolicLink() && existsSync(p) && statSync(p).isDirectory())) && accept(e.name.toLowerCase())) {
        dirs.push(p);
        if (depth === 0) visit(p, 1);
      }
    }
  };
  visit(root, 0);
  return dirs;
}

/** Error or drop for rows without an image file; returns the kept row indices. */
export function applyMissingPolicy(dataset: string, ids: readonly string[], paths: readonly (string | null)[], policy: MissingImagePolicy, where: string, dropped: Record<string, number>): number[] {
  const missing = ids.filter((_, i) => paths[i] === null);
  if (missing.length && policy === 'error') {
    throw new FairtuneError('FT_DATA_MISSING', `${dataset}: ${missing.length} image(s) listed in ${where} are missing (first: ${missing.slice(0, 5).join(', ')}); add them or set missingImages: 'drop'`, { file: where });
  }
  if (missing.length) dropped['missingImage'] = missing.length;
  return paths.flatMap((p, i) => (p === null ? [] : [i]));
}

/**
 * Decodes `paths` into x uint8 [N, size, size, 3] with `concurrency` in flight, reporting
 * progress. Unreadable images fail the stage (naming the first file and the count) or, with
 * missingImages 'drop', are left out: `kept` lists the indices of `paths` that are in `x`.
 */
export async function decodeAll(paths: readonly string[], p: ImageLoaderParams<unknown>, emit: StageEmitter, dropped: Record<string, number>): Promise<{ x: Uint8Array; kept: number[] }> {
  const g = { size: p.size, resize: p.resize ?? defaultResize(p.size) };
  const per = g.size * g.size * 3;
  const x = new Uint8Array(paths.length * per);
  const every = Math.max(1, Math.floor(paths.length / 100));
  emit.progress(0, paths.length, 'decoding images', 'images');
  const failed = await pooled(
    paths.length,
    p.concurrency,
    (i) => decodeImageInto(paths[i]!, g, x.subarray(i * per, (i + 1) * per)),
    async (done) => {
      if (done % every === 0 || done === paths.length) {
        emit.progress(done, paths.length, 'decoding images', 'images');
        await emit.checkpoint();
      }
    },
  );
  if (failed.size === 0) return { x, kept: paths.map((_, i) => i) };
  const order = [...failed.keys()].sort((a, b) => a - b);
  if (p.missingImages === 'error') {
    const first = failed.get(order[0]!)!;
    // The first failure's code (an unreadable file is FT_DATA_FORMAT, a geometry param FT_PARAM_INVALID).
    throw prefixedError(
      first,
      `${failed.size} image(s) cannot be decoded; first: ${first.message}${failed.size > 1 ? ` (also ${order.slice(1, 4).map((i) => paths[i]).join(', ')}${failed.size > 4 ? ', …' : ''})` : ''}; set missingImages: 'drop' to skip them`,
      'FT_DATA_FORMAT',
      { file: paths[order[0]!]! },
    );
  }
  for (const i of order) emit.log('warn', `dropping ${failed.get(i)!.message}`);
  dropped['unreadableImage'] = failed.size;
  const kept = paths.map((_, i) => i).filter((i) => !failed.has(i));
  // Compact in place: kept images move down over the dropped slots (never overlapping forwards).
  kept.forEach((src, dst) => {
    if (src !== dst) x.copyWithin(dst * per, src * per, (src + 1) * per);
  });
  return { x: x.slice(0, kept.length * per), kept };
}

export function imageSpec(p: ImageLoaderParams<unknown>): ImageSpec {
  return { height: p.size, width: p.size, channels: 3, resize: p.resize ?? defaultResize(p.size), mean: rgb(p.mean, 'mean'), std: rgb(p.std, 'std'), decoder: decoderName() };
}

/** A per-channel triple (the params schema asks for exactly three numbers). */
function rgb(v: readonly number[], param: string): [number, number, number] {
  if (v.length !== 3) throw paramError(param, `needs one value per RGB channel (3), got ${v.length}`);
  return [v[0]!, v[1]!, v[2]!];
}

/** Builds the `samples` artifact: x uint8 [N, H, W, 3], y float32 0/1, subject int32. */
export function imageSamples(args: {
  name: string;
  synthetic: boolean;
  source: { root: string; note?: string };
  spec: ImageSpec;
  x: Uint8Array;
  y: readonly number[];
  subject: readonly number[];
  subjects: readonly string[];
  subjectAttributes: Record<string, AttributeValue[]>;
  dropped: Record<string, number>;
  ids: readonly string[];
}) {
  const n = args.y.length;
  const meta: SamplesMeta & { source: unknown; dropped: Record<string, number>; ids: readonly string[] } = {
    name: args.name,
    synthetic: args.synthetic,
    modality: 'image',
    task: 'classification',
    target: { name: 'malignant' },
    image: args.spec,
    subjects: args.subjects,
    subjectAttributes: args.subjectAttributes,
    source: args.source,
    dropped: args.dropped,
    // Image ids (md5hash / image_id) per sample, so predictions can be traced back to files.
    ids: args.ids,
  };
  return artifact('samples', meta, {
    x: ndarray(args.x, [n, args.spec.height, args.spec.width, 3]),
    y: ndarray(Float32Array.from(args.y)),
    subject: ndarray(Int32Array.from(args.subject)),
  });
}

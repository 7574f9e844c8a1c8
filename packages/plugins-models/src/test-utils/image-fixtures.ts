/** Small image `samples` artifacts for the ViT tests: uint8 [N, S, S, 3] with a learnable label. */
import { artifact, Rng, type KindArtifact, type SamplesMeta } from '@fairtune/core/plugin';

export interface ImageSamplesOptions {
  n?: number;
  size?: number;
  seed?: number;
}

/**
 * Label 1: a bright square "lesion" at a random place; label 0: none. Group 1 images are darker
 * (a group effect on the input, not the label). Splits: train / validation / test by index.
 */
export function makeImageSamples(o: ImageSamplesOptions = {}): KindArtifact<'samples'> {
  const n = o.n ?? 48;
  const S = o.size ?? 32;
  const rng = new Rng(o.seed ?? 1);
  const x = new Uint8Array(n * S * S * 3);
  const y = new Float32Array(n);
  const subject = new Int32Array(n);
  const split = new Int8Array(n);
  const group = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 2;
    group[i] = Math.floor(i / 2) % 2;
    subject[i] = i;
    split[i] = i % 6 === 4 || i % 6 === 5 ? 1 : i % 12 === 3 ? 2 : 0;
    const base = group[i] === 1 ? 60 : 120;
    const s = Math.max(3, Math.floor(S / 5));
    const cx = rng.int(S - s);
    const cy = rng.int(S - s);
    for (let py = 0; py < S; py++) {
      for (let px = 0; px < S; px++) {
        const lesion = y[i] === 1 && px >= cx && px < cx + s && py >= cy && py < cy + s;
        for (let c = 0; c < 3; c++) {
          const v = base + (lesion ? (c === 0 ? 120 : -40) : 0) + 20 * rng.normal();
          x[((i * S + py) * S + px) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
        }
      }
    }
  }
  const meta: SamplesMeta = {
    name: 'synthetic-lesions',
    synthetic: true,
    modality: 'image',
    task: 'classification',
    target: { name: 'malignant' },
    image: { height: S, width: S, channels: 3, resize: S, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], decoder: 'synthetic' },
    subjects: Array.from({ length: n }, (_, i) => `img${i}`),
    subjectAttributes: { skin: Array.from({ length: n }, (_, i) => (Math.floor(i / 2) % 2 ? 'IV-VI' : 'I-III')) },
    splits: ['train', 'validation', 'test'],
    groups: { attributes: ['skin'], names: ['I-III', 'IV-VI'] },
  };
  return artifact('samples', meta, {
    x: { dtype: 'uint8', shape: [n, S, S, 3], data: x },
    y: { dtype: 'float32', shape: [n], data: y },
    subject: { dtype: 'int32', shape: [n], data: subject },
    split: { dtype: 'int8', shape: [n], data: split },
    group: { dtype: 'int32', shape: [n], data: group },
  });
}

import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, type NdArray } from '@fairtune/core';
import { initEngine } from '../engine/backend.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { VIT_PRESETS, vitSpecs, type VitConfig } from './config.js';
import { Vit } from './model.js';
import { aaBicubicMatrix, importTimm, resamplePosEmbed } from './weights.js';

const CFG: VitConfig = { ...VIT_PRESETS.tiny, imageSize: 16, patchSize: 4, dim: 8, depth: 2, heads: 2, numClasses: 5 };
const dir = mkdtempSync(join(tmpdir(), 'vit-weights-'));

beforeAll(async () => {
  await initEngine();
});

function timmLike(c: VitConfig, seed: number): Record<string, NdArray> {
  const out: Record<string, NdArray> = {};
  for (const s of vitSpecs(c)) {
    const rng = Rng.derive(seed, s.name);
    out[s.name] = { dtype: 'float32', shape: [...s.shape], data: Float32Array.from({ length: s.shape.reduce((a, b) => a * b, 1) }, () => rng.normal()) };
  }
  return out;
}

describe('safetensors', () => {
  it('round-trips F32 exactly, F16/BF16 to their precision, with metadata and the documented byte layout', () => {
    const t = { b: { dtype: 'float32', shape: [2, 2], data: Float32Array.from([1, -2.5, 1e-3, 65504]) }, a: { dtype: 'float32', shape: [3], data: Float32Array.from([0.1, 3.14159, -7]) } } as Record<string, NdArray>;
    const p = join(dir, 'rt.safetensors');
    writeSafetensors(p, t, { format: 'pt' });
    const raw = readFileSync(p);
    const n = Number(raw.readBigUInt64LE(0));
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(raw.toString('utf8', 8, 8 + n)) as Record<string, { data_offsets: number[]; dtype: string }>;
    expect(header['a']!.data_offsets).toEqual([0, 12]); // sorted by name
    expect(header['b']!.data_offsets).toEqual([12, 28]);
    const back = readSafetensors(p);
    expect(back.metadata).toEqual({ format: 'pt' });
    expect(Array.from(back.tensors['b']!.data)).toEqual(Array.from(t['b']!.data));
    expect(back.tensors['b']!.shape).toEqual([2, 2]);
    for (const dtype of ['F16', 'BF16'] as const) {
      writeSafetensors(p, t, {}, dtype);
      const r = readSafetensors(p).tensors;
      const tol = dtype === 'F16' ? 1e-3 : 8e-3;
      for (const k of ['a', 'b']) {
        const x = t[k]!.data as Float32Array;
        r[k]!.data.forEach((v, i) => expect(Math.abs(v - x[i]!)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(x[i]!))));
      }
    }
    // exact known encodings: 1.0 in F16 is 0x3c00, in BF16 0x3f80
    writeSafetensors(p, { x: { dtype: 'float32', shape: [1], data: Float32Array.from([1]) } }, {}, 'F16');
    const f16 = readFileSync(p);
    expect(f16.readUInt16LE(f16.length - 2)).toBe(0x3c00);
    writeSafetensors(p, { x: { dtype: 'float32', shape: [1], data: Float32Array.from([1]) } }, {}, 'BF16');
    const bf = readFileSync(p);
    expect(bf.readUInt16LE(bf.length - 2)).toBe(0x3f80);
  });

  it('names the file and tensor in errors', () => {
    const p = join(dir, 'bad.safetensors');
    const header = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 8] } }));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    writeFileSync(p, Buffer.concat([len, header, Buffer.alloc(8)]));
    expect(() => readSafetensors(p)).toThrow(`weights file ${p}: tensor "w" has 8 bytes, shape [4] of F32 needs 16`);
    expect(() => readSafetensors(p)).toThrow(expect.objectContaining({ code: 'FT_DATA_FORMAT', about: { file: p } }));
    expect(() => readSafetensors(join(dir, 'absent.safetensors'))).toThrow(expect.objectContaining({ code: 'FT_DATA_MISSING', about: { file: join(dir, 'absent.safetensors') } }));
    writeFileSync(p, Buffer.from('not a file'));
    expect(() => readSafetensors(p)).toThrow(/header length/);
    const h2 = Buffer.from(JSON.stringify({ w: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }));
    len.writeBigUInt64LE(BigInt(h2.length));
    writeFileSync(p, Buffer.concat([len, h2, Buffer.alloc(8)]));
    expect(() => readSafetensors(p)).toThrow(/tensor "w" has dtype I64/);
  });
});

describe('timm import', () => {
  it('round-trips a model through a safetensors file bit for bit', () => {
    const m = Vit.create(CFG, 3);
    const p = join(dir, 'model.safetensors');
    try {
      writeSafetensors(p, m.toArrays());
      const imp = importTimm(readSafetensors(p).tensors, CFG, p);
      expect(imp.newHead).toBe(false);
      expect(imp.ignored).toEqual([]);
      const back = Vit.fromArrays(CFG, imp.arrays, p);
      const a = m.toArrays();
      const b = back.toArrays();
      for (const k of Object.keys(a)) expect(Array.from(b[k]!.data)).toEqual(Array.from(a[k]!.data));
      back.dispose();
    } finally {
      m.dispose();
    }
  });

  it('checks names and shapes, reports extras, asks for a new head when the class count differs', () => {
    const w = timmLike(CFG, 1);
    const { ['blocks.1.attn.proj.bias']: _drop, ...missing } = w;
    expect(() => importTimm(missing, CFG, 'f.safetensors')).toThrow('f.safetensors: missing tensor "blocks.1.attn.proj.bias" (expected shape [8])');
    expect(() => importTimm(missing, CFG, 'weights file f.safetensors', 'f.safetensors')).toThrow(expect.objectContaining({ code: 'FT_CHECKPOINT_MAPPING', about: { file: 'f.safetensors' } }));
    const wrong = { ...w, 'blocks.0.mlp.fc1.weight': { dtype: 'float32', shape: [16, 8], data: new Float32Array(128) } } as Record<string, NdArray>;
    expect(() => importTimm(wrong, CFG, 'f.safetensors')).toThrow(/tensor "blocks\.0\.mlp\.fc1\.weight" has shape \[16, 8\].*expects \[32, 8\]/);
    const extra = { ...w, 'fc_norm.weight': w['norm.weight']!, 'pre_logits.fc.bias': w['norm.bias']! };
    expect(importTimm(extra, CFG, 'f').ignored).toEqual(['fc_norm.weight', 'pre_logits.fc.bias']);
    const other = importTimm(timmLike({ ...CFG, numClasses: 1000 }, 1), CFG, 'f');
    expect(other.newHead).toBe(true);
    expect(other.arrays['head.weight']).toBeUndefined();
    expect(() => importTimm(timmLike({ ...CFG, dim: 12, heads: 2 }, 1), CFG, 'f')).toThrow(/head\.weight|cls_token/);
  });

  it('resamples pos_embed to a new grid: identity on the same grid, constants stay constant, class token kept', () => {
    const dim = 3;
    const rng = new Rng(2);
    const pos = Float32Array.from({ length: (1 + 16) * dim }, () => rng.normal());
    const same = resamplePosEmbed(pos, 4, 4, dim);
    same.forEach((v, i) => expect(v).toBeCloseTo(pos[i]!, 6));
    const flat = new Float32Array((1 + 49) * dim).fill(0.7);
    flat[0] = 5;
    const down = resamplePosEmbed(flat, 7, 3, dim);
    expect(down[0]).toBe(5);
    for (let i = dim; i < down.length; i++) expect(down[i]).toBeCloseTo(0.7, 6);
    // rows of the interpolation matrix sum to 1
    const W = aaBicubicMatrix(14, 2);
    for (let r = 0; r < 2; r++) expect(W.subarray(r * 14, (r + 1) * 14).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    // a 224² checkpoint imported at 32² (grid 14 → 4 with patch 8? here patch 4: 4 → 2)
    const w = timmLike(CFG, 5);
    const imp = importTimm(w, { ...CFG, imageSize: 8 }, 'f');
    expect(imp.resampled).toEqual({ from: 4, to: 2 });
    expect(imp.arrays['pos_embed']!.shape).toEqual([1, 5, 8]);
    expect(Array.from(imp.arrays['pos_embed']!.data.slice(0, 8))).toEqual(Array.from(w['pos_embed']!.data.slice(0, 8)));
  });
});

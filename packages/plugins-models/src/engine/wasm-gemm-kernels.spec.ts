/**
 * FAIRTUNE_WASM_GEMM (wasm-gemm-kernels.ts): with the switch on, tfjs-wasm's BatchMatMul and
 * _FusedMatMul send the products they take to the generated GEMM and must give the switch-off
 * result (XNNPACK, or tfjs's own loop for transposed operands) up to the order of sums; what they
 * do not take must reach tfjs's kernel untouched. The switch is toggled in this process
 * (setWasmGemmEnabled); the environment variable itself is read at engine start, so those cases
 * run a child process (test-utils/threads-probe.ts), as wasm-threads.spec.ts does.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from './backend.js';
import { linear } from './ops.js';
import { swapLastTwo } from './wasm-kernels.js';
import { requestedWasmGemm, setWasmGemmEnabled, wasmGemmCounts } from './wasm-gemm-kernels.js';
import { PRESETS } from '../ppg-gpt/config.js';
import { PpgGpt } from '../ppg-gpt/model.js';
import { l1PerSample } from '../train/losses.js';
import { Adam } from '../train/optimizer.js';

beforeAll(async () => {
  await initEngine('wasm');
});

afterEach(() => setWasmGemmEnabled(false));

/** fn() with the switch on and off: both results and how many products the GEMM and tfjs ran while on. */
function onAndOff<T>(fn: () => T): { on: T; off: T; gemm: number; tfjs: number } {
  const before = wasmGemmCounts();
  setWasmGemmEnabled(true);
  let on: T;
  try {
    on = fn();
  } finally {
    setWasmGemmEnabled(false);
  }
  const after = wasmGemmCounts();
  return { on, off: fn(), gemm: after.gemm - before.gemm, tfjs: after.tfjs - before.tfjs };
}

/** max |a − b| / max |b| (b: the switch-off reference). */
function relDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]! / Math.max(1e-30, tf.max(tf.abs(b)).dataSync()[0]!));
}

const rand = (shape: number[], seed: number): tf.Tensor => tf.randomNormal(shape, 0, 1, 'float32', seed);

describe('FAIRTUNE_WASM_GEMM switch', () => {
  it('reads 0 or 1 (unset or empty: 0) and names a bad value', () => {
    const saved = process.env['FAIRTUNE_WASM_GEMM'];
    try {
      delete process.env['FAIRTUNE_WASM_GEMM'];
      expect(requestedWasmGemm()).toBe(false);
      process.env['FAIRTUNE_WASM_GEMM'] = '1';
      expect(requestedWasmGemm()).toBe(true);
      process.env['FAIRTUNE_WASM_GEMM'] = ' 0 ';
      expect(requestedWasmGemm()).toBe(false);
      process.env['FAIRTUNE_WASM_GEMM'] = 'yes';
      expect(() => requestedWasmGemm()).toThrow(expect.objectContaining({ code: 'FT_BACKEND_UNAVAILABLE', message: 'FAIRTUNE_WASM_GEMM must be 0 or 1, got "yes"' }));
    } finally {
      if (saved === undefined) delete process.env['FAIRTUNE_WASM_GEMM'];
      else process.env['FAIRTUNE_WASM_GEMM'] = saved;
    }
  });
});

// m 37, n 45, k 29: off every block and tile size; n ≥ 32, so the GEMM takes them.
const [M, N, K] = [37, 45, 29];
const operand = (outer: number[], rows: number, cols: number, seed: number) => rand([...outer, rows, cols], seed);
// Outer (batch) dims of a and b: 2-D; batch 1 (linear()'s rank-3 form); equal batches; b shared
// (2-D) by a batch; a shared by a batch of b; rank 4.
const BATCHES: Array<[string, number[], number[]]> = [
  ['2-D', [], []],
  ['batch 1', [1], [1]],
  ['batch 3', [3], [3]],
  ['batch 3 × 2-D', [3], []],
  ['batch 1 × batch 3', [1], [3]],
  ['[2, 3] × [2, 3]', [2, 3], [2, 3]],
];
const ORIENTATIONS: Array<[boolean, boolean]> = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

describe('BatchMatMul with the switch on', () => {
  it.each(BATCHES.flatMap(([name, oa, ob]) => ORIENTATIONS.map(([ta, tb]) => [name, ta, tb, oa, ob] as const)))('%s, transposeA %s, transposeB %s: runs the GEMM and matches the switch-off result', (_name, ta, tb, oa, ob) => {
    const a = operand(oa, ta ? K : M, ta ? M : K, 1);
    const b = operand(ob, tb ? N : K, tb ? K : N, 2);
    const r = onAndOff(() => tf.matMul(a, b, ta, tb));
    expect({ gemm: r.gemm, tfjs: r.tfjs }).toEqual({ gemm: 1, tfjs: 0 });
    expect(r.on.shape).toEqual(r.off.shape);
    expect(relDiff(r.on, r.off)).toBeLessThan(1e-6);
    tf.dispose([a, b, r.on, r.off]);
  });

  it.each(ORIENTATIONS)('transposeA %s, transposeB %s: bitwise the same as explicit Transpose kernels and an untransposed product (what the gradients did before)', (ta, tb) => {
    const a = operand([1], ta ? K : M, ta ? M : K, 13);
    const b = operand([1], tb ? N : K, tb ? K : N, 14);
    setWasmGemmEnabled(true);
    const flags = tf.matMul(a, b, ta, tb);
    const explicit = tf.matMul(ta ? swapLastTwo(a) : a, tb ? swapLastTwo(b) : b);
    expect(Array.from(flags.dataSync())).toEqual(Array.from(explicit.dataSync()));
    tf.dispose([a, b, flags, explicit]);
  });

  it('leaves to tfjs, unchanged: fewer than 32 columns, and batch dims of different ranks that neither side has as 1', () => {
    // Not [2, 1] × [1, 3]: tfjs-wasm 4.22 allocates max(batchA, batchB) items for it and reads
    // past them, so comparing two of its results would compare stray memory.
    const cases: Array<[tf.Tensor, tf.Tensor]> = [
      [rand([M, K], 3), rand([K, 31], 4)],
      [rand([3, M, K], 5), rand([1, 3, K, N], 6)],
    ];
    for (const [a, b] of cases) {
      const r = onAndOff(() => tf.matMul(a, b));
      expect({ gemm: r.gemm, tfjs: r.tfjs }).toEqual({ gemm: 0, tfjs: 1 });
      expect(Array.from(r.on.dataSync())).toEqual(Array.from(r.off.dataSync()));
      tf.dispose([a, b, r.on, r.off]);
    }
  });
});

describe('_FusedMatMul with the switch on', () => {
  it.each(['linear', 'relu'] as const)('linear() with %s: output and the gradients of x, w and b match the switch-off result', (act) => {
    // k 40 (not 29): the gradient's products have k or n columns, and all three must reach the GEMM.
    const x = rand([M, 40], 7) as tf.Tensor2D;
    const w = rand([40, N], 8) as tf.Tensor2D;
    const bias = rand([N], 9) as tf.Tensor1D;
    const dy = rand([M, N], 10);
    const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(linear(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D, act), dy));
    const r = onAndOff(() => [linear(x, w, bias, act), ...tf.grads(f)([x, w, bias])]);
    // The forward product (twice: alone and under tf.grads), and the gradient's dX = g·wᵀ and
    // dW = xᵀ·g (ops.ts, transposes passed to the GEMM as flags) through BatchMatMul.
    expect({ gemm: r.gemm, tfjs: r.tfjs }).toEqual({ gemm: 4, tfjs: 0 });
    r.on.forEach((t, i) => expect([i, relDiff(t, r.off[i]!) < 1e-6]).toEqual([i, true]));
    tf.dispose([x, w, bias, dy, ...r.on, ...r.off]);
  });

  it.each([
    ['batched', [2, M, K], [2, K, N], false, false],
    ['transposed A', [K, M], [K, N], true, false],
    ['transposed B', [M, K], [N, K], false, true],
  ] as const)('%s with a bias and ReLU: the GEMM matches matMul + add + relu (tfjs-wasm 4.22\'s own fused kernel does not)', (_name, sa, sb, transposeA, transposeB) => {
    const a = rand([...sa], 13);
    const b = rand([...sb], 14);
    const bias = rand([N], 15);
    const reference = tf.relu(tf.add(tf.matMul(a, b, transposeA, transposeB), bias));
    const before = wasmGemmCounts().gemm;
    setWasmGemmEnabled(true);
    const fused = tf.fused.matMul({ a, b, transposeA, transposeB, bias, activation: 'relu' });
    setWasmGemmEnabled(false);
    // The reference was computed with the switch off (XNNPACK); only the fused product counts.
    expect(wasmGemmCounts().gemm - before).toBe(1);
    expect(relDiff(fused, reference)).toBeLessThan(1e-6);
    tf.dispose([a, b, bias, reference, fused]);
  });

  it('runs the GEMM without a bias, and leaves to tfjs, unchanged: other activations, PReLU weights, a bias that is not a vector', () => {
    const a = rand([M, K], 11) as tf.Tensor2D;
    const b = rand([K, N], 12) as tf.Tensor2D;
    const plain = onAndOff(() => tf.fused.matMul({ a, b, activation: 'relu' }));
    expect({ gemm: plain.gemm, tfjs: plain.tfjs }).toEqual({ gemm: 1, tfjs: 0 });
    expect(relDiff(plain.on, plain.off)).toBeLessThan(1e-6);
    const others: Array<() => tf.Tensor> = [
      () => tf.fused.matMul({ a, b, bias: tf.ones([N]), activation: 'elu' }),
      () => tf.fused.matMul({ a, b, activation: 'prelu', preluActivationWeights: tf.fill([N], 0.1) }),
    ];
    for (const op of others) {
      const r = onAndOff(op);
      expect({ gemm: r.gemm, tfjs: r.tfjs }).toEqual({ gemm: 0, tfjs: 1 });
      expect(Array.from(r.on.dataSync())).toEqual(Array.from(r.off.dataSync()));
    }
    // tfjs's own error, switch on or off. (A bias of 1 value is left to tfjs too, but tfjs-wasm
    // then reads n values from it, past its end: not comparable run to run.)
    const before = wasmGemmCounts();
    setWasmGemmEnabled(true);
    expect(() => tf.fused.matMul({ a, b, bias: tf.ones([1, N]) })).toThrow('_FusedMatMul only supports rank-1 bias but got rank 2.');
    expect(wasmGemmCounts()).toEqual({ gemm: before.gemm, tfjs: before.tfjs + 1 });
  });
});

/** `steps` Adam steps of a fresh `tiny` PPG-GPT (batch 4, dropout on): losses and a hash of losses and weights. */
function trainTiny(steps: number): { losses: number[]; hash: string } {
  const model = PpgGpt.create(PRESETS.tiny, 5);
  model.addTaskHead('mean', 2);
  const vars = new Map(model.vars);
  const byId = new Map([...vars].map(([k, v]) => [v.name, k]));
  const opt = new Adam();
  const x = tf.randomUniform([4, PRESETS.tiny.windowLength], 0.1, 0.9, 'float32', 1) as tf.Tensor2D;
  const y = tf.randomNormal([4], 0, 1, 'float32', 2) as tf.Tensor1D;
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const { value, grads } = tf.variableGrads(() => tf.mean(l1PerSample(model.taskHead(model.encode(x, { causal: false, training: true, seed: i }), 4).output, y)) as tf.Scalar, [...vars.values()]);
    losses.push(value.dataSync()[0]!);
    value.dispose();
    const named: Record<string, tf.Tensor> = {};
    for (const [id, g] of Object.entries(grads)) named[byId.get(id)!] = g;
    opt.apply(vars, named, 1e-3);
    tf.dispose(Object.values(named));
  }
  const hash = createHash('sha256').update(new Float64Array(losses));
  for (const v of vars.values()) hash.update(v.dataSync() as Float32Array);
  tf.dispose([x, y]);
  opt.dispose();
  model.dispose();
  return { losses, hash: hash.digest('hex') };
}

describe('training the tiny model with the switch on', () => {
  it('gives finite losses within 1e-4 (relative) of the switch-off run, the same hash twice, and runs its products on the GEMM', () => {
    const before = wasmGemmCounts().gemm;
    setWasmGemmEnabled(true);
    const on1 = trainTiny(4);
    const on2 = trainTiny(4);
    setWasmGemmEnabled(false);
    // Forward and backward products of 2 blocks, embedding and their gradients: dozens a step.
    expect(wasmGemmCounts().gemm - before).toBeGreaterThan(8 * 20);
    const off = trainTiny(4);
    expect(on1.losses.every(Number.isFinite)).toBe(true);
    on1.losses.forEach((l, i) => expect([i, Math.abs(l - off.losses[i]!) / Math.abs(off.losses[i]!) < 1e-4]).toEqual([i, true]));
    // The losses move, so the comparison covers trained weights, not just the first step.
    expect(on1.losses[3]).not.toBe(on1.losses[0]);
    expect(on2.hash).toBe(on1.hash);
  }, 120_000);
});

const repoRoot = resolve(process.cwd(), '../..');
const probe = join(repoRoot, 'packages/plugins-models/src/engine/test-utils/threads-probe.ts');

function runProbe(gemm: string, threads: string): { code: number | null; detail?: string; hash?: string; gemm?: number; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, FAIRTUNE_WASM_GEMM: gemm, FAIRTUNE_WASM_THREADS: threads };
  delete env['NODE_OPTIONS'];
  const r = spawnSync(process.execPath, ['--conditions=@fairtune/source', '--import', '@swc-node/register/esm-register', probe], { cwd: repoRoot, env, encoding: 'utf8', timeout: 120_000 });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  return { code: r.status, ...(line.startsWith('{') ? (JSON.parse(line) as { detail: string; hash: string; gemm: number }) : {}), stderr: r.stderr };
}

describe('FAIRTUNE_WASM_GEMM from the environment (child processes)', () => {
  it('=1 routes the products to the GEMM at engine start, with 1 or 2 threads, with the same results', () => {
    const one = runProbe('1', '1');
    const two = runProbe('1', '2');
    expect({ code: one.code, detail: one.detail, stderr: one.code === 0 ? '' : one.stderr }).toEqual({ code: 0, detail: 'wasm (SIMD, 1 thread, FairTune GEMM)', stderr: '' });
    expect({ code: two.code, detail: two.detail, stderr: two.code === 0 ? '' : two.stderr }).toEqual({ code: 0, detail: 'wasm (SIMD, 2 threads, FairTune GEMM)', stderr: '' });
    expect(one.gemm).toBeGreaterThan(0);
    expect(two.hash).toBe(one.hash);
  }, 300_000);

  it('a bad value fails the engine start with FT_BACKEND_UNAVAILABLE, naming the variable', () => {
    const r = runProbe('on', '1');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/FAIRTUNE_WASM_GEMM must be 0 or 1, got "on"/);
    expect(r.stderr).toMatch(/FT_BACKEND_UNAVAILABLE/);
  }, 120_000);
});

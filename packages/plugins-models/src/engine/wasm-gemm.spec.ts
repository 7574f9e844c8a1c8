/**
 * Correctness of the generated GEMM (engine/wasm-gemm.ts; bench/gemm-bench.ts measures it against
 * XNNPACK, FAIRTUNE_WASM_GEMM=1 trains with it). Small blockings make every path run on small
 * shapes: several k blocks (the C += pass), M and N blocks, edge tiles cut in rows and columns,
 * the k remainder after unrolling, a guard zone around C that must stay untouched, transposed
 * operands (packed through other paths: strided gathers, and vector copies for Aᵀ when mr is a
 * multiple of 4) and the epilogue.
 */
import * as tf from '@tensorflow/tfjs';
import v8 from 'node:v8';
import { initEngine } from './backend.js';
import { DEFAULT_PLANS, heapOffset, relaxedSimdSupported, WasmGemm, type GemmPlan, type GemmVariant, type WasmHeapBackend } from './wasm-gemm.js';

let backend: WasmHeapBackend;

beforeAll(async () => {
  await initEngine('wasm');
  backend = tf.backend() as unknown as WasmHeapBackend;
});

const GUARD = 64;
const SENTINEL = 12345.5;

type Orientation = readonly [transposeA: boolean, transposeB: boolean];
type Act = 'none' | 'bias' | 'biasRelu' | 'relu';

/**
 * Runs the GEMM on random op(A) [m, k], op(B) [k, n] (A stored [k, m] when transposeA, B [n, k]
 * when transposeB), with an epilogue; returns max |C − tfjs| / max |tfjs| (tfjs: tf.matMul, plus
 * the bias and ReLU as separate ops) and whether the guards around C held.
 */
function check(gemm: WasmGemm, m: number, n: number, k: number, [ta, tb]: Orientation = [false, false], act: Act = 'none'): { rel: number; guardsIntact: boolean } {
  const a = tf.randomNormal(ta ? [k, m] : [m, k], 0, 1, 'float32', m * 31 + k) as tf.Tensor2D;
  const b = tf.randomNormal(tb ? [n, k] : [k, n], 0, 1, 'float32', n * 17 + k) as tf.Tensor2D;
  const bias = tf.randomNormal([n], 0, 1, 'float32', n + 5) as tf.Tensor1D;
  const ref = tf.tidy(() => {
    let y: tf.Tensor = tf.matMul(a, b, ta, tb);
    if (act === 'bias' || act === 'biasRelu') y = tf.add(y, bias);
    if (act === 'relu' || act === 'biasRelu') y = tf.relu(y);
    return y.dataSync();
  });
  const raw = backend.wasm._malloc((m * n + 2 * GUARD) * 4);
  const c = raw + GUARD * 4;
  backend.wasm.HEAPF32.fill(SENTINEL, raw / 4, raw / 4 + m * n + 2 * GUARD);
  const epilogue = act === 'none' ? undefined : { ...(act === 'relu' ? {} : { bias: heapOffset(backend, bias) }), relu: act !== 'bias' };
  gemm.run(heapOffset(backend, a), heapOffset(backend, b), c, m, n, k, ta, tb, epilogue);
  const heap = backend.wasm.HEAPF32;
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < m * n; i++) {
    const d = Math.abs(heap[c / 4 + i]! - ref[i]!);
    if (!(d <= maxAbs)) maxAbs = d;
    maxRef = Math.max(maxRef, Math.abs(ref[i]!));
  }
  let guardsIntact = true;
  for (let i = 0; i < GUARD; i++) guardsIntact &&= heap[raw / 4 + i] === SENTINEL && heap[c / 4 + m * n + i] === SENTINEL;
  backend.wasm._free(raw);
  tf.dispose([a, b, bias]);
  return { rel: maxAbs / maxRef, guardsIntact };
}

const ORIENTATIONS: Orientation[] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

// (M, N, K): 1×1×1; below one tile; M, N, K all off the block sizes (several k blocks, remainders);
// K a multiple of kc; N a multiple of nr but not of nc.
const SHAPES: Array<[number, number, number]> = [
  [1, 1, 1],
  [5, 7, 3],
  [13, 21, 37],
  [9, 17, 50],
  [33, 40, 32],
  [19, 48, 19],
];
// Tiny blocks (kc 7–16, mc 2–3 tiles, nc 2 panels) so the shapes above cross every boundary;
// A broadcast by load and by lane shuffle.
const PLANS: GemmPlan[] = [
  { mr: 4, nr: 8, kc: 16, mc: 8, nc: 16, unroll: 4 },
  { mr: 5, nr: 8, kc: 12, mc: 10, nc: 16, unroll: 3 },
  { mr: 3, nr: 12, kc: 16, mc: 9, nc: 24, unroll: 1 },
  { mr: 2, nr: 16, kc: 7, mc: 6, nc: 32, unroll: 4 },
  { mr: 5, nr: 8, kc: 16, mc: 10, nc: 16, unroll: 1, splat: 'shuffle' },
  { mr: 4, nr: 12, kc: 9, mc: 12, nc: 24, unroll: 2, splat: 'shuffle' },
];
// Node 20 decodes relaxed SIMD only behind a V8 flag; V8 reads it when a module is validated, so
// setting it here lets the relaxed_madd variant be checked too (the benchmark uses a child process
// started with the flag instead). It only adds opcodes: nothing else in this process changes.
if (!relaxedSimdSupported()) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
const VARIANTS: GemmVariant[] = relaxedSimdSupported() ? ['muladd', 'relaxed'] : ['muladd'];

describe('generated SIMD GEMM (engine/wasm-gemm.ts)', () => {
  it.each(VARIANTS.flatMap((v) => PLANS.map((p) => [v, p] as const)))('%s %o matches tf.matMul on odd shapes in every orientation and writes only C', (variant, plan) => {
    const gemm = new WasmGemm(backend, variant, plan);
    for (const orientation of ORIENTATIONS) {
      for (const [m, n, k] of SHAPES) {
        const { rel, guardsIntact } = check(gemm, m, n, k, orientation);
        expect([m, n, k, orientation, rel < 1e-5]).toEqual([m, n, k, orientation, true]);
        expect(guardsIntact).toBe(true);
      }
    }
    gemm.free();
  });

  it.each(VARIANTS)('%s matches tf.matMul with the benchmark plan on a shape off every block size, in every orientation', (variant) => {
    const gemm = new WasmGemm(backend, variant, DEFAULT_PLANS[variant]);
    for (const orientation of ORIENTATIONS) {
      const { rel, guardsIntact } = check(gemm, 131, 45, 300, orientation);
      expect([orientation, rel < 1e-5]).toEqual([orientation, true]);
      expect(guardsIntact).toBe(true);
    }
    gemm.free();
  });

  it.each(['bias', 'biasRelu', 'relu'] as const)('the %s epilogue matches tf.matMul + tf.add(bias) / tf.relu, n not a multiple of 4', (act) => {
    const gemm = new WasmGemm(backend, 'muladd', PLANS[0]!);
    for (const [m, n, k] of [[13, 21, 37], [9, 3, 5], [33, 40, 32]] as const) {
      const { rel, guardsIntact } = check(gemm, m, n, k, [false, false], act);
      expect([m, n, k, rel < 1e-5]).toEqual([m, n, k, true]);
      expect(guardsIntact).toBe(true);
    }
    gemm.free();
  });
});

/**
 * Opt-in engine switch FAIRTUNE_WASM_GEMM=1: tfjs-wasm's BatchMatMul and _FusedMatMul kernels are
 * wrapped so that large float32 products run on the generated GEMM of wasm-gemm.ts (1.3× XNNPACK
 * on the 19m step's products, single-threaded) instead of XNNPACK. Everything else, and every
 * product the GEMM does not take, goes to tfjs's own kernel unchanged:
 *   - products with fewer than DEFAULT_GEMM_MIN_N = 32 columns (n) in the result, where XNNPACK
 *     is faster (measured; the GEMM packs the left operand on every call and a narrow result does
 *     not repay it) — and empty ones;
 *   - non-float32 operands, an activation other than linear/ReLU, PReLU weights, a bias that is
 *     not a vector of n values, and batch dims that broadcast other than "equal, or one side 1".
 * Transposed operands are taken as they are (the GEMM packs them; no Transpose kernel runs), so
 * with the switch on the gradients of ops.ts and wasm-kernels.ts pass transpose flags instead of
 * transposing first (wasmGemmTakes, matMulT).
 *
 * Default off: the GEMM's sums are ordered differently from XNNPACK's (results differ by ~1e-6
 * relative where K is not a multiple of 512), so cached results and published figures would not
 * be reproduced bit for bit. (With a bias and a batched or transposed operand, tfjs-wasm 4.22's
 * own _FusedMatMul is wrong by ~14 % against matMul + add; the GEMM is not. FairTune's linear()
 * never makes such a product.) It is single-threaded: with FAIRTUNE_WASM_THREADS > 1 the products it
 * takes run on one thread while XNNPACK's would have used the pool (docs/models.md).
 */
import * as tf from '@tensorflow/tfjs';
import { FairtuneError } from '@fairtune/core/plugin';
import { DEFAULT_PLANS, heapMemoryOf, heapOffset, WasmGemm, type WasmHeapBackend } from './wasm-gemm.js';
import type { WasmMemory } from './wasm-asm.js';

/**
 * Narrowest product (n = columns of the result) sent to the GEMM. Chosen from `npm run bench:gemm
 * -- --no-relaxed --kernels --shapes "1984,8,64;1984,16,512;1984,32,2048;1984,48,512;32,32,32;…"`
 * (tf.matMul end to end, a fresh right operand per call, routing on vs off; figures in
 * docs/models.md): what separates the cases is n, not m·n·k. The
 * GEMM packs A (m·k floats) on every call and XNNPACK does not, which a narrow C does not repay:
 * with m = 1984, n = 16 the GEMM is at 0.84–1.03× XNNPACK's speed, n ≤ 8 at 0.70–0.93×, n = 32 at
 * 0.99–1.11×, n = 48 at 1.11–1.17×. From n = 32 it was ahead or level at every size tried,
 * however small (32×32×32: 2.7×; XNNPACK packs a new right operand per call, which dominates
 * small and short products: 8×512×512 4.1×).
 */
export const DEFAULT_GEMM_MIN_N = 32;

let minN = DEFAULT_GEMM_MIN_N;

const FUSED = '_FusedMatMul';

let enabled = false;
let wrapped = false;
let gemm: WasmGemm | undefined;
let gemmMemory: WasmMemory | undefined;
const counts = { gemm: 0, tfjs: 0 };

/** FAIRTUNE_WASM_GEMM: `1` routes large products to the generated GEMM, `0` (default) leaves them on XNNPACK. */
export function requestedWasmGemm(): boolean {
  const raw = (process.env['FAIRTUNE_WASM_GEMM'] ?? '0').trim() || '0';
  if (raw === '0' || raw === '1') return raw === '1';
  throw new FairtuneError('FT_BACKEND_UNAVAILABLE', `FAIRTUNE_WASM_GEMM must be 0 or 1, got "${raw}"`);
}

/**
 * Turns the GEMM routing on or off for the wasm backend (the engine start does this from
 * FAIRTUNE_WASM_GEMM; tests and benchmarks compare both in one process). The kernels are wrapped
 * on first use; turned off, the wrappers call tfjs's kernels directly.
 */
export function setWasmGemmEnabled(on: boolean): void {
  enabled = on;
  if (on) wrapKernels();
}

/** Sets the threshold on n (0: every product); no argument restores the default. For benchmarks and tests. */
export function setWasmGemmMinN(n = DEFAULT_GEMM_MIN_N): void {
  minN = n;
}

export function wasmGemmEnabled(): boolean {
  return enabled;
}

/**
 * Whether a float32 product with n result columns runs on the GEMM now (switch on, wasm backend,
 * n over the threshold). Gradients ask this to pass transposed operands as they are (the GEMM packs
 * them) instead of running Transpose kernels for XNNPACK, which only takes untransposed ones.
 */
export function wasmGemmTakes(n: number): boolean {
  return enabled && n >= minN && tf.getBackend() === 'wasm';
}

/** Products run by the GEMM and by tfjs's kernels while the switch was on (tests, benchmarks). */
export function wasmGemmCounts(): { gemm: number; tfjs: number } {
  return { ...counts };
}

/** The one GEMM instance, rebuilt when tfjs re-creates the backend (its modules import one memory). */
function gemmFor(backend: WasmHeapBackend): WasmGemm {
  const memory = heapMemoryOf(backend);
  if (!gemm || gemmMemory !== memory) {
    // The old instance's packing buffers lived in the old backend's heap, gone with it.
    gemm = new WasmGemm(backend, 'muladd', DEFAULT_PLANS.muladd);
    gemmMemory = memory;
  }
  return gemm;
}

/** A product the GEMM takes: per-batch sizes, operand strides and the output shape. */
interface ProductPlan {
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly batch: number;
  /** Bytes between consecutive batch items of A and B (0: broadcast). */
  readonly aStep: number;
  readonly bStep: number;
  readonly outShape: number[];
}

/**
 * How the GEMM computes op(a)·op(b) with tfjs's matMul semantics, or undefined where it leaves
 * the product to tfjs (which also raises tfjs's own errors for shapes that do not match).
 */
export function planProduct(a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean): ProductPlan | undefined {
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || ra < 2 || rb < 2) return undefined;
  const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const kb = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
  const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  if (k !== kb || n < minN || m === 0 || k === 0) return undefined;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = outerA.reduce((x, y) => x * y, 1);
  const batchB = outerB.reduce((x, y) => x * y, 1);
  const sameOuter = outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i]);
  // Equal outer dims pair item i with item i; an operand with batch 1 is reused for every item.
  // Other broadcasts ([2, 1] × [1, 3]) would need index arithmetic per item: tfjs does them.
  if (!sameOuter && batchA !== 1 && batchB !== 1) return undefined;
  const outer = sameOuter ? outerA : batchA === 1 ? broadcastOuter(outerA, outerB) : broadcastOuter(outerB, outerA);
  if (!outer) return undefined;
  return { m, n, k, batch: outer.reduce((x, y) => x * y, 1), aStep: batchA === 1 ? 0 : m * k * 4, bStep: batchB === 1 ? 0 : k * n * 4, outShape: [...outer, m, n] };
}

/** Outer dims of the output when `ones` (all 1) broadcasts against `dims`: the longer rank, dims' sizes. */
function broadcastOuter(ones: readonly number[], dims: readonly number[]): number[] | undefined {
  if (ones.some((d) => d !== 1)) return undefined;
  return [...Array<number>(Math.max(0, ones.length - dims.length)).fill(1), ...dims];
}

interface GemmBackend extends WasmHeapBackend {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
}

/** Runs a planned product (every batch item, then the epilogue) into a new backend output. */
function runPlanned(be: GemmBackend, p: ProductPlan, a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean, bias?: tf.TensorInfo, relu = false): tf.TensorInfo {
  const g = gemmFor(be);
  const out = be.makeOutput(p.outShape, 'float32');
  // Offsets are read after makeOutput: a heap that grows keeps every tensor's offset.
  const [ao, bo, co] = [heapOffset(be, a), heapOffset(be, b), heapOffset(be, out)];
  const epilogue = bias || relu ? { ...(bias ? { bias: heapOffset(be, bias) } : {}), relu } : undefined;
  for (let i = 0; i < p.batch; i++) {
    g.run(ao + i * p.aStep, bo + i * p.bStep, co + i * p.m * p.n * 4, p.m, p.n, p.k, transposeA, transposeB, epilogue);
  }
  counts.gemm++;
  return out;
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

function gemmBatchMatMul(args: KernelArgs): tf.TensorInfo | undefined {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
  const p = planProduct(a, b, transposeA, transposeB);
  return p && runPlanned(args.backend as unknown as GemmBackend, p, a, b, transposeA, transposeB);
}

function gemmFusedMatMul(args: KernelArgs): tf.TensorInfo | undefined {
  const { a, b, bias, preluActivationWeights } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo; preluActivationWeights?: tf.TensorInfo };
  const { transposeA, transposeB, activation } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean; activation: string };
  if ((activation !== 'linear' && activation !== 'relu') || preluActivationWeights) return undefined;
  const p = planProduct(a, b, transposeA, transposeB);
  // The epilogue adds bias[j] to column j: only a vector of exactly n values (tfjs-wasm's rule is rank 1).
  if (!p || (bias && (bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== p.n))) return undefined;
  return runPlanned(args.backend as unknown as GemmBackend, p, a, b, transposeA, transposeB, bias, activation === 'relu');
}

/** Replaces a wasm kernel by `first`, falling back to tfjs's (setup and dispose kept as registered). */
function wrapKernel(name: string, first: (args: KernelArgs) => tf.TensorInfo | undefined): void {
  const original = tf.getKernel(name, 'wasm');
  if (!original) throw new Error(`FAIRTUNE_WASM_GEMM: tfjs-wasm has no ${name} kernel to wrap`);
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      if (!enabled) return original.kernelFunc(args);
      const out = first(args);
      if (out) return out;
      counts.tfjs++;
      return original.kernelFunc(args);
    },
  });
}

function wrapKernels(): void {
  if (wrapped) return;
  wrapped = true;
  wrapKernel(tf.BatchMatMul, gemmBatchMatMul);
  wrapKernel(FUSED, gemmFusedMatMul);
}

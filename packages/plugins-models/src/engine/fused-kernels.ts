/**
 * Fused kernels for the transformer's hot spots on the wasm backend, with a reference
 * formulation in plain tfjs ops for every other backend (and for the tests, which check that
 * both agree, gradients included).
 *
 * Why: per-kernel profiles (docs/models.md, Benchmark) showed ~30 % of a training step in the
 * batched attention products, which tfjs-wasm 4.22 runs in a scalar loop (XNNPACK only takes
 * unbatched 2-D products), plus many small kernels (split, transposes, RoPE, softmax, dropout
 * built from randomUniform/floor/div/mul). Here one kernel does RoPE + scores + (causal mask) +
 * softmax + dropout + probabilities·V for every (sample, head), reading q/k/v straight from the
 * fused projection output [B·T, 3d] and writing the context in [B·T, d] layout; one kernel
 * computes the whole backward pass. The code is WebAssembly SIMD generated per shape
 * (wasm-asm.ts), working in place on tfjs's own heap.
 *
 * Dropout masks come from a counter-based hash of (seed, element index): the same Bernoulli
 * keep/(1−rate) scaling as tf.dropout, reproducible from the seed alone, so the backward pass
 * regenerates masks instead of storing them, and every backend draws the same masks.
 */
import * as tf from '@tensorflow/tfjs';
import { assemble, F32, Fn, I32, instantiate, SIMD, V128, type WasmMemory } from './wasm-asm.js';

// ---------------------------------------------------------------------------------------------
// Dropout hash (shared by the wasm code generator and the JS reference)

const M1 = 0x85ebca6b;
const M2 = 0xc2b2ae35;
const M3 = 0x7feb352d;
const M4 = 0x846ca68b;

function fmix(x: number, a: number, b: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, a);
  x ^= x >>> 13;
  x = Math.imul(x, b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Two 32-bit keys derived from a dropout seed. */
export function dropoutKeys(seed: number): [number, number] {
  const s = seed >>> 0;
  return [fmix(s ^ 0x9e3779b9, M1, M2), fmix((s + 0x6a09e667) >>> 0, M3, M4)];
}

/** u32 keep threshold: element kept when hash < threshold (probability 1 − rate). */
function keepThreshold(rate: number): number {
  return Math.min(0xffffffff, Math.round((1 - rate) * 2 ** 32)) >>> 0;
}

function hashAt(i: number, k1: number, k2: number): number {
  const h = fmix((i + k1) >>> 0, M1, M2);
  return fmix((h ^ k2) >>> 0, M3, M4);
}

/** The dropout multiplier (0 or 1/(1−rate)) for n consecutive elements, as the kernels draw it. */
export function dropoutMultipliers(seed: number, rate: number, n: number): Float32Array {
  const [k1, k2] = dropoutKeys(seed);
  const thr = keepThreshold(rate);
  const inv = 1 / (1 - rate);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = hashAt(i, k1, k2) < thr ? inv : 0;
  return out;
}

// ---------------------------------------------------------------------------------------------
// RoPE tables (the model's layout: interleaved pairs on the first half of each head)

export interface RopeTables {
  cos: Float32Array;
  sin: Float32Array;
}

/**
 * cos/sin [T, dh]: rotary_embedding_torch frequencies θ^(−2i/r) on the first r = dh/2 dims;
 * identity beyond. θ = 0 means no rotary embedding at all (identity everywhere): models with
 * absolute position embeddings (ViT) use the same attention kernel that way.
 */
export function ropeTables(T: number, dh: number, theta: number): RopeTables {
  const r = theta === 0 ? 0 : dh / 2;
  const cos = new Float32Array(T * dh);
  const sin = new Float32Array(T * dh);
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < dh; j++) {
      if (j < r) {
        const i = Math.floor(j / 2);
        const angle = t * Math.pow(theta, (-2 * i) / r);
        cos[t * dh + j] = Math.cos(angle);
        sin[t * dh + j] = Math.sin(angle);
      } else {
        cos[t * dh + j] = 1;
        sin[t * dh + j] = 0;
      }
    }
  }
  return { cos, sin };
}

// ---------------------------------------------------------------------------------------------
// Public ops

export interface AttentionOptions {
  readonly batch: number;
  readonly seq: number;
  readonly heads: number;
  /** RoPE base θ; 0 = no rotary embedding. */
  readonly ropeTheta: number;
  readonly causal: boolean;
  /** Dropout rate on the attention probabilities (0 = none). */
  readonly dropout: number;
  /** Dropout seed (ignored when dropout is 0). */
  readonly seed: number;
}

interface AttnAttrs {
  batch: number;
  seq: number;
  heads: number;
  headDim: number;
  ropeTheta: number;
  causal: boolean;
  dropout: number;
  seed: number;
}

const ATTN = 'FairtuneAttention';
const ATTN_GRAD = 'FairtuneAttentionGrad';
const DROPOUT = 'FairtuneDropout';
const COLSUM = 'FairtuneColumnSum';
const RMS = 'FairtuneRmsNorm';
const RMS_DX = 'FairtuneRmsNormGradX';
const RMS_DS = 'FairtuneRmsNormGradScale';

let enabled = true;

/** Turns the fused wasm kernels off (reference tfjs ops everywhere): for A/B tests and benchmarks. */
export function setFusedKernelsEnabled(on: boolean): void {
  enabled = on;
}

/** Whether the fused wasm kernels run (wasm backend, kernels registered, not turned off). */
export function fusedKernelsActive(): boolean {
  return enabled && registered && tf.getBackend() === 'wasm';
}

/**
 * Multi-head self-attention core on the fused projection output qkv [B·T, 3d] (columns q | k | v,
 * heads contiguous within each): RoPE on q and k (1/√dh folded into q), softmax(q·kᵀ [+ causal
 * mask]), dropout, ·v. Returns the context [B·T, d] with heads concatenated.
 */
export function attention(qkv: tf.Tensor2D, o: AttentionOptions): tf.Tensor2D {
  const d = qkv.shape[1] / 3;
  const attrs: AttnAttrs = { batch: o.batch, seq: o.seq, heads: o.heads, headDim: d / o.heads, ropeTheta: o.ropeTheta, causal: o.causal, dropout: o.dropout, seed: o.seed >>> 0 };
  if (qkv.shape[0] !== o.batch * o.seq || !Number.isInteger(d) || !Number.isInteger(attrs.headDim)) {
    throw new Error(`attention: qkv shape [${qkv.shape.join(', ')}] does not fit batch ${o.batch}, ${o.seq} tokens, ${o.heads} heads`);
  }
  // The kernel works on whole 4-float vectors of a head (PPG-GPT configs guarantee dh % 4 == 0).
  if (fusedKernelsActive() && attrs.headDim % 4 === 0) {
    const [ctx] = tf.engine().runKernel(ATTN, { qkv }, attrs as never) as tf.Tensor[];
    return ctx as tf.Tensor2D;
  }
  return attentionReference(qkv, o);
}

/** Straightforward tfjs formulation of attention() (other backends; reference in tests). */
export function attentionReference(qkv: tf.Tensor2D, o: AttentionOptions): tf.Tensor2D {
  return tf.tidy(() => {
    const { batch: B, seq: T, heads: H } = o;
    const d = qkv.shape[1] / 3;
    const dh = d / H;
    const { cos, sin } = ropeTables(T, dh, o.ropeTheta);
    const scale = 1 / Math.sqrt(dh);
    const rot = new Float32Array(dh * dh);
    for (let i = 0; 2 * i + 1 < dh / 2; i++) {
      rot[(2 * i + 1) * dh + 2 * i] = -1;
      rot[2 * i * dh + 2 * i + 1] = 1;
    }
    const R = tf.tensor2d(rot, [dh, dh]);
    const cos4 = tf.tensor4d(cos, [1, T, 1, dh]);
    const sin4 = tf.tensor4d(sin, [1, T, 1, dh]);
    const [q, k, v] = tf.split(qkv, 3, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
    const rope = (t: tf.Tensor2D): tf.Tensor => {
      const rotated = tf.reshape(tf.matMul(tf.reshape(t, [B * T * H, dh]) as tf.Tensor2D, R), [B, T, H, dh]);
      return tf.add(tf.mul(tf.reshape(t, [B, T, H, dh]), cos4), tf.mul(rotated, sin4));
    };
    const heads = (t: tf.Tensor): tf.Tensor3D => tf.reshape(tf.transpose(t, [0, 2, 1, 3]), [B * H, T, dh]);
    const qh = tf.mul(heads(rope(q)), scale) as tf.Tensor3D;
    const kh = heads(rope(k));
    const vh = heads(tf.reshape(v, [B, T, H, dh]));
    let scores: tf.Tensor = tf.matMul(qh, kh, false, true);
    if (o.causal) scores = tf.add(scores, tf.mul(tf.sub(tf.linalg.bandPart(tf.ones([T, T]), -1, 0), 1), 1e9));
    let probs = tf.softmax(scores);
    if (o.dropout > 0) probs = tf.mul(probs, tf.tensor(dropoutMultipliers(o.seed, o.dropout, B * H * T * T), [B * H, T, T]));
    const ctx = tf.matMul(probs as tf.Tensor3D, vh);
    return tf.reshape(tf.transpose(tf.reshape(ctx, [B, H, T, dh]), [0, 2, 1, 3]), [B * T, d]) as tf.Tensor2D;
  });
}

/** Dropout with the hash-based mask (identity when rate is 0); its gradient applies the same mask. */
export function dropout(x: tf.Tensor, rate: number, seed: number): tf.Tensor {
  if (rate === 0) return x;
  if (!(rate > 0 && rate < 1)) throw new Error(`dropout: rate must be in [0, 1), got ${rate}`);
  if (fusedKernelsActive()) return tf.engine().runKernel(DROPOUT, { x }, { rate, seed: seed >>> 0 } as never) as tf.Tensor;
  return tf.mul(x, tf.tensor(dropoutMultipliers(seed, rate, x.size), x.shape));
}

/**
 * Sum over rows of x [M, N] → [N] (bias gradients). tfjs-wasm reduces only innermost axes, so
 * tf.sum(x, 0) transposes the whole matrix first; this kernel makes one pass. Not differentiable
 * (it is only used inside gradient functions).
 */
export function columnSum(x: tf.Tensor2D): tf.Tensor1D {
  if (fusedKernelsActive()) return tf.engine().runKernel(COLSUM, { x }) as tf.Tensor1D;
  return tf.sum(x, 0);
}

/**
 * RMSNorm scale · x / sqrt(mean(x²) + eps) over rows of x [M, N] as one kernel (and one kernel
 * per input gradient) on wasm; undefined where it does not apply (other backends, N not a
 * multiple of 4), so the caller uses plain ops. Gradients, with r = 1/sqrt(mean(x²) + eps):
 * dx = r·(dy∘s) − x·r³·Σ(dy∘s∘x)/N and ds = Σ_rows dy∘x·r.
 */
export function rmsNormKernel(x: tf.Tensor2D, scale: tf.Tensor1D, eps: number): tf.Tensor2D | undefined {
  if (!fusedKernelsActive() || x.shape[1] % 4 !== 0) return undefined;
  return tf.engine().runKernel(RMS, { x, scale }, { eps } as never) as tf.Tensor2D;
}

// ---------------------------------------------------------------------------------------------
// wasm code generation

interface WasmBackendLike {
  // The single-threaded build exports its memory (asm.memory); the threaded build imports a shared one (wasmMemory).
  wasm: { asm: { memory?: WasmMemory }; wasmMemory?: WasmMemory; _malloc(n: number): number; HEAPU8: Uint8Array; HEAPF32: Float32Array };
  dataIdMap: { get(id: unknown): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
}

interface AttnModule {
  fwd: (qkv: number, out: number, probs: number, batch: number, k1: number, k2: number, scratch: number) => void;
  bwd: (qkv: number, probs: number, dctx: number, dqkv: number, batch: number, k1: number, k2: number, scratch: number) => void;
  scratch: number;
}

type Emit = () => void;

/** Emits the 32-bit dropout hash of (index on stack) with keys in locals k1, k2; leaves the u32 hash. */
function emitHash(f: Fn, k1: number, k2: number, tmp: number): void {
  const round = (a: number, b: number) => {
    f.tee(tmp).get(tmp).i32(16).op(0x76, 0x73); // x ^= x >>> 16
    f.i32(a).op(0x6c); // x *= a
    f.tee(tmp).get(tmp).i32(13).op(0x76, 0x73);
    f.i32(b).op(0x6c);
    f.tee(tmp).get(tmp).i32(16).op(0x76, 0x73);
  };
  f.get(k1).op(0x6a); // + k1
  round(M1 | 0, M2 | 0);
  f.get(k2).op(0x73); // ^ k2
  round(M3 | 0, M4 | 0);
}

/**
 * Emits exp(x) lane-wise for a v128 in local x (x ≤ 0 after the row max is subtracted):
 * Cody–Waite reduction to 2^n·e^r and the Cephes expf polynomial, relative error ~1e-7; x is
 * clamped at −87 so 2^n stays a normal float (masked lanes are zeroed by the caller).
 */
function emitExpV(f: Fn, x: number, n: number, r: number): void {
  const c = (v: number) => f.f32(v).simd(SIMD.f32x4Splat);
  f.get(x);
  c(-87);
  f.simd(SIMD.f32x4Max).set(x);
  f.get(x);
  c(Math.LOG2E);
  f.simd(SIMD.f32x4Mul).simd(SIMD.f32x4Nearest).set(n);
  f.get(x).get(n);
  c(0.693359375);
  f.simd(SIMD.f32x4Mul).simd(SIMD.f32x4Sub).get(n);
  c(-2.12194440e-4);
  f.simd(SIMD.f32x4Mul).simd(SIMD.f32x4Sub).set(r);
  c(1.9875691500e-4);
  f.get(r).simd(SIMD.f32x4Mul);
  c(1.3981999507e-3);
  f.simd(SIMD.f32x4Add);
  for (const k of [8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1]) {
    f.get(r).simd(SIMD.f32x4Mul);
    c(k);
    f.simd(SIMD.f32x4Add);
  }
  f.get(r).simd(SIMD.f32x4Mul).get(r).simd(SIMD.f32x4Mul).get(r).simd(SIMD.f32x4Add);
  c(1);
  f.simd(SIMD.f32x4Add);
  f.get(n).simd(SIMD.i32x4TruncSatF32x4S).i32(127).simd(SIMD.i32x4Splat).simd(SIMD.i32x4Add).i32(23).simd(SIMD.i32x4Shl);
  f.simd(SIMD.f32x4Mul);
}

/** Emits the dropout hash lane-wise: index vector on the stack → u32 hash vector (keys in v128 locals). */
function emitHashV(f: Fn, k1v: number, k2v: number, x: number): void {
  const round = (m1: number, m2: number) => {
    f.get(x).get(x).i32(16).simd(SIMD.i32x4ShrU).simd(SIMD.v128Xor);
    f.i32(m1).simd(SIMD.i32x4Splat).simd(SIMD.i32x4Mul);
    f.tee(x).get(x).i32(13).simd(SIMD.i32x4ShrU).simd(SIMD.v128Xor);
    f.i32(m2).simd(SIMD.i32x4Splat).simd(SIMD.i32x4Mul);
    f.tee(x).get(x).i32(16).simd(SIMD.i32x4ShrU).simd(SIMD.v128Xor).set(x);
  };
  f.get(k1v).simd(SIMD.i32x4Add).set(x);
  round(M1 | 0, M2 | 0);
  f.get(x).get(k2v).simd(SIMD.v128Xor).set(x);
  round(M3 | 0, M4 | 0);
  f.get(x);
}

/** Emits the horizontal reduction of v128 local v with a binary f32 opcode (add 0x92, max 0x97). */
function emitHorizontal(f: Fn, v: number, op: number): void {
  f.get(v).simd(SIMD.f32x4Extract, 0).get(v).simd(SIMD.f32x4Extract, 1).op(op);
  f.get(v).simd(SIMD.f32x4Extract, 2).get(v).simd(SIMD.f32x4Extract, 3).op(op).op(op);
}

function buildAttention(backend: WasmBackendLike, a: AttnAttrs): AttnModule {
  const T = a.seq;
  const dh = a.headDim;
  const H = a.heads;
  const d = H * dh;
  const D3 = 3 * d;
  // Rotated dims per head (0 without RoPE: the rotation terms are then not emitted at all).
  const r = a.ropeTheta === 0 ? 0 : dh / 2;
  const Tp = Math.ceil(T / 4) * 4;
  const nd = dh / 4;
  const drop = a.dropout > 0;
  const thr = keepThreshold(a.dropout) | 0;
  const invKeep = 1 / (1 - a.dropout);
  if (dh % 4 !== 0) throw new Error(`attention kernel: head dimension ${dh} must be a multiple of 4`);

  // Scratch layout (bytes): RoPE tables, rotated q/k rows, transposed k or v (padded to Tp
  // columns, pad stays 0), one score row, and the backward's Pd and dS matrices.
  const TD = T * dh * 4;
  const COSQ = 0;
  const SINQ = TD;
  const COSK = 2 * TD;
  const SINK = 3 * TD;
  const QS = 4 * TD;
  const KS = 5 * TD;
  const XT = 6 * TD; // kᵀ (forward) or vᵀ (backward): [dh, Tp]
  const SROW = XT + dh * Tp * 4;
  const PD = SROW + Tp * 4;
  const DS = PD + T * Tp * 4;
  const TROW = DS + T * Tp * 4;
  const SIZE = TROW + dh * 4;
  const scratch = backend.wasm._malloc(SIZE + 16);
  backend.wasm.HEAPU8.fill(0, scratch, scratch + SIZE + 16);
  const { cos, sin } = ropeTables(T, dh, a.ropeTheta);
  const scale = 1 / Math.sqrt(dh);
  const heap = backend.wasm.HEAPF32;
  heap.set(cos.map((v) => v * scale), (scratch + COSQ) / 4);
  heap.set(sin.map((v) => v * scale), (scratch + SINQ) / 4);
  heap.set(cos, (scratch + COSK) / 4);
  heap.set(sin, (scratch + SINK) / 4);

  // ---- shared emitters (take the function being built) ----
  /** RoPE of one row: src (ptr local) → dst rows (ptr locals, +offsets), tables row at tab local. */
  const emitRope = (f: Fn, src: number, tab: number, cosOff: number, sinOff: number, dst: (val: Emit, col: number) => void) => {
    for (let col = 0; col < dh; col++) {
      const val = () => {
        f.get(src).f32Load(col * 4).get(tab).f32Load(cosOff + col * 4).op(0x94);
        if (col < r) {
          const partner = col % 2 === 0 ? col + 1 : col - 1;
          f.get(src).f32Load(partner * 4).get(tab).f32Load(sinOff + col * 4).op(0x94);
          f.op(col % 2 === 0 ? 0x93 : 0x92);
        }
      };
      dst(val, col);
    }
  };

  // ================= forward =================
  const fwd = new Fn('fwd', [I32, I32, I32, I32, I32, I32, I32]);
  {
    const f = fwd;
    const [pQkv, pOut, pProbs, pB, k1, k2, pS] = [0, 1, 2, 3, 4, 5, 6];
    const b = f.local(I32);
    const h = f.local(I32);
    const t = f.local(I32);
    const i = f.local(I32);
    const j = f.local(I32);
    const jn = f.local(I32);
    const row = f.local(I32);
    const tab = f.local(I32);
    const dst = f.local(I32);
    const prow = f.local(I32);
    const hidx = f.local(I32);
    const tmpf = f.local(F32);
    const sv = f.local(V128);
    const vm = f.local(V128);
    const vs = f.local(V128);
    const vx = f.local(V128);
    const vn = f.local(V128);
    const vr = f.local(V128);
    const vh = f.local(V128);
    const k1v = f.local(V128);
    const k2v = f.local(V128);
    const thrv = f.local(V128);
    const nvMax = Math.min(8, Tp / 4);
    const acc = Array.from({ length: Math.max(nvMax, nd) }, () => f.local(V128));
    const zero = () => f.f32(0).simd(SIMD.f32x4Splat);
    f.get(k1).simd(SIMD.i32x4Splat).set(k1v);
    f.get(k2).simd(SIMD.i32x4Splat).set(k2v);
    f.i32(thr).simd(SIMD.i32x4Splat).set(thrv);

    f.forLoop(b, () => f.i32(0), () => f.get(pB), 1, () => {
      f.forLoop(h, () => f.i32(0), () => f.i32(H), 1, () => {
        // RoPE q → QS, k → KS and kᵀ → XT.
        f.forLoop(t, () => f.i32(0), () => f.i32(T), 1, () => {
          // row = qkv + ((b·T + t)·3d + h·dh)·4
          f.get(b).i32(T).op(0x6c).get(t).op(0x6a).i32(D3).op(0x6c).get(h).i32(dh).op(0x6c).op(0x6a).i32(4).op(0x6c).get(pQkv).op(0x6a).set(row);
          f.get(t).i32(dh * 4).op(0x6c).get(pS).op(0x6a).set(tab); // tables row t (also QS/KS row offset)
          emitRope(f, row, tab, COSQ, SINQ, (val, col) => {
            f.get(tab);
            val();
            f.f32Store(QS + col * 4);
          });
          // k: source shifted by d floats
          f.get(row).i32(d * 4).op(0x6a).set(row);
          f.get(t).i32(4).op(0x6c).get(pS).op(0x6a).set(dst); // kᵀ column t
          emitRope(f, row, tab, COSK, SINK, (val, col) => {
            val();
            f.set(tmpf);
            f.get(tab).get(tmpf).f32Store(KS + col * 4);
            f.get(dst).get(tmpf).f32Store(XT + col * Tp * 4);
          });
        });
        f.forLoop(i, () => f.i32(0), () => f.i32(T), 1, () => {
          // scores row: srow[0..Tp) = Σ_c q̃[i,c]·kᵀ[c, ·]
          f.get(i).i32(dh * 4).op(0x6c).get(pS).op(0x6a).set(row); // q̃ row i at row + QS
          for (let v0 = 0; v0 < Tp / 4; v0 += nvMax) {
            const nv = Math.min(nvMax, Tp / 4 - v0);
            for (let v = 0; v < nv; v++) {
              zero();
              f.set(acc[v]!);
            }
            for (let col = 0; col < dh; col++) {
              f.get(row).f32Load(QS + col * 4).simd(SIMD.f32x4Splat).set(sv);
              for (let v = 0; v < nv; v++) {
                f.get(acc[v]!).get(sv).get(pS).v128Load(XT + (col * Tp + 4 * (v0 + v)) * 4).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add).set(acc[v]!);
              }
            }
            for (let v = 0; v < nv; v++) f.get(pS).get(acc[v]!).v128Store(SROW + 16 * (v0 + v));
          }
          // Softmax over j < jn, four columns at a time; lanes j ≥ jn (causal mask, padding) give 0.
          if (a.causal) f.get(i).i32(1).op(0x6a).set(jn);
          else f.i32(T).set(jn);
          const valid = (v: number) => f.i32x4([4 * v, 4 * v + 1, 4 * v + 2, 4 * v + 3]).get(jn).simd(SIMD.i32x4Splat).simd(SIMD.i32x4LtS);
          f.f32(-Infinity).simd(SIMD.f32x4Splat).set(vm);
          for (let v = 0; v < Tp / 4; v++) {
            f.get(vm).get(pS).v128Load(SROW + 16 * v).f32(-Infinity).simd(SIMD.f32x4Splat);
            valid(v);
            f.simd(SIMD.v128Bitselect).simd(SIMD.f32x4Max).set(vm);
          }
          emitHorizontal(f, vm, 0x97);
          f.simd(SIMD.f32x4Splat).set(vm); // row max in every lane
          f.f32(0).simd(SIMD.f32x4Splat).set(vs);
          for (let v = 0; v < Tp / 4; v++) {
            f.get(pS).v128Load(SROW + 16 * v).get(vm).simd(SIMD.f32x4Sub).set(vx);
            emitExpV(f, vx, vn, vr);
            valid(v);
            f.simd(SIMD.v128And).set(vx);
            f.get(pS).get(vx).v128Store(SROW + 16 * v);
            f.get(vs).get(vx).simd(SIMD.f32x4Add).set(vs);
          }
          f.f32(1);
          emitHorizontal(f, vs, 0x92);
          f.op(0x95).simd(SIMD.f32x4Splat).set(vs); // 1/Σ in every lane
          // P (rows padded to Tp columns) and the dropped-out P̃ = P∘M into the score row.
          f.get(b).i32(H).op(0x6c).get(h).op(0x6a).i32(T).op(0x6c).get(i).op(0x6a).set(prow);
          f.get(prow).i32(T).op(0x6c).set(hidx); // dropout index base ((b·H + h)·T + i)·T
          f.get(prow).i32(Tp * 4).op(0x6c).get(pProbs).op(0x6a).set(prow);
          for (let v = 0; v < Tp / 4; v++) {
            f.get(pS).v128Load(SROW + 16 * v).get(vs).simd(SIMD.f32x4Mul).set(vx);
            f.get(prow).get(vx).v128Store(16 * v);
            if (drop) {
              f.get(pS).get(vx).f32(invKeep).simd(SIMD.f32x4Splat).simd(SIMD.f32x4Mul);
              f.get(hidx).simd(SIMD.i32x4Splat).i32x4([4 * v, 4 * v + 1, 4 * v + 2, 4 * v + 3]).simd(SIMD.i32x4Add);
              emitHashV(f, k1v, k2v, vh);
              f.get(thrv).simd(SIMD.i32x4LtU).simd(SIMD.v128And).v128Store(SROW + 16 * v);
            } else {
              f.get(pS).get(vx).v128Store(SROW + 16 * v);
            }
          }
          // ctx row i = Σ_{j<jn} p̃[j]·v[j, :]
          for (let u = 0; u < nd; u++) {
            zero();
            f.set(acc[u]!);
          }
          f.get(b).i32(T * D3).op(0x6c).get(h).i32(dh).op(0x6c).op(0x6a).i32(4).op(0x6c).get(pQkv).op(0x6a).set(tab);
          f.forLoop(j, () => f.i32(0), () => f.get(jn), 1, () => {
            f.get(j).i32(4).op(0x6c).get(pS).op(0x6a).f32Load(SROW).simd(SIMD.f32x4Splat).set(sv);
            f.get(j).i32(D3 * 4).op(0x6c).get(tab).op(0x6a).set(row); // tab = this (b, h)'s token-0 row
            for (let u = 0; u < nd; u++) {
              f.get(acc[u]!).get(sv).get(row).v128Load((2 * d + 4 * u) * 4).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add).set(acc[u]!);
            }
          });
          f.get(b).i32(T).op(0x6c).get(i).op(0x6a).i32(d).op(0x6c).get(h).i32(dh).op(0x6c).op(0x6a).i32(4).op(0x6c).get(pOut).op(0x6a).set(dst);
          for (let u = 0; u < nd; u++) f.get(dst).get(acc[u]!).v128Store(16 * u);
        });
      });
    });
  }

  // ================= backward =================
  const bwd = new Fn('bwd', [I32, I32, I32, I32, I32, I32, I32, I32]);
  {
    const f = bwd;
    const [pQkv, pProbs, pDctx, pDqkv, pB, k1, k2, pS] = [0, 1, 2, 3, 4, 5, 6, 7];
    const b = f.local(I32);
    const h = f.local(I32);
    const t = f.local(I32);
    const i = f.local(I32);
    const j = f.local(I32);
    const row = f.local(I32);
    const tab = f.local(I32);
    const dst = f.local(I32);
    const prow = f.local(I32);
    const hidx = f.local(I32);
    const sv = f.local(V128);
    const sv2 = f.local(V128);
    const vrd = f.local(V128);
    const vp = f.local(V128);
    const vdp = f.local(V128);
    const vmask = f.local(V128);
    const vh = f.local(V128);
    const k1v = f.local(V128);
    const k2v = f.local(V128);
    const thrv = f.local(V128);
    const nvMax = Math.min(8, Tp / 4);
    const acc = Array.from({ length: Math.max(nvMax, 2 * nd) }, () => f.local(V128));
    const zero = () => f.f32(0).simd(SIMD.f32x4Splat);
    f.get(k1).simd(SIMD.i32x4Splat).set(k1v);
    f.get(k2).simd(SIMD.i32x4Splat).set(k2v);
    f.i32(thr).simd(SIMD.i32x4Splat).set(thrv);
    const rowAddr = (tok: number, base: number, width: number) => {
      // base + ((b·T + tok)·width + h·dh)·4
      f.get(b).i32(T).op(0x6c).get(tok).op(0x6a).i32(width).op(0x6c).get(h).i32(dh).op(0x6c).op(0x6a).i32(4).op(0x6c).get(base).op(0x6a);
    };
    /** Un-RoPE the row in TROW with tables of row tok (tab local) and store at dst + off. */
    const emitUnrope = (cosOff: number, sinOff: number, off: number) => {
      for (let col = 0; col < dh; col++) {
        f.get(dst);
        f.get(pS).f32Load(TROW + col * 4).get(tab).f32Load(cosOff + col * 4).op(0x94);
        if (col < r) {
          const partner = col % 2 === 0 ? col + 1 : col - 1;
          f.get(pS).f32Load(TROW + partner * 4).get(tab).f32Load(sinOff + partner * 4).op(0x94);
          f.op(col % 2 === 0 ? 0x92 : 0x93);
        }
        f.f32Store(off + col * 4);
      }
    };

    f.forLoop(b, () => f.i32(0), () => f.get(pB), 1, () => {
      f.forLoop(h, () => f.i32(0), () => f.i32(H), 1, () => {
        // RoPE q → QS, k → KS; vᵀ → XT.
        f.forLoop(t, () => f.i32(0), () => f.i32(T), 1, () => {
          rowAddr(t, pQkv, D3);
          f.set(row);
          f.get(t).i32(dh * 4).op(0x6c).get(pS).op(0x6a).set(tab);
          emitRope(f, row, tab, COSQ, SINQ, (val, col) => {
            f.get(tab);
            val();
            f.f32Store(QS + col * 4);
          });
          f.get(row).i32(d * 4).op(0x6a).set(row);
          emitRope(f, row, tab, COSK, SINK, (val, col) => {
            f.get(tab);
            val();
            f.f32Store(KS + col * 4);
          });
          f.get(t).i32(4).op(0x6c).get(pS).op(0x6a).set(dst);
          for (let col = 0; col < dh; col++) f.get(dst).get(row).f32Load((d + col) * 4).f32Store(XT + col * Tp * 4);
        });
        // Phase 1, per query row i: dPd = dO·vᵀ; dP = dPd∘M; dS = P∘(dP − Σ dP∘P); keep Pd = P∘M.
        f.forLoop(i, () => f.i32(0), () => f.i32(T), 1, () => {
          rowAddr(i, pDctx, d);
          f.set(row);
          for (let v0 = 0; v0 < Tp / 4; v0 += nvMax) {
            const nv = Math.min(nvMax, Tp / 4 - v0);
            for (let v = 0; v < nv; v++) {
              zero();
              f.set(acc[v]!);
            }
            for (let col = 0; col < dh; col++) {
              f.get(row).f32Load(col * 4).simd(SIMD.f32x4Splat).set(sv);
              for (let v = 0; v < nv; v++) {
                f.get(acc[v]!).get(sv).get(pS).v128Load(XT + (col * Tp + 4 * (v0 + v)) * 4).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add).set(acc[v]!);
              }
            }
            for (let v = 0; v < nv; v++) f.get(pS).get(acc[v]!).v128Store(SROW + 16 * (v0 + v));
          }
          f.get(b).i32(H).op(0x6c).get(h).op(0x6a).i32(T).op(0x6c).get(i).op(0x6a).set(prow);
          f.get(prow).i32(T).op(0x6c).set(hidx);
          f.get(prow).i32(Tp * 4).op(0x6c).get(pProbs).op(0x6a).set(prow);
          f.get(i).i32(Tp * 4).op(0x6c).get(pS).op(0x6a).set(tab); // Pd/dS row i offset
          f.f32(0).simd(SIMD.f32x4Splat).set(vrd);
          for (let v = 0; v < Tp / 4; v++) {
            f.get(prow).v128Load(16 * v).set(vp);
            if (drop) {
              f.f32(invKeep).simd(SIMD.f32x4Splat);
              f.get(hidx).simd(SIMD.i32x4Splat).i32x4([4 * v, 4 * v + 1, 4 * v + 2, 4 * v + 3]).simd(SIMD.i32x4Add);
              emitHashV(f, k1v, k2v, vh);
              f.get(thrv).simd(SIMD.i32x4LtU).simd(SIMD.v128And).set(vmask); // M: 1/keep or 0
              f.get(pS).get(pS).v128Load(SROW + 16 * v).get(vmask).simd(SIMD.f32x4Mul).tee(vdp).v128Store(SROW + 16 * v);
              f.get(tab).get(vp).get(vmask).simd(SIMD.f32x4Mul).v128Store(PD + 16 * v);
            } else {
              f.get(pS).v128Load(SROW + 16 * v).set(vdp);
              f.get(tab).get(vp).v128Store(PD + 16 * v);
            }
            f.get(vrd).get(vp).get(vdp).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add).set(vrd);
          }
          emitHorizontal(f, vrd, 0x92);
          f.simd(SIMD.f32x4Splat).set(vrd);
          for (let v = 0; v < Tp / 4; v++) {
            f.get(tab).get(prow).v128Load(16 * v).get(pS).v128Load(SROW + 16 * v).get(vrd).simd(SIMD.f32x4Sub).simd(SIMD.f32x4Mul).v128Store(DS + 16 * v);
          }
        });
        // Phase 2, per key row j: dV[j] = Σ_i Pd[i,j]·dO[i]; dk̃[j] = Σ_i dS[i,j]·q̃[i].
        f.forLoop(j, () => f.i32(0), () => f.i32(T), 1, () => {
          for (let u = 0; u < 2 * nd; u++) {
            zero();
            f.set(acc[u]!);
          }
          // Running pointers (column j of Pd/dS, dO row i, q̃ row i), bumped once per i.
          f.get(j).i32(4).op(0x6c).get(pS).op(0x6a).set(dst);
          f.i32(0).set(i);
          rowAddr(i, pDctx, d);
          f.set(row);
          f.get(pS).set(tab);
          f.forLoop(i, () => f.i32(0), () => f.i32(T), 1, () => {
            f.get(dst).f32Load(PD).simd(SIMD.f32x4Splat).set(sv);
            f.get(dst).f32Load(DS).simd(SIMD.f32x4Splat).set(sv2);
            for (let u = 0; u < nd; u++) {
              f.get(acc[u]!).get(sv).get(row).v128Load(16 * u).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add).set(acc[u]!);
              f.get(acc[nd + u]!).get(sv2).get(tab).v128Load(QS + 16 * u).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add).set(acc[nd + u]!);
            }
            f.get(dst).i32(Tp * 4).op(0x6a).set(dst);
            f.get(row).i32(d * 4).op(0x6a).set(row);
            f.get(tab).i32(dh * 4).op(0x6a).set(tab);
          });
          rowAddr(j, pDqkv, D3);
          f.set(dst);
          for (let u = 0; u < nd; u++) f.get(dst).get(acc[u]!).v128Store((2 * d + 4 * u) * 4);
          for (let u = 0; u < nd; u++) f.get(pS).get(acc[nd + u]!).v128Store(TROW + 16 * u);
          f.get(j).i32(dh * 4).op(0x6c).get(pS).op(0x6a).set(tab);
          emitUnrope(COSK, SINK, d * 4);
        });
        // Phase 3, per query row i: dq̃[i] = Σ_j dS[i,j]·k̃[j].
        f.forLoop(i, () => f.i32(0), () => f.i32(T), 1, () => {
          for (let u = 0; u < nd; u++) {
            zero();
            f.set(acc[u]!);
          }
          f.get(i).i32(Tp * 4).op(0x6c).get(pS).op(0x6a).set(prow);
          f.forLoop(j, () => f.i32(0), () => f.i32(T), 1, () => {
            f.get(j).i32(4).op(0x6c).get(prow).op(0x6a).f32Load(DS).simd(SIMD.f32x4Splat).set(sv);
            f.get(j).i32(dh * 4).op(0x6c).get(pS).op(0x6a).set(tab);
            for (let u = 0; u < nd; u++) {
              f.get(acc[u]!).get(sv).get(tab).v128Load(KS + 16 * u).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add).set(acc[u]!);
            }
          });
          for (let u = 0; u < nd; u++) f.get(pS).get(acc[u]!).v128Store(TROW + 16 * u);
          rowAddr(i, pDqkv, D3);
          f.set(dst);
          f.get(i).i32(dh * 4).op(0x6c).get(pS).op(0x6a).set(tab);
          emitUnrope(COSQ, SINQ, 0);
        });
      });
    });
  }

  const bytes = assemble([fwd, bwd], heapMemory(backend));
  const ex = instantiate(bytes, heapMemory(backend)) as unknown as Pick<AttnModule, 'fwd' | 'bwd'>;
  return { fwd: ex.fwd, bwd: ex.bwd, scratch };
}

function buildDropout(backend: WasmBackendLike): (x: number, y: number, n: number, k1: number, k2: number, thr: number, inv: number) => void {
  const f = new Fn('drop', [I32, I32, I32, I32, I32, I32, F32]);
  const [px, py, n, k1, k2, thr, inv] = [0, 1, 2, 3, 4, 5, 6];
  const i = f.local(I32);
  const a = f.local(I32);
  const n4 = f.local(I32);
  const tmp = f.local(I32);
  const idx = f.local(V128);
  const x = f.local(V128);
  const k1v = f.local(V128);
  const k2v = f.local(V128);
  const thrv = f.local(V128);
  const invv = f.local(V128);
  // Four lanes at a time: the same hash as emitHash, with i32x4 arithmetic.
  f.get(k1).simd(SIMD.i32x4Splat).set(k1v);
  f.get(k2).simd(SIMD.i32x4Splat).set(k2v);
  f.get(thr).simd(SIMD.i32x4Splat).set(thrv);
  f.get(inv).simd(SIMD.f32x4Splat).set(invv);
  f.i32x4([0, 1, 2, 3]).set(idx);
  f.get(n).i32(-4).op(0x71).set(n4);
  const round = (m1: number, m2: number) => {
    f.get(x).get(x).i32(16).simd(SIMD.i32x4ShrU).simd(SIMD.v128Xor);
    f.i32(m1).simd(SIMD.i32x4Splat).simd(SIMD.i32x4Mul);
    f.tee(x).get(x).i32(13).simd(SIMD.i32x4ShrU).simd(SIMD.v128Xor);
    f.i32(m2).simd(SIMD.i32x4Splat).simd(SIMD.i32x4Mul);
    f.tee(x).get(x).i32(16).simd(SIMD.i32x4ShrU).simd(SIMD.v128Xor).set(x);
  };
  f.forLoop(i, () => f.i32(0), () => f.get(n4), 4, () => {
    f.get(idx).get(k1v).simd(SIMD.i32x4Add).set(x);
    round(M1 | 0, M2 | 0);
    f.get(x).get(k2v).simd(SIMD.v128Xor).set(x);
    round(M3 | 0, M4 | 0);
    f.get(i).i32(4).op(0x6c).set(a);
    f.get(a).get(py).op(0x6a);
    f.get(a).get(px).op(0x6a).v128Load().get(invv).simd(SIMD.f32x4Mul);
    f.get(x).get(thrv).simd(SIMD.i32x4LtU).simd(SIMD.v128And);
    f.v128Store();
    f.get(idx).i32(4).simd(SIMD.i32x4Splat).simd(SIMD.i32x4Add).set(idx);
  });
  f.forLoop(i, () => f.get(n4), () => f.get(n), 1, () => {
    f.get(i).i32(4).op(0x6c).set(a);
    f.get(a).get(py).op(0x6a);
    f.get(a).get(px).op(0x6a).f32Load().get(inv).op(0x94).f32(0);
    f.get(i);
    emitHash(f, k1, k2, tmp);
    f.get(thr).op(0x49, 0x1b);
    f.f32Store();
  });
  return instantiate(assemble([f], heapMemory(backend)), heapMemory(backend))['drop'] as never;
}

function buildColumnSum(backend: WasmBackendLike): (x: number, y: number, m: number, n: number) => void {
  const f = new Fn('colsum', [I32, I32, I32, I32]);
  const [px, py, m, n] = [0, 1, 2, 3];
  const r = f.local(I32);
  const j = f.local(I32);
  const n4 = f.local(I32);
  const row = f.local(I32);
  const a = f.local(I32);
  // y = 0, then y += each row (y stays in L1; x is read once, in order).
  f.forLoop(j, () => f.i32(0), () => f.get(n), 1, () => {
    f.get(j).i32(4).op(0x6c).get(py).op(0x6a).f32(0).f32Store();
  });
  f.get(n).i32(-4).op(0x71).set(n4);
  f.forLoop(r, () => f.i32(0), () => f.get(m), 1, () => {
    f.get(r).get(n).op(0x6c).i32(4).op(0x6c).get(px).op(0x6a).set(row);
    f.forLoop(j, () => f.i32(0), () => f.get(n4), 4, () => {
      f.get(j).i32(4).op(0x6c).set(a);
      f.get(a).get(py).op(0x6a);
      f.get(a).get(py).op(0x6a).v128Load().get(a).get(row).op(0x6a).v128Load().simd(SIMD.f32x4Add);
      f.v128Store();
    });
    f.forLoop(j, () => f.get(n4), () => f.get(n), 1, () => {
      f.get(j).i32(4).op(0x6c).set(a);
      f.get(a).get(py).op(0x6a);
      f.get(a).get(py).op(0x6a).f32Load().get(a).get(row).op(0x6a).f32Load().op(0x92);
      f.f32Store();
    });
  });
  return instantiate(assemble([f], heapMemory(backend)), heapMemory(backend))['colsum'] as never;
}

/**
 * Emits inv = splat(1/sqrt(Σ_j row[j]²/N + eps)) for one row of N floats at byte address `row`
 * (the RMSNorm scale the forward and dscale kernels share); `acc`, `x` are scratch v128 locals.
 */
function emitRowInverseRms(f: Fn, l: { row: number; j: number; n: number; eps: number; acc: number; x: number; inv: number }): void {
  f.f32(0).simd(SIMD.f32x4Splat).set(l.acc);
  f.forLoop(l.j, () => f.i32(0), () => f.get(l.n), 4, () => {
    f.get(l.row).get(l.j).i32(4).op(0x6c).op(0x6a).v128Load().tee(l.x).get(l.x).simd(SIMD.f32x4Mul).get(l.acc).simd(SIMD.f32x4Add).set(l.acc);
  });
  f.f32(1);
  emitHorizontal(f, l.acc, 0x92);
  f.get(l.n).op(0xb3).op(0x95).get(l.eps).op(0x92).op(0x91).op(0x95).simd(SIMD.f32x4Splat).set(l.inv); // 1/sqrt(Σ/N + eps)
}

interface RmsFns {
  fwd: (x: number, s: number, y: number, m: number, n: number, eps: number) => void;
  dx: (x: number, s: number, dy: number, dx: number, m: number, n: number, eps: number) => void;
  ds: (x: number, dy: number, ds: number, m: number, n: number, eps: number) => void;
}

function buildRmsNorm(backend: WasmBackendLike): RmsFns {
  const make = (name: string, params: Array<typeof I32 | typeof F32>) => new Fn(name, params);
  // ---- forward ----
  const fwd = make('fwd', [I32, I32, I32, I32, I32, F32]);
  {
    const f = fwd;
    const [px, ps, py, m, n, eps] = [0, 1, 2, 3, 4, 5];
    const r = f.local(I32);
    const j = f.local(I32);
    const row = f.local(I32);
    const out = f.local(I32);
    const a = f.local(I32);
    const acc = f.local(V128);
    const x = f.local(V128);
    const inv = f.local(V128);
    f.forLoop(r, () => f.i32(0), () => f.get(m), 1, () => {
      f.get(r).get(n).op(0x6c).i32(4).op(0x6c).tee(a).get(px).op(0x6a).set(row);
      f.get(a).get(py).op(0x6a).set(out);
      emitRowInverseRms(f, { row, j, n, eps, acc, x, inv });
      f.forLoop(j, () => f.i32(0), () => f.get(n), 4, () => {
        f.get(j).i32(4).op(0x6c).set(a);
        f.get(out).get(a).op(0x6a);
        f.get(row).get(a).op(0x6a).v128Load().get(inv).simd(SIMD.f32x4Mul).get(ps).get(a).op(0x6a).v128Load().simd(SIMD.f32x4Mul);
        f.v128Store();
      });
    });
  }
  // ---- dx ----
  const dxf = make('dx', [I32, I32, I32, I32, I32, I32, F32]);
  {
    const f = dxf;
    const [px, ps, pdy, pdx, m, n, eps] = [0, 1, 2, 3, 4, 5, 6];
    const r = f.local(I32);
    const j = f.local(I32);
    const row = f.local(I32);
    const grow = f.local(I32);
    const out = f.local(I32);
    const a = f.local(I32);
    const acc = f.local(V128);
    const dot = f.local(V128);
    const x = f.local(V128);
    const inv = f.local(V128);
    const c2 = f.local(V128);
    const invs = f.local(F32);
    f.forLoop(r, () => f.i32(0), () => f.get(m), 1, () => {
      f.get(r).get(n).op(0x6c).i32(4).op(0x6c).tee(a).get(px).op(0x6a).set(row);
      f.get(a).get(pdy).op(0x6a).set(grow);
      f.get(a).get(pdx).op(0x6a).set(out);
      f.f32(0).simd(SIMD.f32x4Splat).tee(acc).set(dot);
      f.forLoop(j, () => f.i32(0), () => f.get(n), 4, () => {
        f.get(j).i32(4).op(0x6c).set(a);
        f.get(row).get(a).op(0x6a).v128Load().tee(x).get(x).simd(SIMD.f32x4Mul).get(acc).simd(SIMD.f32x4Add).set(acc);
        f.get(grow).get(a).op(0x6a).v128Load().get(ps).get(a).op(0x6a).v128Load().simd(SIMD.f32x4Mul).get(x).simd(SIMD.f32x4Mul).get(dot).simd(SIMD.f32x4Add).set(dot);
      });
      f.f32(1);
      emitHorizontal(f, acc, 0x92);
      f.get(n).op(0xb3).op(0x95).get(eps).op(0x92).op(0x91).op(0x95).tee(invs).simd(SIMD.f32x4Splat).set(inv);
      // c2 = r³·dot/N
      emitHorizontal(f, dot, 0x92);
      f.get(invs).op(0x94).get(invs).op(0x94).get(invs).op(0x94).get(n).op(0xb3).op(0x95).simd(SIMD.f32x4Splat).set(c2);
      f.forLoop(j, () => f.i32(0), () => f.get(n), 4, () => {
        f.get(j).i32(4).op(0x6c).set(a);
        f.get(out).get(a).op(0x6a);
        f.get(grow).get(a).op(0x6a).v128Load().get(ps).get(a).op(0x6a).v128Load().simd(SIMD.f32x4Mul).get(inv).simd(SIMD.f32x4Mul);
        f.get(row).get(a).op(0x6a).v128Load().get(c2).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Sub);
        f.v128Store();
      });
    });
  }
  // ---- dscale ----
  const dsf = make('ds', [I32, I32, I32, I32, I32, F32]);
  {
    const f = dsf;
    const [px, pdy, pds, m, n, eps] = [0, 1, 2, 3, 4, 5];
    const r = f.local(I32);
    const j = f.local(I32);
    const row = f.local(I32);
    const grow = f.local(I32);
    const a = f.local(I32);
    const acc = f.local(V128);
    const x = f.local(V128);
    const inv = f.local(V128);
    f.forLoop(j, () => f.i32(0), () => f.get(n), 4, () => {
      f.get(j).i32(4).op(0x6c).get(pds).op(0x6a).f32(0).simd(SIMD.f32x4Splat).v128Store();
    });
    f.forLoop(r, () => f.i32(0), () => f.get(m), 1, () => {
      f.get(r).get(n).op(0x6c).i32(4).op(0x6c).tee(a).get(px).op(0x6a).set(row);
      f.get(a).get(pdy).op(0x6a).set(grow);
      emitRowInverseRms(f, { row, j, n, eps, acc, x, inv });
      f.forLoop(j, () => f.i32(0), () => f.get(n), 4, () => {
        f.get(j).i32(4).op(0x6c).set(a);
        f.get(pds).get(a).op(0x6a);
        f.get(grow).get(a).op(0x6a).v128Load().get(row).get(a).op(0x6a).v128Load().simd(SIMD.f32x4Mul).get(inv).simd(SIMD.f32x4Mul);
        f.get(pds).get(a).op(0x6a).v128Load().simd(SIMD.f32x4Add);
        f.v128Store();
      });
    });
  }
  const ex = instantiate(assemble([fwd, dxf, dsf], heapMemory(backend)), heapMemory(backend));
  return { fwd: ex['fwd'] as RmsFns['fwd'], dx: ex['dx'] as RmsFns['dx'], ds: ex['ds'] as RmsFns['ds'] };
}

// ---------------------------------------------------------------------------------------------
// Kernel registration

let registered = false;
const attnModules = new Map<string, AttnModule>();
let dropFn: ReturnType<typeof buildDropout> | undefined;
let colsumFn: ReturnType<typeof buildColumnSum> | undefined;
let rmsFns: RmsFns | undefined;
let cacheMemory: WasmMemory | undefined;

/** Generated modules are bound to one backend instance's memory: drop them if tfjs re-creates the backend. */
function checkMemory(backend: WasmBackendLike): void {
  if (heapMemory(backend) === cacheMemory) return;
  cacheMemory = heapMemory(backend);
  attnModules.clear();
  dropFn = undefined;
  colsumFn = undefined;
  rmsFns = undefined;
}

/** tfjs's wasm memory, which the generated modules import (a SharedArrayBuffer-backed one with the threaded build). */
function heapMemory(backend: WasmBackendLike): WasmMemory {
  const memory = backend.wasm.asm.memory ?? backend.wasm.wasmMemory;
  if (!memory) throw new Error('fused kernels: the wasm backend exposes no memory');
  return memory;
}

function offset(backend: WasmBackendLike, t: tf.TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

function attnModule(backend: WasmBackendLike, a: AttnAttrs): AttnModule {
  const key = `${a.seq}/${a.heads}/${a.headDim}/${a.ropeTheta}/${a.causal}/${a.dropout}`;
  checkMemory(backend);
  let m = attnModules.get(key);
  if (!m) {
    m = buildAttention(backend, a);
    attnModules.set(key, m);
  }
  return m;
}

/** Registers the fused kernels and their gradients on the wasm backend (idempotent). */
export function installFusedKernels(): void {
  if (registered) return;
  tf.registerKernel({
    kernelName: ATTN,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const be = backend as unknown as WasmBackendLike;
      const a = attrs as unknown as AttnAttrs;
      const { qkv } = inputs as { qkv: tf.TensorInfo };
      const m = attnModule(be, a);
      const d = a.heads * a.headDim;
      const out = be.makeOutput([a.batch * a.seq, d], 'float32');
      // Rows padded to a multiple of 4 columns (zeros) so the kernels store whole vectors.
      const probs = be.makeOutput([a.batch * a.heads, a.seq, Math.ceil(a.seq / 4) * 4], 'float32');
      const [k1, k2] = dropoutKeys(a.seed);
      m.fwd(offset(be, qkv), offset(be, out), offset(be, probs), a.batch, k1 | 0, k2 | 0, m.scratch);
      return [out, probs];
    },
  });
  tf.registerKernel({
    kernelName: ATTN_GRAD,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const be = backend as unknown as WasmBackendLike;
      const a = attrs as unknown as AttnAttrs;
      const { dy, qkv, probs } = inputs as { dy: tf.TensorInfo; qkv: tf.TensorInfo; probs: tf.TensorInfo };
      const m = attnModule(be, a);
      const dqkv = be.makeOutput([...qkv.shape], 'float32');
      const [k1, k2] = dropoutKeys(a.seed);
      m.bwd(offset(be, qkv), offset(be, probs), offset(be, dy), offset(be, dqkv), a.batch, k1 | 0, k2 | 0, m.scratch);
      return dqkv;
    },
  });
  tf.registerGradient({
    kernelName: ATTN,
    inputsToSave: ['qkv'],
    outputsToSave: [false, true],
    gradFunc: (dy, saved, attrs) => {
      const [qkv, probs] = saved as [tf.Tensor, tf.Tensor];
      const g = Array.isArray(dy) ? dy[0]! : dy;
      return { qkv: () => tf.engine().runKernel(ATTN_GRAD, { dy: g, qkv, probs }, attrs as never) as tf.Tensor };
    },
  });
  tf.registerKernel({
    kernelName: DROPOUT,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const be = backend as unknown as WasmBackendLike;
      const { rate, seed } = attrs as unknown as { rate: number; seed: number };
      const { x } = inputs as { x: tf.TensorInfo };
      checkMemory(be);
      dropFn ??= buildDropout(be);
      const y = be.makeOutput([...x.shape], 'float32');
      const [k1, k2] = dropoutKeys(seed);
      const n = x.shape.reduce((p, q) => p * q, 1);
      dropFn(offset(be, x), offset(be, y), n, k1 | 0, k2 | 0, keepThreshold(rate) | 0, 1 / (1 - rate));
      return y;
    },
  });
  tf.registerGradient({
    kernelName: DROPOUT,
    gradFunc: (dy, _saved, attrs) => ({ x: () => tf.engine().runKernel(DROPOUT, { x: dy as tf.Tensor }, attrs as never) as tf.Tensor }),
  });
  tf.registerKernel({
    kernelName: COLSUM,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const be = backend as unknown as WasmBackendLike;
      const { x } = inputs as { x: tf.TensorInfo };
      const [m, n] = x.shape as [number, number];
      checkMemory(be);
      colsumFn ??= buildColumnSum(be);
      const y = be.makeOutput([n], 'float32');
      colsumFn(offset(be, x), offset(be, y), m, n);
      return y;
    },
  });
  const rmsKernel = (name: string, run: (fns: RmsFns, be: WasmBackendLike, inputs: Record<string, tf.TensorInfo>, eps: number) => tf.TensorInfo) => {
    tf.registerKernel({
      kernelName: name,
      backendName: 'wasm',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const be = backend as unknown as WasmBackendLike;
        checkMemory(be);
        rmsFns ??= buildRmsNorm(be);
        return run(rmsFns, be, inputs as Record<string, tf.TensorInfo>, (attrs as unknown as { eps: number }).eps);
      },
    });
  };
  rmsKernel(RMS, (fns, be, { x, scale }, eps) => {
    const [m, n] = x!.shape as [number, number];
    const y = be.makeOutput([m, n], 'float32');
    fns.fwd(offset(be, x!), offset(be, scale!), offset(be, y), m, n, eps);
    return y;
  });
  rmsKernel(RMS_DX, (fns, be, { x, scale, dy }, eps) => {
    const [m, n] = x!.shape as [number, number];
    const dx = be.makeOutput([m, n], 'float32');
    fns.dx(offset(be, x!), offset(be, scale!), offset(be, dy!), offset(be, dx), m, n, eps);
    return dx;
  });
  rmsKernel(RMS_DS, (fns, be, { x, dy }, eps) => {
    const [m, n] = x!.shape as [number, number];
    const ds = be.makeOutput([n], 'float32');
    fns.ds(offset(be, x!), offset(be, dy!), offset(be, ds), m, n, eps);
    return ds;
  });
  tf.registerGradient({
    kernelName: RMS,
    inputsToSave: ['x', 'scale'],
    gradFunc: (dy, saved, attrs) => {
      const [x, scale] = saved as [tf.Tensor, tf.Tensor];
      // Each input's gradient is its own kernel, so a frozen scale (PEFT) costs nothing.
      return {
        x: () => tf.engine().runKernel(RMS_DX, { x, scale, dy: dy as tf.Tensor }, attrs as never) as tf.Tensor,
        scale: () => tf.engine().runKernel(RMS_DS, { x, dy: dy as tf.Tensor }, attrs as never) as tf.Tensor,
      };
    },
  });
  registered = true;
}

/**
 * `npm run bench:gemm`: GFLOP/s of the dense products of one `19m` PPG-GPT training step at
 * batch 64 (docs/models.md) for
 *   xnn        tfjs-backend-wasm's tf.matMul (XNNPACK), the backend set up by engine/backend.ts,
 *              with a freshly computed right operand each call, as in training (tfjs-wasm caches
 *              XNNPACK's packed weights per right-operand tensor, and in a training step every
 *              right operand is new: gradients, transposes, weights after the optimizer step);
 *   xnn-cached the same call on the same right operand again (packing cached): XNNPACK's GEMM alone;
 *   muladd     a register- and cache-blocked GEMM generated here with wasm-asm.ts, f32x4.mul + add;
 *   relaxed    the same GEMM with f32x4.relaxed_madd (one FMA where the CPU has it).
 * Why: the issue asks whether relaxed-SIMD FMA or a better-blocked GEMM could close the gap to
 * PyTorch. This only measures; nothing here is used in training.
 *
 * Node 20 (V8 11.3) decodes relaxed SIMD only with --experimental-wasm-relaxed-simd: when
 * WebAssembly.validate refuses the probe module, the benchmark re-runs itself in a child process
 * with that flag and runs every variant there, interleaved (the flag only enables decoding).
 *
 * Options: --shapes all|M,N,K[;M,N,K…]  --reps 7  --warmup 2  --no-relaxed (stay in this process)
 *          --plan-muladd MRxNR[s]:KC:MC:NC:U  --plan-relaxed …  (micro-tile, s = shuffle splats,
 *          blocking, k unroll; defaults DEFAULT_PLANS)
 *          --tune (sweep micro-tiles on one shape)  --json FILE
 * Timings are single-threaded (FAIRTUNE_WASM_THREADS is forced to 1) and the load average is
 * printed with them: the development machine is shared.
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { realpathSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { initEngine } from '../engine/backend.js';
import { assemble, Fn, I32, instantiate, SIMD, V128, validate, type WasmMemory } from '../engine/wasm-asm.js';

// ---------------------------------------------------------------------------------------------
// The generated GEMM: C[M,N] = A[M,K]·B[K,N], row-major f32, in tfjs's wasm heap (byte offsets)

/** Micro-tile and cache blocking of the generated GEMM. */
export interface GemmPlan {
  /** Rows of C per micro-tile (accumulators: mr·nr/4 v128 registers). */
  readonly mr: number;
  /** Columns of C per micro-tile, a multiple of 4. */
  readonly nr: number;
  /** Depth of a packed block (one B micro-panel, kc·nr floats, should stay in L1). */
  readonly kc: number;
  /** Rows of A per packed block, a multiple of mr (mc·kc floats, should stay in L2). */
  readonly mc: number;
  /** Columns of B per packed block, a multiple of nr. */
  readonly nc: number;
  /** k steps per iteration of the inner loop (immediate offsets instead of pointer updates). */
  readonly unroll: number;
  /**
   * How A values are broadcast: 'load' = one v128.load32_splat per row; 'shuffle' = rows 0–3
   * from one v128 load, each splat by a lane shuffle just before its use (rows ≥ 4 still loaded).
   * 'shuffle' holds one register for four rows, which lets a 5x8 tile keep 10 accumulators.
   */
  readonly splat?: 'load' | 'shuffle';
}

export type GemmVariant = 'muladd' | 'relaxed';

/**
 * Defaults from --tune on the development machine (Intel Xeon, AVX-512, 48 KiB L1d, 2 MiB L2;
 * a loaded machine, so CPU time and only clear differences count).
 * - Registers: TurboFan issues all loads of a k step before its arithmetic, so every B vector and
 *   broadcast A value of a step is live at once next to the accumulators, in V8's 15 allocatable
 *   xmm registers. 4x8 with load splats needs 8 + 2 + 4 (+ 1 product for mul + add) = 15; 5x8,
 *   6x8 and 3x12 spill.
 * - relaxed_madd: one FMA has 4 cycles of latency and two issue ports, so 8 accumulators leave
 *   the FMA units partly idle (a register-only loop: 8 chains 47, 10 chains 54 GFLOP/s). 5x8 with
 *   'shuffle' splats fits 10 accumulators (10 + 2 B + 1 A vector + 1 splat + 1 row-4 splat) and
 *   gains ~10 % over 4x8. With mul + add the shuffles cost more than they save (port 5 also adds).
 * - Unroll 1: with the k loop unrolled, TurboFan hoists the loads of every step to the top of the
 *   body and spills accumulators (seen with --print-wasm-code), 20–40 % slower.
 * - kc 512 keeps a B micro-panel (16 KiB) in L1 and mc ≈ 64 an A block (≈128 KiB) in L2; ~5 % over
 *   kc 256 where K ≈ 2000 (fewer C read-modify-write passes). nc 2048 covers N: B is packed once per
 *   k block and A once per k block.
 */
export const DEFAULT_PLANS: Readonly<Record<GemmVariant, GemmPlan>> = {
  muladd: { mr: 4, nr: 8, kc: 512, mc: 64, nc: 2048, unroll: 1, splat: 'load' },
  relaxed: { mr: 5, nr: 8, kc: 512, mc: 60, nc: 2048, unroll: 1, splat: 'shuffle' },
};

interface GemmExports {
  packA(src: number, ldaBytes: number, mc: number, kc: number, dst: number): void;
  packB(src: number, ldbBytes: number, kc: number, nc: number, dst: number): void;
  macro(pa: number, pb: number, c: number, mc: number, nc: number, kc: number, ldcBytes: number, accumulate: number, scratch: number): void;
}

const ADD = 0x6a;
const SUB = 0x6b;
const MUL = 0x6c;
const DIV_U = 0x6e;
const LT_S = 0x48;
const GT_S = 0x4a;
const EQ = 0x46;
const AND = 0x71;
const SELECT = 0x1b;
const F32_ADD = 0x92;

/** Emits min(a, b) of two i32 emitters (select keeps it branch-free). */
function emitMin(f: Fn, a: () => void, b: () => void): void {
  a();
  b();
  a();
  b();
  f.op(LT_S, SELECT);
}

/**
 * packB: B block [kc, nc] (row stride ldb bytes) → panels of nr columns, each kc·nr floats
 * contiguous in k order, so the micro-kernel reads B with one pointer and whole vectors. The last
 * panel is zero-padded: padded columns contribute 0 and are never stored.
 */
function emitPackB(p: GemmPlan): Fn {
  const f = new Fn('packB', [I32, I32, I32, I32, I32]);
  const [src, ldb, kc, nc, dst] = [0, 1, 2, 3, 4];
  const jp = f.local(I32);
  const k = f.local(I32);
  const s = f.local(I32);
  const d = f.local(I32);
  const full = f.local(I32);
  const rem = f.local(I32);
  const panelBytes = () => f.i32(p.nr * 4).get(kc).op(MUL);
  f.get(nc).i32(p.nr).op(DIV_U).set(full);
  f.get(nc).get(full).i32(p.nr).op(MUL).op(SUB).set(rem);
  f.forLoop(jp, () => f.i32(0), () => f.get(full), 1, () => {
    f.get(jp).i32(p.nr * 4).op(MUL).get(src).op(ADD).set(s);
    f.get(jp);
    panelBytes();
    f.op(MUL).get(dst).op(ADD).set(d);
    f.get(kc).set(k);
    f.countDown(k, () => {
      for (let v = 0; v < p.nr / 4; v++) f.get(d).get(s).v128Load(v * 16).v128Store(v * 16);
      f.get(s).get(ldb).op(ADD).set(s);
      f.get(d).i32(p.nr * 4).op(ADD).set(d);
    });
  });
  f.get(rem).ifElse(() => {
    f.get(full).i32(p.nr * 4).op(MUL).get(src).op(ADD).set(s);
    f.get(full);
    panelBytes();
    f.op(MUL).get(dst).op(ADD).set(d);
    f.get(kc).set(k);
    f.countDown(k, () => {
      for (let j = 0; j < p.nr; j++) {
        // Column j exists when rem > j; otherwise pad with 0 (never read past the row).
        f.get(rem).i32(j).op(GT_S).ifElse(
          () => f.get(d).get(s).f32Load(j * 4).f32Store(j * 4),
          () => f.get(d).f32(0).f32Store(j * 4),
        );
      }
      f.get(s).get(ldb).op(ADD).set(s);
      f.get(d).i32(p.nr * 4).op(ADD).set(d);
    });
  });
  return f;
}

/**
 * packA: A block [mc, kc] (row stride lda bytes) → panels of mr rows, k-major (mr floats per k),
 * so the micro-kernel broadcasts A values from one pointer with immediate offsets. Rows past mc
 * repeat the last row (finite values; their results are never stored).
 */
function emitPackA(p: GemmPlan): Fn {
  const f = new Fn('packA', [I32, I32, I32, I32, I32]);
  const [src, lda, mc, kc, dst] = [0, 1, 2, 3, 4];
  const ip = f.local(I32);
  const np = f.local(I32);
  const k = f.local(I32);
  const d = f.local(I32);
  const i = f.local(I32);
  const rows = Array.from({ length: p.mr }, () => f.local(I32));
  f.get(mc).i32(p.mr - 1).op(ADD).i32(p.mr).op(DIV_U).set(np);
  f.forLoop(ip, () => f.i32(0), () => f.get(np), 1, () => {
    rows.forEach((row, r) => {
      // row = src + min(ip·mr + r, mc − 1)·lda
      f.get(ip).i32(p.mr).op(MUL).i32(r).op(ADD).set(i);
      f.get(i).get(mc).i32(1).op(SUB).get(i).get(mc).op(LT_S, SELECT);
      f.get(lda).op(MUL).get(src).op(ADD).set(row);
    });
    f.get(ip).i32(p.mr * 4).op(MUL).get(kc).op(MUL).get(dst).op(ADD).set(d);
    f.get(kc).set(k);
    f.countDown(k, () => {
      rows.forEach((row, r) => f.get(d).get(row).f32Load().f32Store(r * 4));
      rows.forEach((row) => f.get(row).i32(4).op(ADD).set(row));
      f.get(d).i32(p.mr * 4).op(ADD).set(d);
    });
  });
  return f;
}

/** Locals of the macro-kernel shared by its emitters. */
interface MacroLocals {
  readonly pa: number;
  readonly pb: number;
  readonly c: number;
  readonly mc: number;
  readonly nc: number;
  readonly kc: number;
  readonly ldc: number;
  readonly accumulate: number;
  readonly scratch: number;
  readonly jp: number;
  readonly ip: number;
  readonly aPtr: number;
  readonly bPtr: number;
  readonly cTile: number;
  readonly rows: number;
  readonly cols: number;
  readonly n: number;
  readonly i: number;
  readonly j: number;
  readonly addr: number;
  /** acc[r][v]: row r, columns 4v..4v+3 of the tile. */
  readonly acc: readonly (readonly number[])[];
  readonly bv: readonly number[];
  readonly av: number;
  /** A values of rows 0–3 at one k (splat 'shuffle' only). */
  readonly aVec: number;
}

/**
 * One k step of the micro-kernel at byte offsets oa (packed A) and ob (packed B): nr/4 vector
 * loads of B, mr broadcasts of A, mr·nr/4 multiply-accumulates into registers.
 */
function emitKStep(f: Fn, l: MacroLocals, p: GemmPlan, variant: GemmVariant, oa: number, ob: number): void {
  l.bv.forEach((b, v) => f.get(l.bPtr).v128Load(ob + v * 16).set(b));
  const shuffled = p.splat === 'shuffle';
  if (shuffled) f.get(l.aPtr).v128Load(oa).set(l.aVec);
  for (let r = 0; r < p.mr; r++) {
    if (shuffled && r < 4) f.get(l.aVec).get(l.aVec).i8x16Shuffle(Array.from({ length: 16 }, (_, i) => 4 * r + (i % 4))).set(l.av);
    else f.get(l.aPtr).v128Load32Splat(oa + r * 4).set(l.av);
    l.bv.forEach((b, v) => {
      const acc = l.acc[r]![v]!;
      if (variant === 'relaxed') f.get(l.av).get(b).get(acc).simd(SIMD.f32x4RelaxedMadd).set(acc);
      else f.get(acc).get(l.av).get(b).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add).set(acc);
    });
  }
}

/** The micro-kernel's k loop: unrolled main part, then the kc mod unroll remaining steps. */
function emitKLoop(f: Fn, l: MacroLocals, p: GemmPlan, variant: GemmVariant): void {
  for (const row of l.acc) for (const acc of row) f.f32(0).simd(SIMD.f32x4Splat).set(acc);
  f.get(l.kc).i32(p.unroll).op(DIV_U).set(l.n);
  f.countDown(l.n, () => {
    for (let u = 0; u < p.unroll; u++) emitKStep(f, l, p, variant, u * p.mr * 4, u * p.nr * 4);
    f.get(l.aPtr).i32(p.unroll * p.mr * 4).op(ADD).set(l.aPtr);
    f.get(l.bPtr).i32(p.unroll * p.nr * 4).op(ADD).set(l.bPtr);
  });
  f.get(l.kc).get(l.kc).i32(p.unroll).op(DIV_U).i32(p.unroll).op(MUL).op(SUB).set(l.n);
  f.countDown(l.n, () => {
    emitKStep(f, l, p, variant, 0, 0);
    f.get(l.aPtr).i32(p.mr * 4).op(ADD).set(l.aPtr);
    f.get(l.bPtr).i32(p.nr * 4).op(ADD).set(l.bPtr);
  });
}

/**
 * Writes the accumulators to C (C = acc on the first k block, C += acc after). A whole tile goes
 * straight from registers; a tile cut by M or N goes through the scratch tile and a scalar copy of
 * its rows × cols valid part, so nothing outside C is ever written.
 */
function emitStoreTile(f: Fn, l: MacroLocals, p: GemmPlan): void {
  const whole = (add: boolean) => {
    f.get(l.cTile).set(l.addr);
    l.acc.forEach((row, r) => {
      row.forEach((acc, v) => {
        f.get(l.addr).get(acc);
        if (add) f.get(l.addr).v128Load(v * 16).simd(SIMD.f32x4Add);
        f.v128Store(v * 16);
      });
      if (r + 1 < p.mr) f.get(l.addr).get(l.ldc).op(ADD).set(l.addr);
    });
  };
  f.get(l.rows).i32(p.mr).op(EQ).get(l.cols).i32(p.nr).op(EQ).op(AND);
  f.ifElse(
    () => f.get(l.accumulate).ifElse(() => whole(true), () => whole(false)),
    () => {
      l.acc.forEach((row, r) => row.forEach((acc, v) => f.get(l.scratch).get(acc).v128Store((r * p.nr + v * 4) * 4)));
      f.forLoop(l.i, () => f.i32(0), () => f.get(l.rows), 1, () => {
        f.forLoop(l.j, () => f.i32(0), () => f.get(l.cols), 1, () => {
          f.get(l.i).get(l.ldc).op(MUL).get(l.cTile).op(ADD).get(l.j).i32(4).op(MUL).op(ADD).set(l.addr);
          f.get(l.addr);
          f.get(l.i).i32(p.nr).op(MUL).get(l.j).op(ADD).i32(4).op(MUL).get(l.scratch).op(ADD).f32Load();
          f.get(l.addr).f32Load().f32(0).get(l.accumulate).op(SELECT).op(F32_ADD);
          f.f32Store();
        });
      });
    },
  );
}

/**
 * macro: every micro-tile of one packed A block [mc, kc] × packed B block [kc, nc]. B panels in
 * the outer loop, so one B micro-panel stays in L1 while the A panels stream from L2.
 */
function emitMacro(p: GemmPlan, variant: GemmVariant): Fn {
  const f = new Fn('macro', [I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const loc = () => f.local(I32);
  const base = { pa: 0, pb: 1, c: 2, mc: 3, nc: 4, kc: 5, ldc: 6, accumulate: 7, scratch: 8 };
  const ints = { jp: loc(), ip: loc(), aPtr: loc(), bPtr: loc(), cTile: loc(), rows: loc(), cols: loc(), n: loc(), i: loc(), j: loc(), addr: loc() };
  const acc = Array.from({ length: p.mr }, () => Array.from({ length: p.nr / 4 }, () => f.local(V128)));
  const bv = Array.from({ length: p.nr / 4 }, () => f.local(V128));
  const l: MacroLocals = { ...base, ...ints, acc, bv, av: f.local(V128), aVec: f.local(V128) };
  const nPanels = f.local(I32);
  const mPanels = f.local(I32);
  f.get(l.nc).i32(p.nr - 1).op(ADD).i32(p.nr).op(DIV_U).set(nPanels);
  f.get(l.mc).i32(p.mr - 1).op(ADD).i32(p.mr).op(DIV_U).set(mPanels);
  f.forLoop(l.jp, () => f.i32(0), () => f.get(nPanels), 1, () => {
    emitMin(f, () => f.i32(p.nr), () => f.get(l.nc).get(l.jp).i32(p.nr).op(MUL).op(SUB));
    f.set(l.cols);
    f.forLoop(l.ip, () => f.i32(0), () => f.get(mPanels), 1, () => {
      emitMin(f, () => f.i32(p.mr), () => f.get(l.mc).get(l.ip).i32(p.mr).op(MUL).op(SUB));
      f.set(l.rows);
      f.get(l.ip).i32(p.mr * 4).op(MUL).get(l.kc).op(MUL).get(l.pa).op(ADD).set(l.aPtr);
      f.get(l.jp).i32(p.nr * 4).op(MUL).get(l.kc).op(MUL).get(l.pb).op(ADD).set(l.bPtr);
      f.get(l.ip).i32(p.mr).op(MUL).get(l.ldc).op(MUL).get(l.c).op(ADD);
      f.get(l.jp).i32(p.nr * 4).op(MUL).op(ADD).set(l.cTile);
      emitKLoop(f, l, p, variant);
      emitStoreTile(f, l, p);
    });
  });
  return f;
}

function checkPlan(p: GemmPlan): void {
  const ok = p.mr >= 1 && p.mr <= 8 && p.nr % 4 === 0 && p.nr >= 4 && p.nr <= 16 && p.kc >= 1 && p.unroll >= 1 && p.mc % p.mr === 0 && p.nc % p.nr === 0 && p.mc > 0 && p.nc > 0;
  // A 'shuffle' step reads four A values at once: a panel narrower than 4 rows would read past it.
  if (!ok || (p.splat === 'shuffle' && p.mr < 4)) throw new Error(`gemm plan ${JSON.stringify(p)}: need 1 ≤ mr ≤ 8 (≥ 4 with splat 'shuffle'), nr ∈ {4, 8, 12, 16}, mc a multiple of mr, nc of nr`);
}

/** The subset of tfjs-wasm's backend the GEMM uses (its heap and tensor offsets). */
export interface WasmHeapBackend {
  wasm: { asm: { memory?: WasmMemory }; wasmMemory?: WasmMemory; _malloc(n: number): number; _free(p: number): void; HEAPF32: Float32Array };
  dataIdMap: { get(id: unknown): { memoryOffset: number } };
}

/** tfjs's wasm memory (exported by the single-threaded build, imported by the threaded one). */
export function heapMemoryOf(backend: WasmHeapBackend): WasmMemory {
  const memory = backend.wasm.asm.memory ?? backend.wasm.wasmMemory;
  if (!memory) throw new Error('gemm: the wasm backend exposes no memory');
  return memory;
}

/** Byte offset of a tensor's data in tfjs's wasm heap. */
export function heapOffset(backend: WasmHeapBackend, t: tf.Tensor): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

/**
 * A GEMM generated for one plan and variant, working in place in tfjs's heap. Packing buffers
 * (64-byte aligned) are allocated once with the backend's malloc; free() returns them.
 */
export class WasmGemm {
  readonly #ex: GemmExports;
  readonly #backend: WasmHeapBackend;
  readonly #raw: number;
  readonly #packA: number;
  readonly #packB: number;
  readonly #scratch: number;

  constructor(backend: WasmHeapBackend, readonly variant: GemmVariant, readonly plan: GemmPlan) {
    checkPlan(plan);
    this.#backend = backend;
    const memory = heapMemoryOf(backend);
    this.#ex = instantiate(assemble([emitPackA(plan), emitPackB(plan), emitMacro(plan, variant)], memory), memory) as unknown as GemmExports;
    const aBytes = plan.mc * plan.kc * 4;
    const bBytes = plan.nc * plan.kc * 4;
    const sBytes = plan.mr * plan.nr * 4;
    this.#raw = backend.wasm._malloc(aBytes + bBytes + sBytes + 3 * 64);
    const align = (x: number) => Math.ceil(x / 64) * 64;
    this.#packA = align(this.#raw);
    this.#packB = align(this.#packA + aBytes);
    this.#scratch = align(this.#packB + bBytes);
  }

  /** C = A·B for A [m, k], B [k, n], C [m, n] at byte offsets a, b, c (C must not overlap A or B). */
  run(a: number, b: number, c: number, m: number, n: number, k: number): void {
    const p = this.plan;
    const ex = this.#ex;
    if (k === 0) {
      this.#backend.wasm.HEAPF32.fill(0, c / 4, c / 4 + m * n);
      return;
    }
    for (let jc = 0; jc < n; jc += p.nc) {
      const nc = Math.min(p.nc, n - jc);
      for (let pc = 0; pc < k; pc += p.kc) {
        const kc = Math.min(p.kc, k - pc);
        ex.packB(b + (pc * n + jc) * 4, n * 4, kc, nc, this.#packB);
        for (let ic = 0; ic < m; ic += p.mc) {
          const mc = Math.min(p.mc, m - ic);
          ex.packA(a + (ic * k + pc) * 4, k * 4, mc, kc, this.#packA);
          ex.macro(this.#packA, this.#packB, c + (ic * n + jc) * 4, mc, nc, kc, n * 4, pc > 0 ? 1 : 0, this.#scratch);
        }
      }
    }
  }

  free(): void {
    this.#backend.wasm._free(this.#raw);
  }
}

/** Whether this Node accepts f32x4.relaxed_madd (a one-function module that uses it). */
export function relaxedSimdSupported(): boolean {
  const f = new Fn('madd', [V128, V128, V128]);
  f.get(0).get(1).get(2).simd(SIMD.f32x4RelaxedMadd).simd(SIMD.f32x4Extract, 0).op(0x1a); // drop
  // A module only needs a memory object for the shared/unshared decision of its import.
  return validate(assemble([f], { buffer: new ArrayBuffer(0) }));
}

/**
 * A register-only loop of `chains` independent multiply-accumulates acc = acc·a + b (the product
 * depends on acc, so TurboFan cannot hoist it out of the loop). With relaxed_madd each chain is one
 * FMA and 12 chains cover its latency: the FMA units' throughput, the ceiling for that variant.
 * With mul + add each chain is a dependent mul → add, so the loop is latency-bound and stays below
 * what the GEMM (independent products) reaches: a reference, not a ceiling. Returns a function
 * running `iters` iterations (8·chains flops each).
 */
function buildPeak(memory: WasmMemory, variant: GemmVariant, chains: number): (iters: number, out: number) => void {
  const f = new Fn('peak', [I32, I32]);
  const [iters, out] = [0, 1];
  const a = f.local(V128);
  const b = f.local(V128);
  const acc = Array.from({ length: chains }, () => f.local(V128));
  f.f32(0.999).simd(SIMD.f32x4Splat).set(a);
  f.f32(0.001).simd(SIMD.f32x4Splat).set(b);
  acc.forEach((x, i) => f.f32(i / chains).simd(SIMD.f32x4Splat).set(x));
  f.countDown(iters, () => {
    for (const x of acc) {
      if (variant === 'relaxed') f.get(x).get(a).get(b).simd(SIMD.f32x4RelaxedMadd).set(x);
      else f.get(x).get(a).simd(SIMD.f32x4Mul).get(b).simd(SIMD.f32x4Add).set(x);
    }
  });
  // Sum the chains into memory so none of them is dead code.
  for (let i = 1; i < chains; i++) f.get(acc[0]!).get(acc[i]!).simd(SIMD.f32x4Add).set(acc[0]!);
  f.get(out).get(acc[0]!).v128Store();
  return instantiate(assemble([f], memory), memory)['peak'] as never;
}

// ---------------------------------------------------------------------------------------------
// The 19m training step's products

export interface Shape {
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** Which products of a block have this shape. */
  readonly role: string;
  /** How many times per block (layer) a training step computes it. */
  readonly perBlock: number;
}

/**
 * The dense products of one PPG-GPT block in a training step, with B·T = 64·31 = 1984 rows (the
 * `19m` window of 1200 samples in 40-sample patches, plus the start token: config.ts
 * sequenceLength), d = 512, FFN 4d = 2048. Forward x·W (ops.ts linear); backward dX = g·Wᵀ and
 * dW = xᵀ·g, or (gᵀ·x)ᵀ when g is wider (ops.ts picks the smaller packed operand), so the shapes
 * below are the (M, N, K) XNNPACK actually runs.
 */
export function stepShapes(rows = 64 * 31, d = 512, ffn = 2048): Shape[] {
  return [
    { m: rows, n: 3 * d, k: d, role: 'qkv fwd', perBlock: 1 },
    { m: rows, n: d, k: d, role: 'out-proj fwd, dX', perBlock: 2 },
    { m: rows, n: ffn, k: d, role: 'mlp1 fwd, mlp2 dX', perBlock: 2 },
    { m: rows, n: d, k: ffn, role: 'mlp2 fwd, mlp1 dX', perBlock: 2 },
    { m: rows, n: d, k: 3 * d, role: 'qkv dX', perBlock: 1 },
    { m: d, n: d, k: rows, role: 'out-proj dW', perBlock: 1 },
    { m: 3 * d, n: d, k: rows, role: 'qkv dW (gᵀx)', perBlock: 1 },
    { m: ffn, n: d, k: rows, role: 'mlp1 dW (gᵀx), mlp2 dW', perBlock: 2 },
  ];
}

// ---------------------------------------------------------------------------------------------
// Measurement

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

function parsePlan(text: string | undefined, fallback: GemmPlan): GemmPlan {
  if (!text) return fallback;
  const m = /^(\d+)x(\d+)(s?):(\d+):(\d+):(\d+):(\d+)$/.exec(text);
  if (!m) throw new Error(`plan "${text}": expected MRxNR[s]:KC:MC:NC:UNROLL (s: shuffle splats), e.g. 4x8:512:64:2048:1`);
  const [mr, nr, kc, mc, nc, unroll] = [m[1], m[2], m[4], m[5], m[6], m[7]].map(Number) as [number, number, number, number, number, number];
  return { mr, nr, kc, mc, nc, unroll, splat: m[3] ? 'shuffle' : 'load' };
}

function planText(p: GemmPlan): string {
  return `${p.mr}x${p.nr}${p.splat === 'shuffle' ? 's' : ''}:${p.kc}:${p.mc}:${p.nc}:${p.unroll}`;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');
const gflops = (s: Shape, ms: number): number => (2 * s.m * s.n * s.k) / (ms * 1e6);

/**
 * Wall-clock and CPU milliseconds of one call. CPU time (process.cpuUsage) leaves out the time
 * the process waited for a core: on a loaded machine it is the better measure of the code itself.
 */
interface Sample {
  readonly wall: number;
  readonly cpu: number;
}

/** Times fn (set-up done by the caller outside it). */
function sample(fn: () => void): Sample {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

/** One timed variant: time() runs one product. */
interface Timed {
  readonly name: string;
  time(): Sample;
}

/** Operands of one shape, kept in tfjs's heap, with tf.matMul's result as the reference. */
interface Operands {
  readonly a: tf.Tensor2D;
  readonly b: tf.Tensor2D;
  readonly ref: Float32Array;
  /** Byte offset of the generated GEMMs' output buffer [m, n]. */
  readonly c: number;
}

function makeOperands(backend: WasmHeapBackend, s: Shape, seed: number): Operands {
  const a = tf.keep(tf.randomNormal([s.m, s.k], 0, 1, 'float32', seed) as tf.Tensor2D);
  const b = tf.keep(tf.randomNormal([s.k, s.n], 0, 1, 'float32', seed + 1) as tf.Tensor2D);
  const y = tf.matMul(a, b);
  const ref = y.dataSync() as Float32Array;
  y.dispose();
  return { a, b, ref, c: backend.wasm._malloc(s.m * s.n * 4) };
}

function freeOperands(backend: WasmHeapBackend, o: Operands): void {
  tf.dispose([o.a, o.b]);
  backend.wasm._free(o.c);
}

/** max |C − ref| and that relative to max |ref| (the products' magnitude, ~√K here). */
function compare(backend: WasmHeapBackend, o: Operands): { maxAbs: number; rel: number } {
  const c = backend.wasm.HEAPF32.subarray(o.c / 4, o.c / 4 + o.ref.length);
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < o.ref.length; i++) {
    const d = Math.abs(c[i]! - o.ref[i]!);
    if (!(d <= maxAbs)) maxAbs = d; // also catches NaN
    maxRef = Math.max(maxRef, Math.abs(o.ref[i]!));
  }
  return { maxAbs, rel: maxAbs / maxRef };
}

/** tf.matMul with a right operand new to XNNPACK each call (the training case) or the same one. */
function xnnVariant(o: Operands, fresh: boolean): Timed {
  return {
    name: fresh ? 'xnn' : 'xnn-cached',
    time: () => {
      // A new tensor has a new id, so tfjs-wasm creates (and packs) a new XNNPACK operator.
      const b = fresh ? tf.add(o.b, 0) : o.b;
      let y: tf.Tensor | undefined;
      const t = sample(() => (y = tf.matMul(o.a, b)));
      y!.dispose();
      if (fresh) b.dispose();
      return t;
    },
  };
}

function gemmVariant(backend: WasmHeapBackend, gemm: WasmGemm, o: Operands, s: Shape): Timed {
  const a = heapOffset(backend, o.a);
  const b = heapOffset(backend, o.b);
  return {
    name: gemm.variant,
    time: () => sample(() => gemm.run(a, b, o.c, s.m, s.n, s.k)),
  };
}

/** Warm-up, then `reps` rounds with the variants interleaved, the order rotating every round. */
function timeInterleaved(variants: readonly Timed[], warmup: number, reps: number): Map<string, Sample[]> {
  for (const v of variants) for (let i = 0; i < warmup; i++) v.time();
  const times = new Map(variants.map((v) => [v.name, [] as Sample[]]));
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < variants.length; i++) {
      const v = variants[(r + i) % variants.length]!;
      times.get(v.name)!.push(v.time());
    }
  }
  return times;
}

/** GFLOP/s of the register-only loop per variant (median CPU time of 3 runs of ~0.1 s after a warm-up). */
function measurePeak(backend: WasmHeapBackend, variants: readonly GemmVariant[]): Map<GemmVariant, number> {
  const out = new Map<GemmVariant, number>();
  const scratch = backend.wasm._malloc(64);
  const chains = 12;
  for (const v of variants) {
    const peak = buildPeak(heapMemoryOf(backend), v, chains);
    peak(1_000_000, scratch);
    const iters = 20_000_000;
    const runs: number[] = [];
    // CPU time: a ceiling should not count the time another process held the core.
    for (let r = 0; r < 3; r++) runs.push(sample(() => peak(iters, scratch)).cpu);
    out.set(v, (iters * chains * 8) / (median(runs) * 1e6));
  }
  backend.wasm._free(scratch);
  return out;
}

interface ShapeResult {
  readonly shape: Shape;
  /** Median wall-clock ms, minimum wall-clock ms and median CPU ms per variant name. */
  readonly ms: Record<string, { median: number; min: number; cpu: number }>;
  /** Max |C − tf.matMul| relative to max |tf.matMul| per generated variant. */
  readonly error: Record<string, { maxAbs: number; rel: number }>;
  readonly load: string;
}

function benchShape(backend: WasmHeapBackend, s: Shape, gemms: readonly WasmGemm[], warmup: number, reps: number, seed: number): ShapeResult {
  const o = makeOperands(backend, s, seed);
  const error: ShapeResult['error'] = {};
  for (const g of gemms) {
    backend.wasm.HEAPF32.fill(Number.NaN, o.c / 4, o.c / 4 + s.m * s.n); // a missed element shows
    g.run(heapOffset(backend, o.a), heapOffset(backend, o.b), o.c, s.m, s.n, s.k);
    error[g.variant] = compare(backend, o);
    if (!(error[g.variant]!.rel < 1e-4)) throw new Error(`${g.variant} GEMM is wrong on ${s.m}x${s.n}x${s.k}: relative error ${error[g.variant]!.rel}`);
  }
  const variants = [xnnVariant(o, true), xnnVariant(o, false), ...gemms.map((g) => gemmVariant(backend, g, o, s))];
  const times = timeInterleaved(variants, warmup, reps);
  freeOperands(backend, o);
  const ms: ShapeResult['ms'] = {};
  for (const [name, xs] of times) {
    const wall = xs.map((x) => x.wall);
    ms[name] = { median: median(wall), min: Math.min(...wall), cpu: median(xs.map((x) => x.cpu)) };
  }
  return { shape: s, ms, error, load: load() };
}

function printShapeTable(results: readonly ShapeResult[], names: readonly string[], clock: 'median' | 'cpu'): void {
  const head = names.map((n) => `${n} ms | ${n} GFLOP/s`).join(' | ');
  console.log(clock === 'median' ? '\nWall-clock time, median:' : '\nCPU time of the process (on-core), median:');
  console.log(`| M | N | K | role | ${head} | rel. error ${names.filter((n) => !n.startsWith('xnn')).join(' / ')} | load avg |`);
  console.log(`|${'---:|'.repeat(3)}---|${'---:|'.repeat(2 * names.length + 1)}---|`);
  for (const r of results) {
    const cells = names.map((n) => {
      const t = r.ms[n]?.[clock];
      return t !== undefined ? `${t.toFixed(1)} | ${gflops(r.shape, t).toFixed(1)}` : '– | –';
    });
    const errs = Object.values(r.error).map((e) => e.rel.toExponential(1)).join(' / ');
    console.log(`| ${r.shape.m} | ${r.shape.n} | ${r.shape.k} | ${r.shape.role} | ${cells.join(' | ')} | ${errs} | ${r.load} |`);
  }
}

/** Matmul time of one whole 19m step (6 blocks) per variant, from the per-shape medians. */
function printStepTotals(results: readonly ShapeResult[], names: readonly string[], blocks: number): void {
  const flops = results.reduce((acc, r) => acc + blocks * r.shape.perBlock * 2 * r.shape.m * r.shape.n * r.shape.k, 0);
  console.log(`\nBlocks' dense products of one 19m step (${blocks} blocks, ${(flops / 1e9).toFixed(0)} GFLOP; shapes above × their count per block), wall / CPU:`);
  const xnn = results.reduce((acc, r) => acc + blocks * r.shape.perBlock * (r.ms['xnn']?.median ?? Number.NaN), 0);
  for (const n of names) {
    if (!results.every((r) => r.ms[n])) continue;
    const wall = results.reduce((acc, r) => acc + blocks * r.shape.perBlock * r.ms[n]!.median, 0);
    const cpu = results.reduce((acc, r) => acc + blocks * r.shape.perBlock * r.ms[n]!.cpu, 0);
    const speedup = `${(xnn / wall).toFixed(2)}× xnn`;
    console.log(`  ${n.padEnd(10)} ${(wall / 1000).toFixed(2)} s (${(flops / (wall * 1e6)).toFixed(1)} GFLOP/s, ${speedup}) / ${(cpu / 1000).toFixed(2)} s (${(flops / (cpu * 1e6)).toFixed(1)} GFLOP/s)`);
  }
}

/** Micro-tiles, blockings and unrolls tried by --tune (or --tune-plans a,b,c); `s` = shuffle splats. */
const TUNE_PLANS: readonly string[] = [
  '4x8:512:64:2048:1', '4x8:512:64:2048:2', '4x8:512:64:2048:4', '4x8:256:64:2048:1', '4x8:512:32:2048:1',
  '4x8:512:128:2048:1', '2x16:512:64:2048:1', '3x12:512:63:2040:1', '5x8:512:60:2048:1', '4x8s:512:64:2048:1',
  '5x8s:512:60:2048:1', '5x8s:256:60:2048:1', '6x8s:512:60:2048:1',
];

/** --tune: every candidate plan for each variant on one shape, interleaved over rounds. */
function tune(backend: WasmHeapBackend, variants: readonly GemmVariant[], s: Shape, reps: number): void {
  const o = makeOperands(backend, s, 7);
  const timed: Timed[] = [];
  const gemms: WasmGemm[] = [];
  for (const v of variants) {
    for (const text of (arg('tune-plans', '') || TUNE_PLANS.join(',')).split(',')) {
      const g = new WasmGemm(backend, v, parsePlan(text, DEFAULT_PLANS[v]));
      g.run(heapOffset(backend, o.a), heapOffset(backend, o.b), o.c, s.m, s.n, s.k);
      const err = compare(backend, o);
      if (!(err.rel < 1e-4)) throw new Error(`${v} ${text}: relative error ${err.rel}`);
      gemms.push(g);
      const t = gemmVariant(backend, g, o, s);
      timed.push({ name: `${v} ${text}`, time: t.time });
    }
  }
  timed.push(xnnVariant(o, true), xnnVariant(o, false));
  const times = timeInterleaved(timed, 1, reps);
  console.log(`\n--tune on M=${s.m} N=${s.n} K=${s.k}, median of ${reps} interleaved rounds, wall-clock and CPU (load ${load()}):`);
  for (const [name, xs] of times) {
    const wall = median(xs.map((x) => x.wall));
    const cpu = median(xs.map((x) => x.cpu));
    console.log(`  ${name.padEnd(26)} ${wall.toFixed(1).padStart(7)} ms ${gflops(s, wall).toFixed(1).padStart(5)} GFLOP/s   CPU ${cpu.toFixed(1).padStart(7)} ms ${gflops(s, cpu).toFixed(1).padStart(5)} GFLOP/s`);
  }
  gemms.forEach((g) => g.free());
  freeOperands(backend, o);
}

function selectedShapes(): Shape[] {
  const spec = arg('shapes', 'all');
  if (spec === 'all') return stepShapes();
  return spec.split(';').map((t) => {
    const [m, n, k] = t.split(',').map(Number) as [number, number, number];
    return { m, n, k, role: 'custom', perBlock: 1 };
  });
}

/** Re-runs this script with relaxed SIMD enabled when this Node needs a flag for it. */
function respawnWithRelaxedSimd(): never {
  const script = fileURLToPath(import.meta.url);
  console.log(`relaxed SIMD: WebAssembly.validate(f32x4.relaxed_madd module) = false on Node ${process.version} (V8 ${process.versions.v8}) without flags;`);
  console.log(`re-running every variant in: node --experimental-wasm-relaxed-simd ${script} ${process.argv.slice(2).join(' ')}\n`);
  const r = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', script, ...process.argv.slice(2), '--child'], {
    stdio: 'inherit',
    env: { ...process.env, FAIRTUNE_GEMM_UNFLAGGED_RELAXED: 'false' },
  });
  process.exit(r.status ?? 1);
}

async function main(): Promise<void> {
  const relaxedHere = relaxedSimdSupported();
  const child = process.argv.includes('--child');
  if (!relaxedHere && !child && !process.argv.includes('--no-relaxed')) respawnWithRelaxedSimd();
  // XNNPACK and the generated code both on one thread (the second core is not ours).
  process.env['FAIRTUNE_WASM_THREADS'] = '1';
  const info = await initEngine('wasm');
  const backend = tf.backend() as unknown as WasmHeapBackend;
  const unflagged = process.env['FAIRTUNE_GEMM_UNFLAGGED_RELAXED'] ?? String(relaxedHere);
  console.log(`Node ${process.version} (V8 ${process.versions.v8}), flags [${process.execArgv.join(' ')}]; backend ${info.detail}`);
  console.log(`relaxed SIMD validates: without flags ${unflagged}, in this process ${relaxedHere}`);
  if (!relaxedHere && child) console.log('Node refused relaxed SIMD even with --experimental-wasm-relaxed-simd: relaxed variant skipped.');
  const variants: GemmVariant[] = relaxedHere ? ['muladd', 'relaxed'] : ['muladd'];
  const plans = { muladd: parsePlan(arg('plan-muladd', ''), DEFAULT_PLANS.muladd), relaxed: parsePlan(arg('plan-relaxed', ''), DEFAULT_PLANS.relaxed) };
  const warmup = Number(arg('warmup', '2'));
  const reps = Number(arg('reps', '7'));
  console.log(`load average at start: ${load()}`);
  const peak = measurePeak(backend, variants);
  console.log(`register-only loop, 12 chains acc = acc·a + b, CPU time: ${variants.map((v) => `${v} ${peak.get(v)!.toFixed(1)} GFLOP/s`).join(', ')}`);
  console.log('  (relaxed: one FMA per chain = the FMA throughput ceiling; muladd: a dependent mul → add per chain, latency-bound, not a ceiling)');
  if (process.argv.includes('--tune')) {
    const [s] = selectedShapes();
    tune(backend, variants, arg('shapes', 'all') === 'all' ? stepShapes()[2]! : s!, reps);
    return;
  }
  const gemms = variants.map((v) => new WasmGemm(backend, v, plans[v]));
  console.log(`plans (MRxNR:KC:MC:NC:unroll): ${gemms.map((g) => `${g.variant} ${planText(g.plan)}`).join(', ')}; median of ${reps} interleaved rounds after ${warmup} warm-up calls each`);
  const results: ShapeResult[] = [];
  let seed = 1;
  for (const s of selectedShapes()) {
    results.push(benchShape(backend, s, gemms, warmup, reps, (seed += 2)));
    console.log(`  done ${s.m}x${s.n}x${s.k} (load ${results[results.length - 1]!.load})`);
  }
  const names = ['xnn', 'xnn-cached', ...variants];
  printShapeTable(results, names, 'median');
  printShapeTable(results, names, 'cpu');
  if (arg('shapes', 'all') === 'all') printStepTotals(results, names, 6);
  console.log(`\nload average at end: ${load()}`);
  const json = arg('json', '');
  if (json) writeFileSync(json, JSON.stringify({ node: process.version, v8: process.versions.v8, execArgv: process.execArgv, relaxed: { unflagged, here: relaxedHere }, peak: Object.fromEntries(peak), plans, results }, null, 2));
  gemms.forEach((g) => g.free());
}

// Run only as a script (the spec imports WasmGemm from this module).
if (process.argv[1] && fileURLToPath(import.meta.url) === realpathSync(process.argv[1])) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}

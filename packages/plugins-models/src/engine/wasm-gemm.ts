/**
 * A register- and cache-blocked SIMD GEMM generated at run time with wasm-asm.ts, working in
 * place in tfjs-backend-wasm's heap: C[M,N] = op(A)·op(B), row-major f32, op = identity or
 * transpose, with an optional bias + ReLU epilogue. bench/gemm-bench.ts measures it against
 * XNNPACK; wasm-gemm-kernels.ts routes training's large products to it when FAIRTUNE_WASM_GEMM=1.
 *
 * Structure (the classic Goto/BLIS loop nest): for each block of nc columns of C and kc of the
 * depth, B's block is packed into panels of nr columns; for each block of mc rows, A's block is
 * packed into panels of mr rows; the macro-kernel then runs one mr×nr register tile per pair of
 * panels. Transposed operands differ only in how they are packed (see emitPackLanes), so the
 * micro-kernel and the order of every sum are the same for all four orientations.
 */
import * as tf from '@tensorflow/tfjs';
import { assemble, Fn, I32, instantiate, SIMD, V128, validate, type WasmMemory } from './wasm-asm.js';

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
 * Defaults from bench/gemm-bench.ts --tune on the development machine (Intel Xeon, AVX-512, 48 KiB L1d, 2 MiB L2;
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
  /** Packs lanes of A (rows of C) or B (columns of C); see emitPackLanes for the arguments. */
  packA(src: number, laneBytes: number, kBytes: number, count: number, kc: number, dst: number): void;
  packB(src: number, laneBytes: number, kBytes: number, count: number, kc: number, dst: number): void;
  /** packA/packB for operands whose lanes are adjacent floats (laneBytes 4): whole-vector loads. */
  packAContig?(src: number, laneBytes: number, kBytes: number, count: number, kc: number, dst: number): void;
  packBContig?(src: number, laneBytes: number, kBytes: number, count: number, kc: number, dst: number): void;
  macro(pa: number, pb: number, c: number, mc: number, nc: number, kc: number, ldcBytes: number, accumulate: number, scratch: number): void;
  /** C[i, j] = act(C[i, j] (+ bias[j])) over rows × n (the fused epilogue). */
  bias(c: number, bias: number, rows: number, n: number): void;
  biasRelu(c: number, bias: number, rows: number, n: number): void;
  relu(c: number, bias: number, rows: number, n: number): void;
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
const F32_MAX = 0x97;

/** Emits min(a, b) of two i32 emitters (select keeps it branch-free). */
function emitMin(f: Fn, a: () => void, b: () => void): void {
  a();
  b();
  a();
  b();
  f.op(LT_S, SELECT);
}

/**
 * pack(src, laneBytes, kBytes, count, kc, dst): `count` lanes × kc depth of an operand → panels
 * of `width` lanes, each panel kc·width floats in k order (width floats per k), which is what the
 * micro-kernel reads with one pointer. Lane l at depth k is the float at src + l·laneBytes +
 * k·kBytes, so one emitter packs every orientation: A [M,K] (lanes = rows: laneBytes K·4, kBytes
 * 4), Aᵀ stored [K,M] (laneBytes 4, kBytes M·4), B [K,N] (lanes = columns: 4, N·4), Bᵀ stored
 * [N,K] (K·4, 4). Lanes past `count` in the last panel repeat the last lane: finite values whose
 * results are never stored (a row of C depends only on its row of A, a column on its column of B).
 */
function emitPackLanes(name: string, width: number): Fn {
  const f = new Fn(name, [I32, I32, I32, I32, I32, I32]);
  const [src, laneBytes, kBytes, count, kc, dst] = [0, 1, 2, 3, 4, 5];
  const panel = f.local(I32);
  const panels = f.local(I32);
  const k = f.local(I32);
  const d = f.local(I32);
  const lane = f.local(I32);
  const ptrs = Array.from({ length: width }, () => f.local(I32));
  f.get(count).i32(width - 1).op(ADD).i32(width).op(DIV_U).set(panels);
  f.forLoop(panel, () => f.i32(0), () => f.get(panels), 1, () => {
    ptrs.forEach((ptr, r) => {
      // ptr = src + min(panel·width + r, count − 1)·laneBytes
      f.get(panel).i32(width).op(MUL).i32(r).op(ADD).set(lane);
      f.get(lane).get(count).i32(1).op(SUB).get(lane).get(count).op(LT_S, SELECT);
      f.get(laneBytes).op(MUL).get(src).op(ADD).set(ptr);
    });
    f.get(panel).i32(width * 4).op(MUL).get(kc).op(MUL).get(dst).op(ADD).set(d);
    f.get(kc).set(k);
    f.countDown(k, () => {
      ptrs.forEach((ptr, r) => f.get(d).get(ptr).f32Load().f32Store(r * 4));
      ptrs.forEach((ptr) => f.get(ptr).get(kBytes).op(ADD).set(ptr));
      f.get(d).i32(width * 4).op(ADD).set(d);
    });
  });
  return f;
}

/**
 * emitPackLanes for lanes that are adjacent floats (laneBytes must be 4; width a multiple of 4):
 * whole panels move as width/4 vector loads per k. The last panel, cut by `count`, is copied
 * float by float and padded with zeros, so nothing past the operand's lanes is read.
 */
function emitPackContig(name: string, width: number): Fn {
  const f = new Fn(name, [I32, I32, I32, I32, I32, I32]);
  const [src, , kBytes, count, kc, dst] = [0, 1, 2, 3, 4, 5];
  const jp = f.local(I32);
  const k = f.local(I32);
  const s = f.local(I32);
  const d = f.local(I32);
  const full = f.local(I32);
  const rem = f.local(I32);
  const panelStart = (p: () => void) => {
    p();
    f.i32(width * 4).op(MUL).get(src).op(ADD).set(s);
    p();
    f.i32(width * 4).op(MUL).get(kc).op(MUL).get(dst).op(ADD).set(d);
    f.get(kc).set(k);
  };
  f.get(count).i32(width).op(DIV_U).set(full);
  f.get(count).get(full).i32(width).op(MUL).op(SUB).set(rem);
  f.forLoop(jp, () => f.i32(0), () => f.get(full), 1, () => {
    panelStart(() => f.get(jp));
    f.countDown(k, () => {
      for (let v = 0; v < width / 4; v++) f.get(d).get(s).v128Load(v * 16).v128Store(v * 16);
      f.get(s).get(kBytes).op(ADD).set(s);
      f.get(d).i32(width * 4).op(ADD).set(d);
    });
  });
  f.get(rem).ifElse(() => {
    panelStart(() => f.get(full));
    f.countDown(k, () => {
      for (let j = 0; j < width; j++) {
        // Lane j exists when rem > j; otherwise pad with 0 (never read past the operand).
        f.get(rem).i32(j).op(GT_S).ifElse(
          () => f.get(d).get(s).f32Load(j * 4).f32Store(j * 4),
          () => f.get(d).f32(0).f32Store(j * 4),
        );
      }
      f.get(s).get(kBytes).op(ADD).set(s);
      f.get(d).i32(width * 4).op(ADD).set(d);
    });
  });
  return f;
}

/**
 * The fused-matmul epilogue (c, bias, rows, n): C[i, j] = act(C[i, j] + bias[j]) in place, act =
 * identity or max(·, 0); `withBias` false leaves bias unread. Four columns at a time, then the
 * n mod 4 last ones one by one. It runs after the whole product, as XNNPACK's fully-connected
 * operator applies its bias and clamp to the finished sum.
 */
function emitEpilogue(name: string, withBias: boolean, relu: boolean): Fn {
  const f = new Fn(name, [I32, I32, I32, I32]);
  const [c, bias, rows, n] = [0, 1, 2, 3];
  const i = f.local(I32);
  const j = f.local(I32);
  const n4 = f.local(I32);
  const p = f.local(I32);
  f.get(n).i32(-4).op(AND).set(n4);
  f.get(c).set(p);
  f.forLoop(i, () => f.i32(0), () => f.get(rows), 1, () => {
    f.forLoop(j, () => f.i32(0), () => f.get(n4), 4, () => {
      f.get(p).get(j).i32(4).op(MUL).op(ADD);
      f.get(p).get(j).i32(4).op(MUL).op(ADD).v128Load();
      if (withBias) f.get(bias).get(j).i32(4).op(MUL).op(ADD).v128Load().simd(SIMD.f32x4Add);
      if (relu) f.f32(0).simd(SIMD.f32x4Splat).simd(SIMD.f32x4Max);
      f.v128Store();
    });
    f.forLoop(j, () => f.get(n4), () => f.get(n), 1, () => {
      f.get(p).get(j).i32(4).op(MUL).op(ADD);
      f.get(p).get(j).i32(4).op(MUL).op(ADD).f32Load();
      if (withBias) f.get(bias).get(j).i32(4).op(MUL).op(ADD).f32Load().op(F32_ADD);
      if (relu) f.f32(0).op(F32_MAX);
      f.f32Store();
    });
    f.get(p).get(n).i32(4).op(MUL).op(ADD).set(p);
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
export function heapOffset(backend: WasmHeapBackend, t: tf.TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

/** Where one operand of a product lies: element (lane l, depth k) at base + l·laneBytes + k·kBytes. */
interface OperandLayout {
  readonly laneBytes: number;
  readonly kBytes: number;
}

/** Epilogue of a fused product: bias [n] added to every row, then ReLU or nothing. */
export interface Epilogue {
  /** Byte offset of the bias [n], or undefined for none. */
  readonly bias?: number;
  readonly relu: boolean;
}

/**
 * A GEMM generated for one plan and variant, working in place in tfjs's heap. Packing buffers
 * (64-byte aligned; (mc + nc)·kc floats, 4.1 MiB for the default mul+add plan) are allocated
 * once with the backend's malloc and reused by every call; free() returns them.
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
    const fns = [emitPackLanes('packA', plan.mr), emitPackLanes('packB', plan.nr), emitPackContig('packBContig', plan.nr), emitMacro(plan, variant)];
    // Aᵀ's rows of C are adjacent floats: vector packing when a panel is whole vectors.
    if (plan.mr % 4 === 0) fns.push(emitPackContig('packAContig', plan.mr));
    fns.push(emitEpilogue('bias', true, false), emitEpilogue('biasRelu', true, true), emitEpilogue('relu', false, true));
    this.#ex = instantiate(assemble(fns, memory), memory) as unknown as GemmExports;
    const aBytes = plan.mc * plan.kc * 4;
    const bBytes = plan.nc * plan.kc * 4;
    const sBytes = plan.mr * plan.nr * 4;
    this.#raw = backend.wasm._malloc(aBytes + bBytes + sBytes + 3 * 64);
    const align = (x: number) => Math.ceil(x / 64) * 64;
    this.#packA = align(this.#raw);
    this.#packB = align(this.#packA + aBytes);
    this.#scratch = align(this.#packB + bBytes);
  }

  /**
   * C = op(A)·op(B) (then the epilogue) at byte offsets a, b, c, with C [m, n] and depth k:
   * A is [m, k], or [k, m] when transposeA; B is [k, n], or [n, k] when transposeB. C must not
   * overlap A or B. Every orientation runs the same micro-kernel in the same order of sums.
   */
  run(a: number, b: number, c: number, m: number, n: number, k: number, transposeA = false, transposeB = false, epilogue?: Epilogue): void {
    if (k === 0) this.#backend.wasm.HEAPF32.fill(0, c / 4, c / 4 + m * n);
    else this.#product(a, b, c, m, n, k, transposeA ? { laneBytes: 4, kBytes: m * 4 } : { laneBytes: k * 4, kBytes: 4 }, transposeB ? { laneBytes: k * 4, kBytes: 4 } : { laneBytes: 4, kBytes: n * 4 });
    if (epilogue && (epilogue.bias !== undefined || epilogue.relu)) {
      const fn = epilogue.bias === undefined ? this.#ex.relu : epilogue.relu ? this.#ex.biasRelu : this.#ex.bias;
      fn(c, epilogue.bias ?? 0, m, n);
    }
  }

  #product(a: number, b: number, c: number, m: number, n: number, k: number, la: OperandLayout, lb: OperandLayout): void {
    const p = this.plan;
    const ex = this.#ex;
    const packA = la.laneBytes === 4 && ex.packAContig ? ex.packAContig : ex.packA;
    const packB = lb.laneBytes === 4 ? ex.packBContig! : ex.packB;
    for (let jc = 0; jc < n; jc += p.nc) {
      const nc = Math.min(p.nc, n - jc);
      for (let pc = 0; pc < k; pc += p.kc) {
        const kc = Math.min(p.kc, k - pc);
        packB(b + jc * lb.laneBytes + pc * lb.kBytes, lb.laneBytes, lb.kBytes, nc, kc, this.#packB);
        for (let ic = 0; ic < m; ic += p.mc) {
          const mc = Math.min(p.mc, m - ic);
          packA(a + ic * la.laneBytes + pc * la.kBytes, la.laneBytes, la.kBytes, mc, kc, this.#packA);
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

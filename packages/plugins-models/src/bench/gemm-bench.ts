/**
 * `npm run bench:gemm`: GFLOP/s of the dense products of one `19m` PPG-GPT training step at
 * batch 64 (docs/models.md) for
 *   xnn        tfjs-backend-wasm's tf.matMul (XNNPACK), the backend set up by engine/backend.ts,
 *              with a freshly computed right operand each call, as in training (tfjs-wasm caches
 *              XNNPACK's packed weights per right-operand tensor, and in a training step every
 *              right operand is new: gradients, transposes, weights after the optimizer step);
 *   xnn-cached the same call on the same right operand again (packing cached): XNNPACK's GEMM alone;
 *   muladd     the register- and cache-blocked GEMM of engine/wasm-gemm.ts, f32x4.mul + add (the
 *              one training uses with FAIRTUNE_WASM_GEMM=1, engine/wasm-gemm-kernels.ts);
 *   relaxed    the same GEMM with f32x4.relaxed_madd (one FMA where the CPU has it; measured
 *              only: it needs a V8 flag on Node 20 and its rounding depends on the hardware).
 * Why: the issue asks whether relaxed-SIMD FMA or a better-blocked GEMM could close the gap to
 * PyTorch.
 *
 * Node 20 (V8 11.3) decodes relaxed SIMD only with --experimental-wasm-relaxed-simd: when
 * WebAssembly.validate refuses the probe module, the benchmark re-runs itself in a child process
 * with that flag and runs every variant there, interleaved (the flag only enables decoding).
 *
 * Options: --shapes all|M,N,K[;M,N,K…]  --reps 7  --warmup 2  --no-relaxed (stay in this process)
 *          --plan-muladd MRxNR[s]:KC:MC:NC:U  --plan-relaxed …  (micro-tile, s = shuffle splats,
 *          blocking, k unroll; defaults DEFAULT_PLANS)
 *          --tune (sweep micro-tiles on one shape)  --json FILE
 *          --kernels (tf.matMul end to end with FAIRTUNE_WASM_GEMM's routing on vs off, per shape)
 * Timings are single-threaded (FAIRTUNE_WASM_THREADS is forced to 1) and the load average is
 * printed with them: the development machine is shared.
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { realpathSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { initEngine } from '../engine/backend.js';
import { assemble, Fn, I32, instantiate, SIMD, V128, type WasmMemory } from '../engine/wasm-asm.js';
import { setWasmGemmEnabled, setWasmGemmMinN } from '../engine/wasm-gemm-kernels.js';
import { DEFAULT_PLANS, heapMemoryOf, heapOffset, relaxedSimdSupported, WasmGemm, type GemmPlan, type GemmVariant, type WasmHeapBackend } from '../engine/wasm-gemm.js';

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

/**
 * --kernels: tf.matMul end to end (kernel dispatch, output allocation, a fresh right operand per
 * call) with FAIRTUNE_WASM_GEMM's routing on for every size vs off, interleaved; what the routing
 * threshold (wasm-gemm-kernels.ts) is chosen from. Small products are timed `inner` calls at a time.
 */
function benchKernels(shapes: readonly Shape[], warmup: number, reps: number): void {
  console.log(`\ntf.matMul through the kernels, routing off (xnn) vs on (gemm), median of ${reps} interleaved rounds, ms per call (load ${load()}):`);
  console.log('| M | N | K | m·n·k | xnn wall | gemm wall | xnn CPU | gemm CPU | CPU ratio xnn/gemm |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  setWasmGemmMinN(0);
  for (const s of shapes) {
    const a = tf.randomNormal([s.m, s.k], 0, 1, 'float32', 1) as tf.Tensor2D;
    const b = tf.randomNormal([s.k, s.n], 0, 1, 'float32', 2) as tf.Tensor2D;
    const inner = Math.min(200, Math.max(1, Math.round(4e6 / (s.m * s.n * s.k))));
    const variant = (on: boolean): Timed => ({
      name: on ? 'gemm' : 'xnn',
      time: () => {
        const bs = Array.from({ length: inner }, () => tf.add(b, 0) as tf.Tensor2D);
        const ys: tf.Tensor[] = [];
        setWasmGemmEnabled(on);
        const t = sample(() => bs.forEach((bi) => ys.push(tf.matMul(a, bi))));
        setWasmGemmEnabled(false);
        tf.dispose([...bs, ...ys]);
        return { wall: t.wall / inner, cpu: t.cpu / inner };
      },
    });
    const times = timeInterleaved([variant(false), variant(true)], warmup, reps);
    const [xw, gw, xc, gc] = [median(times.get('xnn')!.map((x) => x.wall)), median(times.get('gemm')!.map((x) => x.wall)), median(times.get('xnn')!.map((x) => x.cpu)), median(times.get('gemm')!.map((x) => x.cpu))];
    const f = (x: number) => x.toFixed(3);
    console.log(`| ${s.m} | ${s.n} | ${s.k} | ${s.m * s.n * s.k} | ${f(xw)} | ${f(gw)} | ${f(xc)} | ${f(gc)} | ${(xc / gc).toFixed(2)} |`);
    tf.dispose([a, b]);
  }
  setWasmGemmMinN();
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
  // `xnn` must be tfjs's own kernel, not the GEMM routing of FAIRTUNE_WASM_GEMM.
  process.env['FAIRTUNE_WASM_GEMM'] = '0';
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
  if (process.argv.includes('--kernels')) {
    benchKernels(selectedShapes(), warmup, reps);
    return;
  }
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

/**
 * `npm run bench:train`: ms per training step and samples/s of PPG-GPT (`tiny`, `small`) at
 * batch 64 on every available tfjs backend, and — when Debian's python3-torch is installed —
 * the same architecture and shapes in PyTorch (bench/torch_bench.py), printed as a ratio.
 * Step = forward (full attention, dropout 0.1) + mean-pool head + L1 loss + backward + Adam.
 *
 * Options: --presets tiny,small  --backends wasm,cpu,tensorflow  --batch 64  --steps 10
 *          --warmup 2  --rounds 1 (repeat everything, interleaving tfjs and torch; the table
 *          shows the median over rounds)  --profile (per-kernel table for the first
 *          preset/backend)  --no-fused (reference tfjs ops instead of the fused wasm kernels)
 *          --no-torch  --gemm-ab (wasm twice per round, FAIRTUNE_WASM_GEMM's routing off and on,
 *          the order alternating between rounds; without it the routing is what the variable says)
 * The machine is often shared: the load average is printed with the figures, and next to the
 * wall-clock ms/step the process's CPU time per step (process.cpuUsage: user + system of every
 * thread of the process, so with FAIRTUNE_WASM_THREADS=2 it adds up both threads' time). On a
 * loaded machine CPU time leaves out the time the process waited for a core.
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { loadavg } from 'node:os';
import { initEngine } from '../engine/backend.js';
import { setFusedKernelsEnabled } from '../engine/fused-kernels.js';
import { setWasmGemmEnabled, wasmGemmEnabled } from '../engine/wasm-gemm-kernels.js';
import { PRESETS, type PresetName } from '../ppg-gpt/config.js';
import { PpgGpt } from '../ppg-gpt/model.js';
import { l1PerSample } from '../train/losses.js';
import { Adam } from '../train/optimizer.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const presets = arg('presets', 'tiny,small').split(',') as PresetName[];
const batch = Number(arg('batch', '64'));
const steps = Number(arg('steps', '10'));
const warmup = Number(arg('warmup', '2'));
const rounds = Number(arg('rounds', '1'));
const profile = process.argv.includes('--profile');
const gemmAb = process.argv.includes('--gemm-ab');
if (process.argv.includes('--no-fused')) setFusedKernelsEnabled(false);

interface Row {
  round?: number;
  preset: string;
  backend: string;
  msPerStep: number;
  /** Median process CPU time (user + system) per step, ms. */
  cpuMsPerStep: number;
  samplesPerSecond: number;
  params: number;
}

async function benchTfjs(preset: PresetName, backend: string): Promise<Row> {
  await initEngine(backend);
  const config = PRESETS[preset];
  const model = PpgGpt.create(config, 1);
  model.addTaskHead('mean', 2);
  const vars = new Map(model.vars);
  const byId = new Map([...vars].map(([k, v]) => [v.name, k]));
  const opt = new Adam();
  const x = tf.keep(tf.randomUniform([batch, config.windowLength], 0.1, 0.9, 'float32', 1) as tf.Tensor2D);
  const y = tf.keep(tf.randomNormal([batch], 0, 1, 'float32', 2) as tf.Tensor1D);
  const step = (i: number) => {
    const { value, grads } = tf.variableGrads(() => {
      const h = model.encode(x, { causal: false, training: true, seed: i });
      return tf.mean(l1PerSample(model.taskHead(h, batch).output, y)) as tf.Scalar;
    }, [...vars.values()]);
    value.dataSync();
    value.dispose();
    const named: Record<string, tf.Tensor> = {};
    for (const [id, g] of Object.entries(grads)) named[byId.get(id)!] = g;
    opt.apply(vars, named, 1e-4);
    tf.dispose(Object.values(named));
  };
  for (let i = 0; i < warmup; i++) step(i);
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < steps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    step(warmup + i);
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  if (profile && preset === presets[0]) {
    // Three profiled steps, aggregated per kernel name and per (name, input shapes).
    const reps = 3;
    const byShape = new Map<string, [number, number]>();
    const byName = new Map<string, [number, number]>();
    let wall = 0;
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      const p = await tf.profile(() => step(0));
      wall += performance.now() - t0;
      for (const k of p.kernels) {
        for (const [map, key] of [[byShape, `${k.name} ${JSON.stringify(k.inputShapes)}`], [byName, k.name]] as const) {
          const e = map.get(key) ?? [0, 0];
          e[0] += (k.kernelTimeMs as number) / reps;
          e[1] += 1 / reps;
          map.set(key, e);
        }
      }
    }
    const total = [...byName.values()].reduce((a, b) => a + b[0], 0);
    const calls = [...byName.values()].reduce((a, b) => a + b[1], 0);
    console.log(`\nper-kernel profile (${preset}, ${backend}; per step: ${calls.toFixed(0)} kernel calls, ${total.toFixed(0)} ms in kernels, ${(wall / reps).toFixed(0)} ms wall while profiling; load ${loadavg()[0]!.toFixed(2)}):`);
    const show = (map: Map<string, [number, number]>, n: number) => {
      for (const [k, [ms, c]] of [...map.entries()].sort((a, b) => b[1][0] - a[1][0]).slice(0, n)) {
        console.log(`  ${ms.toFixed(1).padStart(8)} ms  ${((100 * ms) / total).toFixed(1).padStart(5)}%  ×${c.toFixed(0).padEnd(4)} ${k}`);
      }
    };
    show(byName, 12);
    console.log('  by input shapes:');
    show(byShape, 20);
  }
  times.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const ms = times[Math.floor(times.length / 2)]!;
  const name = tf.getBackend() === 'wasm' && wasmGemmEnabled() ? 'wasm+gemm' : tf.getBackend();
  const row = { preset, backend: name, msPerStep: ms, cpuMsPerStep: cpu[Math.floor(cpu.length / 2)]!, samplesPerSecond: (1000 * batch) / ms, params: model.parameterCount };
  tf.dispose([x, y]);
  opt.dispose();
  model.dispose();
  return row;
}

function benchTorch(preset: PresetName, threads: number): Row | string {
  const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/torch_bench.py');
  if (!existsSync('/usr/bin/python3')) return 'no /usr/bin/python3';
  const c = PRESETS[preset];
  const r = spawnSync('/usr/bin/python3', [script, '--d', `${c.dModel}`, '--heads', `${c.nHeads}`, '--layers', `${c.nLayers}`, '--length', `${c.windowLength}`, '--patch', `${c.patchSize}`, '--batch', `${batch}`, '--steps', `${steps}`, '--warmup', `${warmup}`, '--threads', `${threads}`], { encoding: 'utf8' });
  if (r.status !== 0) return (r.stderr || r.stdout).trim().split('\n').pop() ?? 'python failed';
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ms: number; params: number };
  return { preset, backend: `torch ${threads} thr`, msPerStep: out.ms, cpuMsPerStep: Number.NaN, samplesPerSecond: (1000 * batch) / out.ms, params: out.params };
}

async function availableBackends(): Promise<string[]> {
  const asked = arg('backends', '');
  if (asked) return asked.split(',');
  const list: string[] = [];
  for (const b of ['tensorflow', 'wasm']) {
    try {
      await initEngine(b);
      list.push(b);
    } catch (err) {
      console.log(`skipping ${b}: ${(err as Error).message}`);
    }
  }
  // The pure-JS cpu backend is 20-40x slower; include it only for tiny unless asked.
  return [...list, 'cpu'];
}

const backends = await availableBackends();
const engineDetail = backends.includes('wasm') ? (await initEngine('wasm')).detail : tf.getBackend();
const rows: Row[] = [];
const load0 = loadavg()[0]!;
for (let round = 0; round < rounds; round++) {
  for (const preset of presets) {
    for (const b of backends) {
      if (b === 'cpu' && preset !== 'tiny' && !arg('backends', '')) continue;
      // --gemm-ab: off then on in even rounds, on then off in odd ones (drifting load cancels).
      const settings = gemmAb && b === 'wasm' ? (round % 2 ? [true, false] : [false, true]) : [undefined];
      for (const gemm of settings) {
        if (gemm !== undefined) setWasmGemmEnabled(gemm);
        rows.push({ ...(await benchTfjs(preset, b)), round });
        console.log(JSON.stringify(rows[rows.length - 1]));
      }
      if (gemmAb) setWasmGemmEnabled(false);
    }
    if (!process.argv.includes('--no-torch')) {
      for (const threads of [1, 2]) {
        const r = benchTorch(preset, threads);
        if (typeof r === 'string') {
          console.log(`torch not measured: ${r}`);
          break;
        }
        rows.push({ ...r, round });
        console.log(JSON.stringify(r));
      }
    }
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
console.log(`\nPPG-GPT training step, batch ${batch}, window ${PRESETS.tiny.windowLength} (median of ${steps} steps after ${warmup} warm-up${rounds > 1 ? `; median over ${rounds} rounds` : ''}); load average ${load0.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}`);
console.log(`engine: ${engineDetail}`);
console.log('preset  backend         params     ms/step  CPU ms/step   samples/s   ratio vs best torch' + (rounds > 1 ? '   (per round ms/step; CPU)' : ''));
for (const preset of presets) {
  const names = [...new Set(rows.filter((r) => r.preset === preset).map((r) => r.backend))];
  const ms = new Map(names.map((n) => [n, median(rows.filter((r) => r.preset === preset && r.backend === n).map((r) => r.msPerStep))]));
  // Ratios are taken within each round (tfjs and torch measured back to back, under the same
  // load), then the median over rounds is shown: robust to load that drifts between rounds.
  const perRound = (n: string): number[] => {
    const out: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const inRound = rows.filter((r) => r.preset === preset && r.round === round);
      const torch = inRound.filter((r) => r.backend.startsWith('torch')).map((r) => r.msPerStep);
      const mine = inRound.find((r) => r.backend === n);
      if (torch.length && mine) out.push(mine.msPerStep / Math.min(...torch));
    }
    return out;
  };
  for (const n of names) {
    const m = ms.get(n)!;
    const params = rows.find((r) => r.preset === preset && r.backend === n)!.params;
    const ratios = perRound(n);
    const ratio = ratios.length ? `${median(ratios).toFixed(2)}x` : '-';
    const mine = rows.filter((r) => r.preset === preset && r.backend === n);
    const cpuMs = median(mine.map((r) => r.cpuMsPerStep));
    const perRoundMs = rounds > 1 ? `   (${mine.map((r) => `${r.msPerStep.toFixed(0)}; ${Number.isNaN(r.cpuMsPerStep) ? '-' : r.cpuMsPerStep.toFixed(0)}`).join(' | ')})` : '';
    const detail = rounds > 1 && ratios.length ? `   (${ratios.map((x) => x.toFixed(2)).join(', ')})` : '';
    console.log(`${preset.padEnd(7)} ${n.padEnd(14)} ${String(params).padStart(8)} ${m.toFixed(1).padStart(10)} ${(Number.isNaN(cpuMs) ? '-' : cpuMs.toFixed(1)).padStart(12)} ${((1000 * batch) / m).toFixed(1).padStart(11)}   ${ratio}${detail}${perRoundMs}`);
  }
}

/**
 * Multi-threaded wasm under Node: tfjs-backend-wasm's threaded-SIMD build (XNNPACK on a pthread pool).
 *
 * tfjs 4.22 never selects that build in Node (its WASM_HAS_MULTITHREAD_SUPPORT flag is false when
 * IS_NODE, tfjs#3830), and forcing the flag alone fails: the emscripten glue creates its pthread
 * workers with `new Worker(<blob: URL>)`, which worker_threads rejects (ERR_WORKER_PATH), and sends
 * them the main script as a Blob that their importScripts (fs.readFileSync) cannot read. The glue
 * reads `require('worker_threads').Worker` when the backend initialises, so wrapping it fixes both:
 * the worker script runs with `eval: true`, and the script becomes the package's standalone
 * wasm-out/tfjs-backend-wasm-threaded-simd.js. backend.cc also caps the pool at
 * emscripten_num_logical_cores() / 2 (= os.cpus().length / 2 in Node, read once while the module
 * initialises), so os.cpus is widened for that moment. Results are bitwise identical to the
 * single-threaded build (XNNPACK splits output tiles, not reductions).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import os from 'node:os';
import type { TransferListItem, WorkerOptions } from 'node:worker_threads';
import { FairtuneError } from '@fairtune/core/plugin';

type WorkerCtor = typeof import('node:worker_threads').Worker;

const require = createRequire(import.meta.url);
let wrapped = false;

/** Threads asked for through FAIRTUNE_WASM_THREADS: a count 1..8 or `auto` (available cores, at most 8); default 1. */
export function requestedWasmThreads(): number {
  const raw = (process.env['FAIRTUNE_WASM_THREADS'] ?? '1').trim().toLowerCase() || '1';
  if (raw === 'auto') return Math.min(8, Math.max(1, os.availableParallelism()));
  const n = Number(raw);
  // tfjs pre-creates 8 pthread workers and caps its pool at 8.
  if (Number.isInteger(n) && n >= 1 && n <= 8) return n;
  throw new FairtuneError('FT_BACKEND_UNAVAILABLE', `FAIRTUNE_WASM_THREADS must be 1..8 or "auto", got "${raw}"`);
}

/**
 * Makes the next wasm backend initialisation use the threaded build with `threads` threads; call
 * before tf.setBackend('wasm') and call the returned function once it has settled.
 */
export function prepareWasmThreads(pkgDir: string, threads: number): () => void {
  if (!wrapped) {
    wrapped = true;
    const wt = require('node:worker_threads') as { Worker: WorkerCtor };
    const mainScript = path.join(pkgDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
    const { wasmWorkerContents } = require(path.join(pkgDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string };
    // The same escaping tfjs applies before making its Blob (the template literal turned "\n" into newlines).
    const workerSource = wasmWorkerContents.replace(/\n/g, '\\n');
    const Base = wt.Worker;
    wt.Worker = class PthreadWorker extends Base {
      constructor(filename: string | URL, options?: WorkerOptions) {
        const blob = typeof filename === 'string' && filename.startsWith('blob:');
        super(blob ? workerSource : filename, blob ? { ...options, eval: true } : options);
      }
      override postMessage(value: unknown, transferList?: readonly TransferListItem[]): void {
        const m = value as { cmd?: unknown; urlOrBlob?: unknown } | null;
        super.postMessage(m !== null && typeof m === 'object' && m.cmd === 'load' && typeof m.urlOrBlob !== 'string' ? { ...m, urlOrBlob: mainScript } : value, transferList);
      }
    };
  }
  const osMod = require('node:os') as { cpus(): os.CpuInfo[] };
  const cpus = osMod.cpus;
  osMod.cpus = () => {
    const list = cpus();
    while (list.length < 2 * threads) list.push(list[0]!);
    return list;
  };
  return () => {
    osMod.cpus = cpus;
  };
}

/**
 * XNNPACK's pool threads live as long as the backend, and emscripten ref()s a worker while it runs
 * a pthread, so Node would never exit on its own (scripts hang after their last line): unref them.
 */
export function unrefWasmThreads(backend: unknown): void {
  const m = (backend as { wasm?: { PThread?: { runningWorkers: Array<{ unref(): void }> } } }).wasm;
  for (const w of m?.PThread?.runningWorkers ?? []) w.unref();
}

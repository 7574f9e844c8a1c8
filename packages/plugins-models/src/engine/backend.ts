/**
 * The ONE place that picks the TensorFlow.js backend. Order of preference:
 * `tensorflow` via @tensorflow/tfjs-node-gpu (when installed and loadable, i.e. CUDA found),
 * `tensorflow` via @tensorflow/tfjs-node, `wasm` (SIMD) via @tensorflow/tfjs-backend-wasm, else `cpu`.
 * `webgpu` is only used when explicitly requested (FAIRTUNE_BACKEND=webgpu or a stage param):
 * it works through Dawn but is slow today because of per-kernel overhead.
 *
 * Native packages are optional peers: they are imported dynamically and their absence is normal.
 * Every failed attempt is recorded with its reason so stages can log why a backend was skipped.
 */
import * as tf from '@tensorflow/tfjs';
import { FairtuneError } from '@fairtune/core/plugin';
import { createRequire } from 'node:module';
import path from 'node:path';
import { installWasmTrainingKernels } from './wasm-kernels.js';
import { installFusedKernels } from './fused-kernels.js';
import { prepareWasmThreads, requestedWasmThreads, unrefWasmThreads } from './wasm-threads.js';
import { requestedWasmGemm, setWasmGemmEnabled } from './wasm-gemm-kernels.js';

import { BACKEND_REQUESTS, type BackendRequest } from './backend-names.js';
export { BACKEND_REQUESTS, type BackendRequest };

export interface EngineInfo {
  /** Backend name as tfjs reports it (`tensorflow`, `wasm`, `cpu`, `webgpu`). */
  readonly backend: string;
  /** Human-readable detail: package and flavour (e.g. `wasm (SIMD, 1 thread)`). */
  readonly detail: string;
  /** Backends tried before the one in use, with the reason each was skipped. */
  readonly skipped: readonly string[];
}

let current: EngineInfo | undefined;
let pending: Promise<EngineInfo> | undefined;

/** Reads the request from `FAIRTUNE_BACKEND` when the caller gives none. */
export function requestedBackend(explicit?: string): BackendRequest {
  const raw = (explicit ?? process.env['FAIRTUNE_BACKEND'] ?? 'auto').trim().toLowerCase() || 'auto';
  if (!(BACKEND_REQUESTS as readonly string[]).includes(raw)) {
    const message = `unknown tensor backend "${raw}" (from ${explicit !== undefined ? 'the backend param' : 'FAIRTUNE_BACKEND'}); expected one of ${BACKEND_REQUESTS.join(', ')}`;
    // A stage param is fixed in the pipeline; the environment variable is how the backend is chosen (FT_BACKEND_UNAVAILABLE's fix).
    throw explicit !== undefined ? new FairtuneError('FT_PARAM_INVALID', message, { param: 'backend' }) : new FairtuneError('FT_BACKEND_UNAVAILABLE', message);
  }
  return raw as BackendRequest;
}

async function importOptional(name: string): Promise<{ ok: true; mod: unknown } | { ok: false; reason: string }> {
  try {
    // A variable specifier keeps TypeScript and bundlers from resolving optional packages.
    const spec: string = name;
    return { ok: true, mod: await import(spec) };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') return { ok: false, reason: `${name} is not installed` };
    return { ok: false, reason: `${name} failed to load: ${e.message.split('\n')[0]}` };
  }
}

async function trySetBackend(name: string): Promise<boolean> {
  // tf.setBackend resolves false (and prints) instead of throwing when init fails.
  const ok = await tf.setBackend(name);
  await tf.ready();
  return ok && tf.getBackend() === name;
}

async function tryNative(pkg: string, skipped: string[]): Promise<EngineInfo | undefined> {
  const r = await importOptional(pkg);
  if (!r.ok) {
    skipped.push(r.reason);
    return undefined;
  }
  // The native package registers `tensorflow` on the tfjs-core it resolves; when that is not our
  // copy (version mismatch), the backend is invisible here and we must not pretend it ran.
  if (!tf.findBackendFactory('tensorflow')) {
    skipped.push(`${pkg} loaded but registered no 'tensorflow' backend on this @tensorflow/tfjs copy (version mismatch?)`);
    return undefined;
  }
  if (!(await trySetBackend('tensorflow'))) {
    skipped.push(`${pkg}: backend 'tensorflow' failed to initialise`);
    return undefined;
  }
  return { backend: 'tensorflow', detail: `tensorflow (${pkg})`, skipped };
}

async function tryWasm(skipped: string[]): Promise<EngineInfo | undefined> {
  const r = await importOptional('@tensorflow/tfjs-backend-wasm');
  if (!r.ok) {
    skipped.push(r.reason);
    return undefined;
  }
  const wasm = r.mod as typeof import('@tensorflow/tfjs-backend-wasm');
  const require = createRequire(import.meta.url);
  const pkgDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  // Paths must be set before the backend initialises; the trailing separator matters.
  wasm.setWasmPaths(path.join(pkgDir, 'dist') + path.sep);
  const threads = requestedWasmThreads();
  // Read (and a bad value refused) before the backend starts, like the thread count.
  const gemm = requestedWasmGemm();
  let restore = (): void => {};
  if (threads > 1) {
    // Threaded-SIMD build (wasm-threads.ts); tfjs turns it off in Node by default.
    restore = prepareWasmThreads(pkgDir, threads);
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    wasm.setThreadsCount(threads);
  }
  let ok: boolean;
  try {
    ok = await trySetBackend('wasm');
  } finally {
    restore();
  }
  if (!ok) {
    skipped.push(`wasm: backend failed to initialise${threads > 1 ? ` (threaded build, ${threads} threads)` : ''}`);
    return undefined;
  }
  if (threads > 1) unrefWasmThreads(tf.backend());
  installWasmTrainingKernels();
  installFusedKernels();
  // Only ever turned on here: the default leaves tfjs's matmul kernels unwrapped.
  if (gemm) setWasmGemmEnabled(true);
  const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
  const n = wasm.getThreadsCount();
  return { backend: 'wasm', detail: `wasm (${simd ? 'SIMD' : 'no SIMD'}, ${n} thread${n === 1 ? '' : 's'}${gemm ? ', FairTune GEMM' : ''})`, skipped };
}

async function tryWebgpu(skipped: string[]): Promise<EngineInfo | undefined> {
  const dawn = await importOptional('webgpu');
  if (!dawn.ok) {
    skipped.push(dawn.reason);
    return undefined;
  }
  const { create, globals } = dawn.mod as { create(flags: string[]): unknown; globals: Record<string, unknown> };
  // tfjs-backend-webgpu looks for navigator.gpu when it is imported, so install it first.
  Object.assign(globalThis, globals);
  (globalThis as { navigator?: unknown }).navigator ??= {};
  (globalThis as unknown as { navigator: { gpu?: unknown } }).navigator.gpu = create([]);
  const backendPkg = await importOptional('@tensorflow/tfjs-backend-webgpu');
  if (!backendPkg.ok) {
    skipped.push(backendPkg.reason);
    return undefined;
  }
  if (!(await trySetBackend('webgpu'))) {
    skipped.push('webgpu: no GPU adapter (backend failed to initialise)');
    return undefined;
  }
  return { backend: 'webgpu', detail: 'webgpu (Dawn via the `webgpu` package)', skipped };
}

async function select(request: BackendRequest): Promise<EngineInfo> {
  const skipped: string[] = [];
  const chain: Array<() => Promise<EngineInfo | undefined>> = [];
  switch (request) {
    case 'auto':
      chain.push(() => tryNative('@tensorflow/tfjs-node-gpu', skipped), () => tryNative('@tensorflow/tfjs-node', skipped), () => tryWasm(skipped));
      break;
    case 'tensorflow':
      chain.push(() => tryNative('@tensorflow/tfjs-node-gpu', skipped), () => tryNative('@tensorflow/tfjs-node', skipped));
      break;
    case 'node-gpu':
      chain.push(() => tryNative('@tensorflow/tfjs-node-gpu', skipped));
      break;
    case 'node':
      chain.push(() => tryNative('@tensorflow/tfjs-node', skipped));
      break;
    case 'wasm':
      chain.push(() => tryWasm(skipped));
      break;
    case 'webgpu':
      chain.push(() => tryWebgpu(skipped));
      break;
    case 'cpu':
      break;
  }
  for (const attempt of chain) {
    const info = await attempt();
    if (info) return info;
  }
  if (request !== 'auto' && request !== 'cpu') {
    // An explicit request that cannot be honoured is an error: silently running 20x slower on cpu is worse.
    throw new FairtuneError('FT_BACKEND_UNAVAILABLE', `tensor backend "${request}" was requested but is not available: ${skipped.join('; ')}`);
  }
  if (!(await trySetBackend('cpu'))) throw new FairtuneError('FT_BACKEND_UNAVAILABLE', 'the tfjs cpu backend failed to initialise');
  return { backend: 'cpu', detail: 'cpu (pure JavaScript)', skipped };
}

/**
 * Initialises the engine once per process (later calls return the same backend; asking for a
 * different one explicitly switches). `request` defaults to FAIRTUNE_BACKEND, then `auto`.
 */
export async function initEngine(explicit?: string): Promise<EngineInfo> {
  const request = requestedBackend(explicit);
  if (pending) {
    const info = await pending;
    if (request === 'auto' || sameBackend(request, info.backend)) return info;
  }
  pending = select(request);
  try {
    current = await pending;
  } catch (err) {
    pending = undefined;
    throw err;
  }
  return current;
}

function sameBackend(request: BackendRequest, backend: string): boolean {
  if (request === 'node' || request === 'node-gpu') return backend === 'tensorflow';
  return request === backend;
}

/** Name of the backend in use (what stages report as the `tensorBackend` environment fact). */
export function tensorBackend(): string {
  return current?.backend ?? tf.getBackend();
}

/** True when dense layers should use explicit-transpose gradients (wasm's fast path is 2-D, untransposed only). */
export function preferExplicitTranspose(): boolean {
  return tf.getBackend() === 'wasm';
}

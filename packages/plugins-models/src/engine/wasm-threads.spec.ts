/**
 * Multi-threaded wasm (FAIRTUNE_WASM_THREADS): each case starts the engine in a child process,
 * since the thread count is fixed when the backend initialises.
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { requestedWasmThreads } from './wasm-threads.js';

const repoRoot = resolve(process.cwd(), '../..');
const probe = join(repoRoot, 'packages/plugins-models/src/engine/test-utils/threads-probe.ts');

function runProbe(threads: string): { code: number | null; detail?: string; hash?: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, FAIRTUNE_WASM_THREADS: threads };
  delete env['NODE_OPTIONS'];
  // A timeout, not a hang: the process must exit by itself once its work is done (pool threads unref'd).
  const r = spawnSync(process.execPath, ['--conditions=@fairtune/source', '--import', '@swc-node/register/esm-register', probe], { cwd: repoRoot, env, encoding: 'utf8', timeout: 120_000 });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  return { code: r.status, ...(line.startsWith('{') ? (JSON.parse(line) as { detail: string; hash: string }) : {}), stderr: r.stderr };
}

describe('FAIRTUNE_WASM_THREADS', () => {
  it('reads a count of 1..8 or auto, and names a bad value', () => {
    const saved = process.env['FAIRTUNE_WASM_THREADS'];
    try {
      delete process.env['FAIRTUNE_WASM_THREADS'];
      expect(requestedWasmThreads()).toBe(1);
      process.env['FAIRTUNE_WASM_THREADS'] = '2';
      expect(requestedWasmThreads()).toBe(2);
      process.env['FAIRTUNE_WASM_THREADS'] = 'auto';
      expect(requestedWasmThreads()).toBeGreaterThanOrEqual(1);
      process.env['FAIRTUNE_WASM_THREADS'] = '12';
      expect(() => requestedWasmThreads()).toThrow(expect.objectContaining({ code: 'FT_BACKEND_UNAVAILABLE', message: 'FAIRTUNE_WASM_THREADS must be 1..8 or "auto", got "12"' }));
    } finally {
      if (saved === undefined) delete process.env['FAIRTUNE_WASM_THREADS'];
      else process.env['FAIRTUNE_WASM_THREADS'] = saved;
    }
  });

  it('2 threads: the threaded build starts, training and the fused kernels give bitwise the same results as 1 thread, and the process exits', () => {
    const one = runProbe('1');
    const two = runProbe('2');
    expect({ code: one.code, detail: one.detail }).toEqual({ code: 0, detail: 'wasm (SIMD, 1 thread)' });
    expect({ code: two.code, detail: two.detail, stderr: two.code === 0 ? '' : two.stderr }).toEqual({ code: 0, detail: 'wasm (SIMD, 2 threads)', stderr: '' });
    expect(two.hash).toBe(one.hash);
  }, 300_000);

  it('a bad value fails the engine start with FT_BACKEND_UNAVAILABLE, naming the variable', () => {
    const r = runProbe('many');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/FAIRTUNE_WASM_THREADS must be 1\.\.8 or "auto", got "many"/);
    expect(r.stderr).toMatch(/FT_BACKEND_UNAVAILABLE/);
  }, 120_000);
});

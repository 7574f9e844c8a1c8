/**
 * Runtime benchmark (`npm run bench:runtime`): wall time of a fully cached re-run of
 * pipelines/demo.json (the runtime's own work, and the whole CLI process), and the executor's
 * overhead per stage on chains of 100, 1,000 and 10,000 near-empty stages, executed and cached.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRegistry, openPipeline, runPipeline } from '../runtime.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../../..');
const work = mkdtempSync(join(tmpdir(), 'fairtune-bench-'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timeRun(file: string, cacheDir: string, force?: boolean): Promise<number> {
  const registry = await createRegistry({ baseDir: root });
  const started = performance.now();
  const opened = await openPipeline(file, { registry });
  const result = await runPipeline(opened, { cacheDir, runsDir: join(work, 'runs'), force });
  if (result.status !== 'succeeded') throw new Error(`bench run ${result.status}`);
  return performance.now() - started;
}

const demo = join(root, 'pipelines/demo.json');
const cache = join(work, 'cache');
await timeRun(demo, cache);
const cached = Array.from({ length: 5 }, () => 0);
for (let i = 0; i < cached.length; i++) cached[i] = await timeRun(demo, cache);

const cli = join(root, 'packages/core/dist/cli.js');
const processMs: number[] = [];
for (let i = 0; i < 5; i++) {
  const t = performance.now();
  const r = spawnSync(process.execPath, [cli, 'run', demo, '--cache-dir', cache, '--runs-dir', join(work, 'runs')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  processMs.push(performance.now() - t);
}

/** A chain of n near-empty stages: the executor's own cost per stage, executed and fully cached. */
async function chainOverhead(n: number): Promise<{ executed: number; cached: number }> {
  const stages: Record<string, object> = { s0: { type: 'demo.numbers', params: { count: 1 } } };
  for (let i = 1; i < n - 2; i++) stages[`s${i}`] = { type: 'demo.transform', params: { steps: 1 }, inputs: { series: `s${i - 1}` } };
  stages['stats'] = { type: 'demo.stats', inputs: { series: `s${n - 3}` } };
  stages['report'] = { type: 'demo.report', inputs: { metrics: ['stats'] } };
  const chain = join(work, `chain-${n}.json`);
  writeFileSync(chain, JSON.stringify({ name: `chain-${n}`, seed: 1, stages }));
  const chainCache = join(work, `chain-cache-${n}`);
  const executed = await timeRun(chain, chainCache);
  const rounds = n >= 10_000 ? 1 : 3;
  const cachedRuns: number[] = [];
  for (let i = 0; i < rounds; i++) cachedRuns.push(await timeRun(chain, chainCache));
  rmSync(chainCache, { recursive: true, force: true });
  return { executed: executed / n, cached: median(cachedRuns) / n };
}

// One untimed chain first, so the figures do not include the JIT warming up.
await chainOverhead(100);
const chains: [number, { executed: number; cached: number }][] = [];
for (const n of [100, 1_000, 10_000]) chains.push([n, await chainOverhead(n)]);

console.log(`fully cached re-run of pipelines/demo.json (6 stages), in process: median ${median(cached).toFixed(1)} ms over ${cached.length} runs`);
console.log(`fully cached re-run of pipelines/demo.json as a CLI process (node start-up, plugin loading included): median ${median(processMs).toFixed(0)} ms`);
for (const [n, c] of chains) console.log(`per-stage overhead, ${n}-stage chain of near-empty stages (validation, keys, cache, run record included): executed ${c.executed.toFixed(2)} ms/stage, cached ${c.cached.toFixed(2)} ms/stage`);
rmSync(work, { recursive: true, force: true });

import { describe, expect, it } from '@jest/globals';
import { cpSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRegistry, openPipeline } from '../runtime.js';
import type { StageRegistry } from '../registry.js';
import { computeStageKeys } from '../executor/stage-keys.js';
import type { JsonValue } from '../contracts/artifact.js';
import { substituteEnv } from './load.js';
import type { PipelineIssue } from './issues.js';

// `${VAR:-null}`: absent unless VAR is set. The PPG pipelines read FAIRTUNE_PPG_WEIGHTS this way,
// so a researcher with converted PPG-GPT weights sets one variable and, without it, every stage
// key is what it was before the line existed.

describe('substituteEnv: a whole reference that becomes null leaves its key out', () => {
  const sub = (v: JsonValue, env: NodeJS.ProcessEnv) => {
    const issues: PipelineIssue[] = [];
    const out = substituteEnv(v, env, issues);
    expect(issues).toEqual([]);
    return out;
  };

  it('unset or empty: no key; set: the text; a literal null and null inside text are kept', () => {
    const spec = { params: { preset: 'tiny', weights: '${W:-null}', label: 'w=${W:-null}', removed: null } };
    expect(sub(spec, {})).toEqual({ params: { preset: 'tiny', label: 'w=null', removed: null } });
    expect(sub(spec, { W: '' })).toEqual({ params: { preset: 'tiny', label: 'w=null', removed: null } });
    expect(sub(spec, { W: '/data/ppg.safetensors' })).toEqual({ params: { preset: 'tiny', weights: '/data/ppg.safetensors', label: 'w=/data/ppg.safetensors', removed: null } });
  });
});

const root = resolve(process.cwd(), '../..');
let registry: StageRegistry | undefined;

/** The shipped pipelines copied with the FAIRTUNE_PPG_WEIGHTS lines removed: the files as they were before. */
function pipelinesWithoutWeightsLine(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ppg-weights-env-'));
  cpSync(resolve(root, 'pipelines'), dir, { recursive: true });
  for (const f of ['dalia.json', 'ppg-transfer.json']) {
    const path = join(dir, 'base', f);
    const text = readFileSync(path, 'utf8');
    const stripped = text.replace(/,\s*"weights": "\$\{FAIRTUNE_PPG_WEIGHTS:-null\}"/, '');
    expect(stripped).not.toBe(text);
    writeFileSync(path, stripped);
  }
  const scaling = join(dir, 'ppg-scaling.json');
  const text = readFileSync(scaling, 'utf8');
  writeFileSync(scaling, text.replace('"preset": "%{size}", "weights": null', '"preset": "%{size}"'));
  expect(readFileSync(scaling, 'utf8')).not.toBe(text);
  return dir;
}

const open = async (dir: string, name: string, env: NodeJS.ProcessEnv) => {
  registry ??= await createRegistry({ baseDir: root });
  return (await openPipeline(join(dir, `${name}.json`), { registry, env })).pipeline;
};

describe('FAIRTUNE_PPG_WEIGHTS in the shipped PPG pipelines', () => {
  const names = ['dalia-erm', 'fairness-grid', 'ppg-transfer-matrix', 'ppg-scaling'];
  expect(names.every((n) => readdirSync(resolve(root, 'pipelines')).includes(`${n}.json`))).toBe(true);

  it.each(names)('%s: unset, no backbone has a weights param and every stage key is as without the line', async (name) => {
    const now = await open(resolve(root, 'pipelines'), name, {});
    const before = await open(pipelinesWithoutWeightsLine(), name, {});
    const backbones = now.stages.filter((s) => s.plugin.type === 'model.ppg-gpt');
    expect(backbones.length).toBeGreaterThan(0);
    for (const b of backbones) expect(b.params).not.toHaveProperty('weights');
    expect([...computeStageKeys(now).entries()]).toEqual([...computeStageKeys(before).entries()]);
  });

  it('set, the backbone of dalia-* and of the transfer matrix reads the file; ppg-scaling keeps its sizes', async () => {
    const env = { FAIRTUNE_PPG_WEIGHTS: '/weights/ppg-gpt-19m.safetensors' };
    for (const name of ['dalia-erm', 'fairness-grid', 'ppg-transfer-matrix']) {
      const backbones = (await open(resolve(root, 'pipelines'), name, env)).stages.filter((s) => s.plugin.type === 'model.ppg-gpt');
      expect(backbones.length).toBeGreaterThan(0);
      expect(new Set(backbones.map((b) => b.params['weights']))).toEqual(new Set(['/weights/ppg-gpt-19m.safetensors']));
    }
    // One file cannot be three sizes: the scaling pipeline removes the param from its base.
    const scaling = (await open(resolve(root, 'pipelines'), 'ppg-scaling', env)).stages.filter((s) => s.plugin.type === 'model.ppg-gpt');
    expect(scaling.map((b) => [b.params['preset'], b.params['weights']])).toEqual([
      ['tiny', undefined],
      ['small', undefined],
      ['19m', undefined],
    ]);
  });
});

import { describe, expect, it } from '@jest/globals';
import { backboneSpecs, countParameters, PRESETS, validateConfig } from './config.js';
import { checkPpgGptMemory, estimatePpgGptTrainingBytes, WASM32_HEAP_BYTES } from './memory.js';

/**
 * Parameter count of the backbone worked by hand from the architecture (algorithms.md §2.2),
 * independently of backboneSpecs: patch embedding p·d + d, start token d; per block two RMSNorm
 * scales 2d, qkv 3d² + 3d, output d² + d, MLP d·f + f + f·d + d; Logit-Laplace head d·2p + 2p.
 */
function byHand(d: number, layers: number, p = 40, f = 4 * d): number {
  const block = 2 * d + 3 * d * d + 3 * d + d * d + d + d * f + f + f * d + d;
  return p * d + d + d + layers * block + d * 2 * p + 2 * p;
}

describe('PPG-GPT presets', () => {
  it.each([
    ['tiny', 64, 2],
    ['small', 128, 4],
    ['19m', 512, 6],
    ['85m', 768, 12],
    ['345m', 1024, 24],
    ['1b', 2048, 20],
  ] as const)('%s has the parameter count worked by hand (d %i, %i layers), from its config alone', (name, d, layers) => {
    const c = PRESETS[name];
    expect([c.dModel, c.nLayers]).toEqual([d, layers]);
    expect(countParameters(backboneSpecs(c))).toBe(byHand(d, layers));
  });

  it('puts the presets where their names say (blocks 12·d²·L within 3 % of 19M, 85M, 1B; 345m is GPT-2 medium\'s shape, 302.4M here)', () => {
    const total = (n: keyof typeof PRESETS) => countParameters(backboneSpecs(PRESETS[n]));
    expect(Math.abs(total('19m') / 19e6 - 1)).toBeLessThan(0.03);
    expect(Math.abs(total('85m') / 85e6 - 1)).toBeLessThan(0.03);
    expect(Math.abs(total('1b') / 1e9 - 1)).toBeLessThan(0.03);
    expect(total('345m')).toBe(302_385_232);
    expect(total('1b')).toBe(1_007_333_456);
  });
});

describe('validateConfig', () => {
  it('names the param for sizes from params, the input port for an artifact\'s stored config', () => {
    const bad = { ...PRESETS.tiny, windowLength: 81 };
    expect(() => validateConfig(bad, 'model.ppg-gpt params')).toThrow('model.ppg-gpt params: windowLength 81 is not a multiple of patchSize 40');
    expect(() => validateConfig(bad, 'model.ppg-gpt params')).toThrow(expect.objectContaining({ code: 'FT_PARAM_INVALID', about: { param: 'windowLength' } }));
    expect(() => validateConfig({ ...PRESETS.tiny, nHeads: 3 }, 'x')).toThrow(expect.objectContaining({ code: 'FT_PARAM_INVALID', about: { param: 'nHeads' } }));
    expect(() => validateConfig(bad, 'input "backbone" config', 'backbone')).toThrow(expect.objectContaining({ code: 'FT_INPUT_CONTENT', about: { port: 'backbone' } }));
  });
});

describe('checkPpgGptMemory (no model is built)', () => {
  it('fails early for 345m and 1b on wasm and cpu, naming tfjs-node and a GPU', () => {
    for (const preset of ['345m', '1b'] as const) {
      for (const backend of ['wasm', 'cpu']) {
        expect(() => checkPpgGptMemory({ ...PRESETS[preset], preset }, 1, backend, 'model.ppg-gpt')).toThrow(expect.objectContaining({ code: 'FT_MODEL_TOO_LARGE' }));
        expect(() => checkPpgGptMemory({ ...PRESETS[preset], preset }, 1, backend, 'model.ppg-gpt')).toThrow(
          new RegExp(`model\\.ppg-gpt: PPG-GPT preset "${preset}".*4 GiB wasm32 heap of the "${backend}" backend.*@tensorflow/tfjs-node.*tfjs-node-gpu`),
        );
      }
    }
  });

  it('lets the same sizes through on native backends, and the CPU presets through on wasm at their batch sizes', () => {
    expect(() => checkPpgGptMemory(PRESETS['1b'], 32, 'node-gpu', 'x')).not.toThrow();
    expect(() => checkPpgGptMemory(PRESETS['345m'], 32, 'tensorflow', 'x')).not.toThrow();
    for (const preset of ['tiny', 'small', '19m', '85m'] as const) expect(() => checkPpgGptMemory(PRESETS[preset], 1, 'wasm', 'x')).not.toThrow();
    expect(() => checkPpgGptMemory(PRESETS['19m'], 64, 'wasm', 'x')).not.toThrow();
  });

  it('counts the optimiser state at 16 bytes a parameter and grows the activations with the batch', () => {
    const c = PRESETS['19m'];
    const one = estimatePpgGptTrainingBytes(c, 1);
    const two = estimatePpgGptTrainingBytes(c, 2);
    expect(one.optimiserState).toBe(16 * countParameters(backboneSpecs(c)));
    expect(two.activations).toBe(2 * one.activations);
    // 345m's weights, gradients and moments alone exceed the heap: no batch size can help.
    expect(estimatePpgGptTrainingBytes(PRESETS['345m'], 1).optimiserState).toBeGreaterThan(WASM32_HEAP_BYTES);
  });
});

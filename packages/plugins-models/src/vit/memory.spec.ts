import { VIT_PRESETS } from './config.js';
import { checkTrainingMemory, estimateTrainingBytes, maxBatch, WASM32_HEAP_BYTES } from './memory.js';

describe('ViT memory guard', () => {
  it('estimates the terms analytically', () => {
    const c = VIT_PRESETS['vit-b16'];
    const e = estimateTrainingBytes(c, 32);
    const params = 86_567_656 - 999 * 769;
    expect(e.parameters).toBe(4 * params);
    expect(e.gradients).toBe(4 * params);
    expect(e.adam).toBe(8 * params);
    // 197 tokens; per block and token 25·768 + 12·197 floats; ×4 overhead
    expect(e.activations).toBe(4 * 4 * 32 * 197 * (12 * (25 * 768 + 12 * 197) + 4 * 768));
    expect(e.total).toBe(e.parameters + e.gradients + e.adam + e.activations);
    // a frozen backbone needs no gradients or moments for it
    expect(estimateTrainingBytes(c, 32, 769).adam).toBe(8 * 769);
  });

  it('fails ViT-B/16 at 224² and batch 32 on wasm/cpu before allocating, naming tfjs-node and a GPU; passes on tfjs-node', () => {
    const c = VIT_PRESETS['vit-b16'];
    expect(estimateTrainingBytes(c, 32).total).toBeGreaterThan(WASM32_HEAP_BYTES);
    for (const backend of ['wasm', 'cpu']) {
      expect(() => checkTrainingMemory(c, 32, 86e6, backend, 'train.finetune')).toThrow(expect.objectContaining({ code: 'FT_MODEL_TOO_LARGE' }));
      expect(() => checkTrainingMemory(c, 32, 86e6, backend, 'train.finetune')).toThrow(/train\.finetune: .*batch 32 needs about \d+\.\d+ GiB.*4 GiB wasm32 heap.*@tensorflow\/tfjs-node.*tfjs-node-gpu.*GPU/);
    }
    expect(checkTrainingMemory(c, 32, 86e6, 'tensorflow', 'x').total).toBeGreaterThan(WASM32_HEAP_BYTES);
    const fit = maxBatch(c, 86e6);
    expect(fit).toBeGreaterThan(0);
    expect(fit).toBeLessThan(32);
    expect(estimateTrainingBytes(c, fit, 86e6).total).toBeLessThanOrEqual(WASM32_HEAP_BYTES);
    expect(estimateTrainingBytes(c, fit + 1, 86e6).total).toBeGreaterThan(WASM32_HEAP_BYTES);
    // the CPU presets fit comfortably
    expect(() => checkTrainingMemory(VIT_PRESETS.tiny, 32, 2e5, 'wasm', 'x')).not.toThrow();
  });
});

/** FairTune's masks on the ViT's timm-named variables (algorithms.md §1.3), against hand-listed names. */
import { resolveMask } from '../train/peft.js';
import { VIT_PRESETS, vitSpecs, type VitConfig } from './config.js';

const B16 = VIT_PRESETS['vit-b16'];
const specs = vitSpecs(B16);
const trainable = (mask: string, c: VitConfig = B16) => [...resolveMask(mask, vitSpecs(c), c.depth).trainable].sort();
const HEAD = ['head.bias', 'head.weight'];

describe('ViT PEFT masks', () => {
  it('bit 4 of the 36-bit mask trains exactly block 1 attention (+ the head)', () => {
    const bits = '0'.repeat(36).split('');
    bits[4] = '1';
    expect(trainable(bits.join(''))).toEqual(['blocks.1.attn.proj.bias', 'blocks.1.attn.proj.weight', 'blocks.1.attn.qkv.bias', 'blocks.1.attn.qkv.weight', ...HEAD].sort());
  });

  it('bit 3i → norm1+norm2, 3i+2 → mlp of block i; embedding, cls, pos and final norm always frozen', () => {
    const bits = '0'.repeat(36).split('');
    bits[33] = '1'; // block 11 norms
    bits[2] = '1'; // block 0 mlp
    expect(trainable(bits.join(''))).toEqual(
      ['blocks.11.norm1.bias', 'blocks.11.norm1.weight', 'blocks.11.norm2.bias', 'blocks.11.norm2.weight', 'blocks.0.mlp.fc1.bias', 'blocks.0.mlp.fc1.weight', 'blocks.0.mlp.fc2.bias', 'blocks.0.mlp.fc2.weight', ...HEAD].sort(),
    );
    const all = trainable('1'.repeat(36));
    for (const frozen of ['cls_token', 'pos_embed', 'patch_embed.proj.weight', 'patch_embed.proj.bias', 'norm.weight', 'norm.bias']) expect(all).not.toContain(frozen);
    expect(all).toHaveLength(12 * 12 + 2);
    expect(trainable('0'.repeat(36))).toEqual(HEAD);
    expect(() => trainable('0'.repeat(12))).toThrow(/needs 3·12 = 36 bits/);
  });

  it('12-bit spaces: attention / layernorm / block / combinations, one bit per block', () => {
    const one = (i: number) => Array.from({ length: 12 }, (_, k) => (k === i ? '1' : '0')).join('');
    expect(trainable(`attention:${one(1)}`)).toEqual(trainable('000010' + '0'.repeat(30)));
    expect(trainable(`layernorm:${one(0)}`)).toEqual(['blocks.0.norm1.bias', 'blocks.0.norm1.weight', 'blocks.0.norm2.bias', 'blocks.0.norm2.weight', ...HEAD].sort());
    expect(trainable(`block:${one(5)}`)).toEqual(trainable('0'.repeat(15) + '111' + '0'.repeat(18)));
    expect(trainable(`attention+mlp:${one(5)}`)).toEqual(trainable('0'.repeat(15) + '011' + '0'.repeat(18)));
    expect(() => trainable('attention:101')).toThrow(/needs 12 bits/);
    expect(() => trainable(`heads:${one(0)}`)).toThrow(/unknown component "heads"/);
  });

  it('named baselines and their trainable-parameter counts (ViT-B/16, one-logit head)', () => {
    const count = (m: string) => resolveMask(m, specs, 12).trainableCount;
    const d = 768;
    const head = d + 1;
    expect(resolveMask('full', specs, 12).totalCount).toBe(86_567_656 - 999 * 769);
    expect(count('full')).toBe(86_567_656 - 999 * 769);
    expect(count('linear-readout')).toBe(head);
    expect(count('attention')).toBe(12 * (3 * d * d + 3 * d + d * d + d) + head);
    // norm1 + norm2 of 12 blocks, and the final norm (tune_layernorm trains every "norm" parameter)
    expect(count('layernorm')).toBe(12 * 4 * d + 2 * d + head);
    expect(count('mlp')).toBe(12 * (4 * d * d + 4 * d + 4 * d * d + d) + head);
    // BitFit: every bias (patch embedding, norms' betas, qkv/proj/fc1/fc2) + the head
    expect(count('bitfit')).toBe(d + 12 * (d + 3 * d + d + d + 4 * d + d) + d + head);
    expect(trainable('bitfit')).toContain('patch_embed.proj.bias');
    expect(trainable('bitfit')).not.toContain('blocks.0.attn.qkv.weight');
  });
});

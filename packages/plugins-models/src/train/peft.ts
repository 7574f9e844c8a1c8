/**
 * Parameter-efficient fine-tuning masks over named parameter groups (FairTune, algorithms.md
 * §1.3), one representation for every backbone (PPG-GPT, ViT): each variable spec has a group
 * (embedding, norm, attention, mlp, head), a block index for block variables, and a bias flag.
 * A mask is a string:
 *  - a preset: `full`; `linear-readout` (head only); `attention`, `layernorm`, `mlp` (that
 *    component in every block, plus norms outside blocks for `layernorm`, as FairTune's
 *    tune_layernorm trains every parameter named "norm"); `bitfit` (biases only);
 *  - a bitstring of 3 bits per block in the seed paper's `auto_peft1` layout: bit i → block
 *    ⌊i/3⌋, component i mod 3 = 0 norm (both norms of the block), 1 attention, 2 mlp;
 *  - one bit per block for given components, `<components>:<bits>` with components `attention`,
 *    `layernorm`, `mlp` joined by `+`, or `block` (all three): FairTune's 12-bit spaces
 *    (tune_attention_blocks_random = `attention:…`, tune_layernorm_blocks_random =
 *    `layernorm:…`, tune_full_block = `block:…`, tune_attention_mlp = `attention+mlp:…`, …).
 * The head always trains (FairTune's `enable_module(model.head)`); with bit masks everything
 * outside the selected block components stays frozen — embedding, class token, position
 * embedding and the final norm — as `disable_module(model)` leaves them. The Logit-Laplace
 * reconstruction head `head.lm` is not part of FairTune's model: it trains only when the
 * auxiliary term is on, and is counted in `auxiliaryCount`, not `trainableCount`.
 */
import { FairtuneError } from '@fairtune/core/plugin';
import type { VariableSpec } from '../ppg-gpt/config.js';

export const MASK_PRESETS = ['full', 'linear-readout', 'attention', 'layernorm', 'mlp', 'bitfit'] as const;
export type MaskPreset = (typeof MASK_PRESETS)[number];

/** Components of the one-bit-per-block spaces (`block` = all three). */
export const BLOCK_COMPONENTS = ['attention', 'layernorm', 'mlp', 'block'] as const;

/** JSON-schema pattern of a mask string (presets, 3-bit-per-block strings, `<components>:<bits>`). */
export const MASK_PATTERN = `^(${MASK_PRESETS.join('|')}|[01]+|(attention|layernorm|mlp|block)(\\+(attention|layernorm|mlp))*:[01]+)$`;

const COMPONENT_GROUP: Readonly<Record<string, readonly string[]>> = { attention: ['attention'], layernorm: ['norm'], mlp: ['mlp'], block: ['norm', 'attention', 'mlp'] };

export interface ResolvedMask {
  /** What the user asked for (preset or bitstring). */
  readonly spec: string;
  /** Variables the optimiser updates (mask + task head, plus head.lm with the auxiliary term). */
  readonly trainable: ReadonlySet<string>;
  /** Trainable parameters as FairTune counts them: masked backbone + task head (no head.lm). */
  readonly trainableCount: number;
  /** Trainable parameters of head.lm (0 without the auxiliary term). */
  readonly auxiliaryCount: number;
  readonly totalCount: number;
}

export interface MaskOptions {
  /** The auxiliary Logit-Laplace term is active (auxWeight > 0): head.lm trains too. */
  readonly auxiliary?: boolean;
}

const isLmHead = (s: VariableSpec) => s.name.startsWith('head.lm.');

const size = (s: VariableSpec) => s.shape.reduce((a, b) => a * b, 1);

export function resolveMask(mask: string, specs: readonly VariableSpec[], nLayers: number, options: MaskOptions = {}): ResolvedMask {
  let pick: (s: VariableSpec) => boolean;
  if ((MASK_PRESETS as readonly string[]).includes(mask)) {
    const preset = mask as MaskPreset;
    pick = {
      full: () => true,
      'linear-readout': () => false,
      attention: (s: VariableSpec) => s.group === 'attention',
      layernorm: (s: VariableSpec) => s.group === 'norm',
      mlp: (s: VariableSpec) => s.group === 'mlp',
      bitfit: (s: VariableSpec) => s.isBias,
    }[preset];
  } else if (/^[a-z+]+:[01]+$/.test(mask)) {
    pick = perBlockMask(mask, nLayers);
  } else if (/^[01]+$/.test(mask)) {
    if (mask.length !== 3 * nLayers) {
      throw new FairtuneError('FT_PARAM_INVALID', `mask "${mask}" has ${mask.length} bits; this model has ${nLayers} blocks, so the bitstring needs 3·${nLayers} = ${3 * nLayers} bits (block ⌊i/3⌋, component i mod 3 = norm, attention, mlp)`, { param: 'mask' });
    }
    const comp = ['norm', 'attention', 'mlp'];
    pick = (s) => s.block !== undefined && mask[3 * s.block + comp.indexOf(s.group)] === '1';
  } else {
    throw new FairtuneError('FT_PARAM_INVALID', `mask "${mask}" is neither a preset (${MASK_PRESETS.join(', ')}), a bitstring of 0/1, nor <components>:<bits> (components ${BLOCK_COMPONENTS.join(', ')} joined by +)`, { param: 'mask' });
  }
  const trainable = new Set<string>();
  let trainableCount = 0;
  let auxiliaryCount = 0;
  let totalCount = 0;
  for (const s of specs) {
    totalCount += size(s);
    if (isLmHead(s)) {
      // Checked before the mask: `full` and `bitfit` would otherwise pick head.lm's variables.
      if (options.auxiliary) {
        trainable.add(s.name);
        auxiliaryCount += size(s);
      }
    } else if (s.group === 'head' || pick(s)) {
      trainable.add(s.name);
      trainableCount += size(s);
    }
  }
  return { spec: mask, trainable, trainableCount, auxiliaryCount, totalCount };
}

/** `<components>:<bits>`: bit i selects the listed components of block i. */
function perBlockMask(mask: string, nLayers: number): (s: VariableSpec) => boolean {
  const [head, bits] = mask.split(':') as [string, string];
  const parts = head.split('+');
  const groups = new Set<string>();
  for (const p of parts) {
    const g = COMPONENT_GROUP[p];
    if (!g || (p === 'block' && parts.length > 1)) throw new FairtuneError('FT_PARAM_INVALID', `mask "${mask}": unknown component "${p}" (expected ${BLOCK_COMPONENTS.join(', ')}; block stands alone)`, { param: 'mask' });
    for (const x of g) groups.add(x);
  }
  if (bits.length !== nLayers) throw new FairtuneError('FT_PARAM_INVALID', `mask "${mask}" has ${bits.length} bits; this model has ${nLayers} blocks, so a one-bit-per-block mask needs ${nLayers} bits`, { param: 'mask' });
  return (s) => s.block !== undefined && groups.has(s.group) && bits[s.block] === '1';
}

/**
 * Parameter-efficient fine-tuning masks over named parameter groups (FairTune, algorithms.md
 * §1.3). Presets: `full`, `linear-readout`, `attention`, `layernorm`, `bitfit`; or a bitstring
 * in the seed paper's `auto_peft1` layout: bit i → block ⌊i/3⌋, component i mod 3 =
 * 0 norm (both RMSNorms), 1 attention, 2 mlp. The task head always trains; with a bitstring the
 * embedding stays frozen (as `disable_module(model)` does in FairTune). The Logit-Laplace
 * reconstruction head `head.lm` is not part of FairTune's model: it trains only when the
 * auxiliary term is on, and is counted in `auxiliaryCount`, not `trainableCount`.
 */
import type { VariableSpec } from '../ppg-gpt/config.js';

export const MASK_PRESETS = ['full', 'linear-readout', 'attention', 'layernorm', 'bitfit'] as const;
export type MaskPreset = (typeof MASK_PRESETS)[number];

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
      bitfit: (s: VariableSpec) => s.isBias,
    }[preset];
  } else if (/^[01]+$/.test(mask)) {
    if (mask.length !== 3 * nLayers) {
      throw new Error(`mask "${mask}" has ${mask.length} bits; this model has ${nLayers} blocks, so the bitstring needs 3·${nLayers} = ${3 * nLayers} bits (block ⌊i/3⌋, component i mod 3 = norm, attention, mlp)`);
    }
    const comp = ['norm', 'attention', 'mlp'];
    pick = (s) => s.block !== undefined && mask[3 * s.block + comp.indexOf(s.group)] === '1';
  } else {
    throw new Error(`mask "${mask}" is neither a preset (${MASK_PRESETS.join(', ')}) nor a bitstring of 0/1`);
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

/**
 * `fairtune models import <checkpoint.safetensors> --out <file.safetensors>`: converts a
 * PPG-Distill / GPT-PPG checkpoint to this project's PPG-GPT weights file (ppg-gpt/convert.ts),
 * with the inferred sizes in `__metadata__.config` so `model.ppg-gpt` (weights param, or
 * FAIRTUNE_PPG_WEIGHTS in the shipped pipelines) builds the right model. docs/models.md "Real weights".
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { UsageError, type CliCommand, type CliIO } from '@fairtune/core/plugin';
import { CheckpointMappingError, convertPpgDistill } from '../ppg-gpt/convert.js';
import { backboneSpecs, countParameters } from '../ppg-gpt/config.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';

/** The .pt → safetensors script shipped with this package (src/cli → ../../scripts, and the same from dist/cli). */
export const PT_SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'pt_to_safetensors.py');

const USAGE = `Usage: fairtune models import <checkpoint.safetensors> --out <weights.safetensors>
         [--layout ppg-distill] [--heads 8] [--window-length 1200] [--fs 40] [--allow-extra]

Converts a PyTorch PPG-GPT checkpoint to this project's weights file (docs/models.md "Real weights").
  --layout         checkpoint layout; only "ppg-distill" (LingFengGold/PPG-Distill model/gpt.py GPT:
                   patch_embedding.*, gpt_layers.{i}.{norm_1,attn.w_q/w_k/w_v/w_concat,norm_2,ffn.linear1/2}, head.*;
                   prefixes module. / _orig_mod. / gpt. are removed)
  --heads          attention heads (default 8, the 19M model); read from the rotary frequencies
                   when the checkpoint has them, and then checked against this flag
  --window-length  samples per input window (default 1200 = 30 s at 40 Hz)
  --fs             sampling rate the model expects in Hz (default 40)
  --allow-extra    ignore tensors that are not backbone weights (a fine-tuned checkpoint's task
                   head) instead of failing; they are listed
  --out            output safetensors file (PPG-GPT variable names, float32, sizes in __metadata__.config)
A .pt/.pth file (zip + pickle) is converted to safetensors first:
  /usr/bin/python3 ${PT_SCRIPT} <checkpoint.pt> <checkpoint.safetensors>
Exit codes: 0 converted, 2 bad usage or a checkpoint that does not map (every problem is listed).`;


interface Parsed {
  file: string;
  out: string;
  heads?: number;
  windowLength?: number;
  fs?: number;
  allowExtra: boolean;
}

function parse(argv: readonly string[]): Parsed | 'help' {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        out: { type: 'string', short: 'o' },
        layout: { type: 'string' },
        heads: { type: 'string' },
        'window-length': { type: 'string' },
        fs: { type: 'string' },
        'allow-extra': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }) as { values: Record<string, string | boolean | undefined>; positionals: string[] });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  const [sub, ...rest] = positionals;
  if (sub !== 'import') throw new UsageError(sub ? `unknown subcommand "${sub}" (subcommands: import)` : 'missing subcommand (subcommands: import)');
  if (rest.length !== 1) throw new UsageError(`expected one checkpoint file, got ${rest.length === 0 ? 'none' : rest.join(', ')}`);
  const layout = (values.layout as string | undefined) ?? 'ppg-distill';
  if (layout !== 'ppg-distill') throw new UsageError(`--layout must be "ppg-distill", got "${layout}"`);
  if (!values.out) throw new UsageError('--out <weights.safetensors> is required');
  const positive = (flag: string, check: (v: number) => boolean, what: string): number | undefined => {
    const raw = values[flag] as string | undefined;
    if (raw === undefined) return undefined;
    const v = Number(raw);
    if (raw.trim() === '' || !check(v)) throw new UsageError(`--${flag} must be ${what}, got "${raw}"`);
    return v;
  };
  return {
    file: rest[0]!,
    out: values.out as string,
    heads: positive('heads', (v) => Number.isInteger(v) && v >= 1, 'a positive integer'),
    windowLength: positive('window-length', (v) => Number.isInteger(v) && v >= 1, 'a positive integer'),
    fs: positive('fs', (v) => Number.isFinite(v) && v > 0, 'a positive number'),
    allowExtra: values['allow-extra'] === true,
  };
}

/** A zip archive (PyTorch's .pt/.pth since 1.6) or a legacy pickle cannot be read here; says how to convert it. */
function pytorchPickleProblem(path: string, shown: string): string | undefined {
  let head = Buffer.alloc(4);
  try {
    const fd = openSync(path, 'r');
    try {
      head = head.subarray(0, readSync(fd, head, 0, 4, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined; // readSafetensors reports the unreadable file with its cause
  }
  const zip = head.length >= 2 && head[0] === 0x50 && head[1] === 0x4b;
  const pickle = head.length >= 1 && head[0] === 0x80;
  if (!zip && !pickle && !/\.(pt|pth|bin|ckpt)$/i.test(path)) return undefined;
  return `${shown} is a PyTorch pickle${zip ? ' (zip archive)' : ''}, not safetensors; convert it first (runs torch.load: only for files you trust):\n  /usr/bin/python3 ${PT_SCRIPT} ${shown} ${shown.replace(/\.[^./]+$/, '')}.safetensors`;
}

export class ModelsCommand implements CliCommand {
  readonly name = 'models';
  readonly summary = 'Import PyTorch PPG-GPT checkpoints (PPG-Distill layout) as PPG-GPT weights files';
  readonly usage = USAGE;

  async run(argv: readonly string[], io: CliIO): Promise<number> {
    let args: Parsed | 'help';
    try {
      args = parse(argv);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      io.stderr.write(`fairtune models: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    if (args === 'help') {
      io.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const input = resolve(io.cwd, args.file);
    const output = resolve(io.cwd, args.out);
    if (input === output) {
      io.stderr.write(`fairtune models import: --out ${args.out} is the checkpoint itself; choose another file\n`);
      return 2;
    }
    const pickled = pytorchPickleProblem(input, args.file);
    if (pickled) {
      io.stderr.write(`fairtune models import: ${pickled}\n`);
      return 2;
    }
    let result: ReturnType<typeof convertPpgDistill>;
    try {
      const file = readSafetensors(input);
      result = convertPpgDistill(file.tensors, { heads: args.heads, windowLength: args.windowLength, fs: args.fs, allowExtra: args.allowExtra, source: `checkpoint ${args.file}` });
    } catch (err) {
      // Unreadable files and unmappable checkpoints are bad input (exit 2); anything else is a bug and propagates.
      if (err instanceof CheckpointMappingError || /^weights file /.test((err as Error).message)) {
        io.stderr.write(`fairtune models import: ${(err as Error).message}\n`);
        return 2;
      }
      throw err;
    }
    writeSafetensors(output, result.arrays, { config: JSON.stringify(result.config), format: 'fairtune-ppg-gpt', converted_from: `ppg-distill:${basename(input)}` });
    const c = result.config;
    const lines = [
      `${args.file} → ${args.out}: PPG-GPT d ${c.dModel}, ${c.nHeads} heads, ${c.nLayers} layers, patch ${c.patchSize}, window ${c.windowLength} at ${c.fs} Hz, ${countParameters(backboneSpecs(c))} parameters`,
      ...result.notes.map((n) => `  ${n}`),
      ...(result.ignored.length ? [`  not used (${result.ignored.length}): ${result.ignored.join(', ')}`] : []),
      `Use it: model.ppg-gpt params.weights = ${args.out}, or for the shipped PPG pipelines: FAIRTUNE_PPG_WEIGHTS=${output} fairtune run pipelines/dalia-erm.json`,
    ];
    io.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  }
}

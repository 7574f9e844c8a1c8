/** The rules a stage's emitted outputs must follow, shared by the executor and `runStandalone`. */
import type { Artifact } from '../contracts/artifact.js';
import type { StagePlugin } from '../contracts/stage-plugin.js';

/** Records one `artifact` event in `outputs`, or returns why it breaks the plugin's declared ports. */
export function acceptOutput(plugin: StagePlugin, outputs: Record<string, Artifact>, port: string, a: Artifact): string | undefined {
  const declared = plugin.outputs[port];
  if (!declared) return `emitted an undeclared output "${port}" (outputs: ${Object.keys(plugin.outputs).join(', ')})`;
  if (a.kind !== declared.kind) return `output "${port}" is a ${a.kind} artifact, declared ${declared.kind}`;
  if (outputs[port]) return `emitted output "${port}" twice`;
  outputs[port] = a;
  return undefined;
}

/** Why the finished stage's outputs are incomplete, or undefined when every declared port was emitted. */
export function missingOutputs(plugin: StagePlugin, outputs: Readonly<Record<string, Artifact>>): string | undefined {
  const missing = Object.keys(plugin.outputs).filter((p) => !outputs[p]);
  return missing.length ? `finished without emitting output${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')}` : undefined;
}

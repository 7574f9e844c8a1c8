/**
 * `fairtune plugins`: the nested plugins of every kind (training strategies, …), listed after
 * the stage types in the same format: `name@version  (package)`, the description, the params.
 */
import type { JsonObject } from './contracts/artifact.js';
import { nestedPluginSlots } from './pipeline/nested-plugins.js';
import type { StageRegistry } from './registry.js';

/** `--json` entries, appended to the stage types' entries: `{ kind, name, version, package, description, params }`. */
export function nestedPluginsJson(registry: StageRegistry): JsonObject[] {
  return registry.nestedKinds().flatMap((k) =>
    (registry.nested(k.kind) ?? []).map(({ plugin, packageName }) => ({
      kind: k.kind,
      name: plugin.name,
      version: plugin.version,
      package: packageName,
      description: plugin.description,
      params: plugin.paramsSchema as JsonObject,
    })),
  );
}

/** Text lines: per kind a header naming where stages select it, then each plugin like a stage type. */
export function nestedPluginsText(registry: StageRegistry): string[] {
  const lines: string[] = [];
  const usedBy = new Map<string, string[]>();
  for (const { plugin } of registry.all()) {
    for (const slot of nestedPluginSlots(plugin.paramsSchema)) usedBy.set(slot.kind, [...(usedBy.get(slot.kind) ?? []), `${plugin.type} params${slot.pointer}`]);
  }
  for (const k of registry.nestedKinds()) {
    const plugins = registry.nested(k.kind) ?? [];
    if (!plugins.length && !usedBy.has(k.kind)) continue;
    lines.push('', `[${k.kind}] ${k.description}`, `  selected by: ${usedBy.get(k.kind)?.join(', ') ?? '—'}`);
    for (const { plugin, packageName } of plugins) {
      lines.push(`${plugin.name}@${plugin.version}  (${packageName})`, `  ${plugin.description}`);
      const props = (plugin.paramsSchema as { properties?: Record<string, { type?: unknown; enum?: unknown[]; default?: unknown; description?: string }> }).properties ?? {};
      for (const [name, p] of Object.entries(props)) {
        const type = p.type ? [p.type].flat().join('|') : p.enum ? p.enum.map((v) => JSON.stringify(v)).join('|') : '';
        lines.push(`    ${name}${type ? ` <${type}>` : ''}${p.default !== undefined ? ` = ${JSON.stringify(p.default)}` : ''}${p.description ? `  ${p.description}` : ''}`);
      }
    }
  }
  return lines;
}

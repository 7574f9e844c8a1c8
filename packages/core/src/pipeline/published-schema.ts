/**
 * The published JSON Schema (schema/pipeline.schema.json) for editor completion: the
 * envelope plus, per known stage type, its params schema (if type = X then params match X).
 */
import type { StageRegistry } from '../registry.js';
import { pipelineEnvelopeSchema } from './spec.js';

export function publishedPipelineSchema(registry: StageRegistry): object {
  const schema = structuredClone(pipelineEnvelopeSchema) as unknown as {
    definitions: { stage: { properties: { type: Record<string, unknown> }; allOf?: unknown[] } };
  };
  const plugins = registry.all();
  schema.definitions.stage.properties.type = {
    ...schema.definitions.stage.properties.type,
    anyOf: [{ enum: plugins.map((p) => p.plugin.type) }, { type: 'string', description: 'a stage type from a third-party plugin package' }],
  };
  schema.definitions.stage.allOf = plugins.map(({ plugin }) => ({
    if: { properties: { type: { const: plugin.type } }, required: ['type'] },
    then: { properties: { params: { description: plugin.description, ...stripRuntimeKeywords(plugin.paramsSchema) } } },
  }));
  return schema;
}

/** `errorMessage` is a runtime annotation; editors ignore unknown keywords, but keep the file lean. */
function stripRuntimeKeywords(schema: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema), (k, v: unknown) => (k === 'errorMessage' ? undefined : v)) as Record<string, unknown>;
}

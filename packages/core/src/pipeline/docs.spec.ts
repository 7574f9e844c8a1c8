import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pipelineEnvelopeSchema } from './spec.js';

// docs/pipelines.md is hand-written; this keeps its field tables in step with the schema.
describe('docs/pipelines.md', () => {
  const doc = readFileSync(resolve(process.cwd(), '../../docs/pipelines.md'), 'utf8');

  it('documents every pipeline field and every stage field of the schema', () => {
    const fields = [...Object.keys(pipelineEnvelopeSchema.properties), ...Object.keys(pipelineEnvelopeSchema.definitions.stage.properties)];
    for (const field of fields) expect(doc).toContain(`| \`${field}\` |`);
  });

  it('the committed schema/pipeline.schema.json carries the same envelope', () => {
    const published = JSON.parse(readFileSync(resolve(process.cwd(), '../../schema/pipeline.schema.json'), 'utf8'));
    expect(Object.keys(published.properties).sort()).toEqual(Object.keys(pipelineEnvelopeSchema.properties).sort());
    expect(published.required).toEqual(pipelineEnvelopeSchema.required);
    expect(Object.keys(published.definitions.stage.properties).sort()).toEqual(Object.keys(pipelineEnvelopeSchema.definitions.stage.properties).sort());
  });
});

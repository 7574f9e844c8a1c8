/** The pipeline file format (see docs/pipelines.md and schema/pipeline.schema.json). */
import type { JsonObject } from '../contracts/artifact.js';

export interface StageSpec {
  readonly type: string;
  readonly description?: string;
  readonly params?: JsonObject;
  /** Input port → `"<stage>"` or `"<stage>.<output>"` (a list for ports that accept several). */
  readonly inputs?: Readonly<Record<string, string | readonly string[]>>;
  /** Overrides the pipeline seed for this stage. */
  readonly seed?: number;
}

export interface PipelineSpec {
  readonly $schema?: string;
  readonly name: string;
  readonly description?: string;
  readonly seed: number;
  /** Extra plugin packages: npm names or paths relative to the pipeline file. */
  readonly plugins?: readonly string[];
  readonly stages: Readonly<Record<string, StageSpec>>;
}

export const STAGE_ID_PATTERN = '^[A-Za-z][A-Za-z0-9_-]*$';

/** JSON Schema of the pipeline envelope; stage params are checked against each plugin's own schema. */
export const pipelineEnvelopeSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://fairtune.dev/schema/pipeline.schema.json',
  title: 'FairTune-TS pipeline',
  type: 'object',
  required: ['name', 'stages'],
  additionalProperties: false,
  properties: {
    $schema: { type: 'string', description: 'Path or URL of this schema, for editor completion.' },
    name: { type: 'string', minLength: 1, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', description: 'Pipeline name; runs are recorded under runs/<name>/.' },
    description: { type: 'string' },
    seed: { type: 'integer', default: 0, description: 'Seed of every random choice; each stage receives it (or its own `seed`).' },
    plugins: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      description: 'Extra plugin packages to load: npm package names or paths relative to this file.',
    },
    stages: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: STAGE_ID_PATTERN },
      additionalProperties: { $ref: '#/definitions/stage' },
      description: 'Stage id → stage. Ids start with a letter and use letters, digits, "-" and "_".',
    },
  },
  definitions: {
    stage: {
      type: 'object',
      required: ['type'],
      additionalProperties: false,
      properties: {
        type: { type: 'string', minLength: 1, description: 'Stage type, e.g. data.dalia, train.finetune (see `fairtune plugins`).' },
        description: { type: 'string' },
        params: { type: 'object', description: "Parameters, checked against the stage type's JSON Schema; defaults are filled in." },
        inputs: {
          type: 'object',
          additionalProperties: {
            anyOf: [{ type: 'string', minLength: 1 }, { type: 'array', items: { type: 'string', minLength: 1 } }],
          },
          description: 'Input port → "<stage>" or "<stage>.<output>", or a list of them for ports that take several.',
        },
        seed: { type: 'integer', description: 'Overrides the pipeline seed for this stage.' },
      },
    },
  },
} as const;

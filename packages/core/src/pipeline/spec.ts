/** The pipeline file format (see docs/pipelines.md and schema/pipeline.schema.json). */
import type { JsonObject, JsonValue } from '../contracts/artifact.js';
import { MAX_ID_LENGTH, STAGE_ID_PATTERN } from './stage-ref.js';

export { STAGE_ID_PATTERN, MAX_ID_LENGTH };

export interface StageSpec {
  readonly type: string;
  readonly description?: string;
  readonly params?: JsonObject;
  /** Input port → `"<stage>"` or `"<stage>.<output>"` (a list for ports that accept several). */
  readonly inputs?: Readonly<Record<string, string | readonly string[]>>;
  /** Overrides the pipeline seed for this stage. */
  readonly seed?: number;
  /** The trial group this stage runs (its plugin has `runsTrials`). */
  readonly trials?: string;
  /** Repeats the stage over the product of these axes' values (composition; gone after expansion). */
  readonly matrix?: Readonly<Record<string, readonly JsonValue[]>>;
}

/** A named set of stages repeated together over the product of its matrix axes. */
export interface GroupSpec {
  readonly description?: string;
  readonly stages: readonly string[];
  readonly matrix?: Readonly<Record<string, readonly JsonValue[]>>;
  /** A trial subgraph: names each trial binds, with defaults (contracts/trials.ts). */
  readonly trials?: Readonly<Record<string, JsonValue>>;
}

export interface PipelineSpec {
  readonly $schema?: string;
  readonly name: string;
  readonly description?: string;
  readonly seed: number;
  /** Extra plugin packages: npm names or paths relative to the pipeline file. */
  readonly plugins?: readonly string[];
  readonly stages: Readonly<Record<string, StageSpec>>;
  /** Base pipeline file, relative to this file (composition; gone after expansion). */
  readonly extends?: string;
  readonly groups?: Readonly<Record<string, GroupSpec>>;
}

const MATRIX_SCHEMA = {
  type: 'object',
  minProperties: 1,
  propertyNames: { pattern: '^[A-Za-z][A-Za-z0-9_-]*$', maxLength: MAX_ID_LENGTH },
  additionalProperties: {
    type: 'array',
    minItems: 1,
    items: {
      anyOf: [
        { type: ['string', 'number', 'boolean'] },
        { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, description: 'Label of this value in copy ids and %{axis}.' } } },
      ],
    },
  },
  description: 'Axis → values; the stage is repeated over the product of the axes. Bind a value with "%{axis}" (or "%{axis.field}" for an object value) in any string of the stage. Copies are named "<stage>[axis=value,…]".',
} as const;

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
    name: { type: 'string', minLength: 1, maxLength: MAX_ID_LENGTH, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', description: 'Pipeline name; runs are recorded under runs/<name>/. Not inherited through "extends".' },
    extends: {
      type: 'string',
      minLength: 1,
      description: 'A base pipeline file (path relative to this file): its stages and groups are merged by id, params deep-merged; set a stage or param to null to remove it.',
    },
    groups: {
      type: 'object',
      propertyNames: { pattern: '^[A-Za-z][A-Za-z0-9_-]*$', maxLength: MAX_ID_LENGTH },
      additionalProperties: {
        type: 'object',
        required: ['stages'],
        oneOf: [{ required: ['matrix'] }, { required: ['trials'] }],
        additionalProperties: false,
        properties: {
          description: { type: 'string' },
          stages: { type: 'array', minItems: 1, items: { type: 'string' }, description: 'Ids of the stages repeated together.' },
          matrix: MATRIX_SCHEMA,
          trials: {
            type: 'object',
            propertyNames: { pattern: '^[A-Za-z][A-Za-z0-9_-]*$', maxLength: MAX_ID_LENGTH },
            description: 'A trial subgraph: the names each trial binds ("%{name}" in its stages), with default values. The stage whose "trials" names this group runs it; its stages never run on their own.',
          },
        },
      },
      description: 'Named groups of stages repeated together: over the product of a matrix (bound when the pipeline is read), or as trials (bound by an optimiser stage while it runs). A stage in several groups gets every group\'s axes.',
    },
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
      propertyNames: { pattern: STAGE_ID_PATTERN, maxLength: MAX_ID_LENGTH },
      additionalProperties: { $ref: '#/definitions/stage' },
      description: 'Stage id → stage. Ids start with a letter and use letters, digits, "-" and "_" (copies of a matrix add "[axis=value,…]").',
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
        seed: {
          anyOf: [{ type: 'integer' }, { type: 'string', pattern: '^%\\{[^{}]+\\}$' }],
          description: 'Overrides the pipeline seed for this stage (may be a matrix value: "%{seed}").',
        },
        matrix: MATRIX_SCHEMA,
        trials: { type: 'string', description: 'The trial group this stage runs (its type must run trials, e.g. an optimiser).' },
      },
    },
  },
} as const;

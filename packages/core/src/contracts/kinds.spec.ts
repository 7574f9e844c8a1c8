/**
 * Typed artifact kinds and coded errors. The `@ts-expect-error` lines are checked by the
 * typecheck target (a line that stops being an error fails it), the rest by jest.
 */
import { describe, expect, it } from '@jest/globals';
import { artifact, isKind, ndarray, optionalInput, requireArray, requireInput, requireInputs, type Artifact, type KindArtifact } from './artifact.js';
import type { ModelMeta, PredictionsMeta, SamplesMeta } from './artifact-kinds.js';
import { ERROR_CODES, errorCode, errorDocAnchor, errorLine, FairtuneError, paramError } from './errors.js';
import { inputPorts, stageInputs } from './stage-plugin.js';
import { outputOf } from '../testing.js';

const predictionsMeta: PredictionsMeta = { task: 'regression', target: { name: 'hr' }, dataset: 'd', synthetic: true, subjects: ['a'] };
const predictions = artifact('predictions', predictionsMeta, { yTrue: ndarray(Float32Array.of(1)) });
const embeddings = artifact('embeddings', predictionsMeta, { z: ndarray(Float32Array.of(1, 2), [1, 2]) });
const metrics = (method: string) => artifact('metrics', { method, overall: { mae: 1 } });

const PORTS = inputPorts({
  predictions: { kind: 'predictions' },
  embeddings: { kind: 'embeddings', optional: true },
  metrics: { kind: 'metrics', multiple: true },
  curves: { kind: ['json', 'model'], multiple: true, optional: true },
});

/** The error `fn` throws (fails the test when it throws none). */
function thrown(fn: () => unknown): FairtuneError {
  try {
    fn();
  } catch (e) {
    return e as FairtuneError;
  }
  throw new Error('expected an error');
}

describe('typed artifact kinds', () => {
  it('types a meta by its kind when built, and rejects a meta of another kind at compile time', () => {
    const m: SamplesMeta['name'] | undefined = undefined;
    expect(m).toBeUndefined();
    // @ts-expect-error a predictions artifact needs a PredictionsMeta (this one lacks task, target, …)
    artifact('predictions', { dataset: 'd' });
    // @ts-expect-error a model meta is not a samples meta
    artifact('samples', {} as ModelMeta);
    // A kind of a plugin's own takes any meta.
    expect(artifact('csv-table', { columns: ['a'] }).kind).toBe('csv-table');
  });

  it('types inputs from the declared ports and checks them at run time', () => {
    const inputs = stageInputs({ predictions, metrics: metrics('erm') }, PORTS);
    const dataset: string = inputs.predictions.meta.dataset;
    expect(dataset).toBe('d');
    // A multiple port is a list even when one artifact was bound; an absent optional port is absent.
    expect(inputs.metrics.map((a) => a.meta.method)).toEqual(['erm']);
    expect(inputs.embeddings).toBeUndefined();
    // @ts-expect-error an optional port may be absent
    expect(() => inputs.embeddings.meta).toThrow(TypeError);
    const curves = inputs.curves ?? [];
    expect(curves).toEqual([]);

    const missing = thrown(() => stageInputs({ metrics: [] }, PORTS));
    expect(missing).toMatchObject({ code: 'FT_INPUT_MISSING', about: { port: 'predictions' }, message: 'input "predictions" is missing' });
    const wrongKind = thrown(() => stageInputs({ predictions: embeddings, metrics: [] }, PORTS));
    expect(wrongKind).toMatchObject({ code: 'FT_INPUT_KIND', about: { port: 'predictions' }, message: 'input "predictions" is a embeddings artifact, expected predictions' });
    const list = thrown(() => stageInputs({ predictions: [predictions], metrics: [] }, PORTS));
    expect(list).toMatchObject({ code: 'FT_INPUT_KIND', message: 'input "predictions" must be one artifact, got a list of 1' });
    const wrongInList = thrown(() => stageInputs({ predictions, metrics: [metrics('a'), predictions] }, PORTS));
    expect(wrongInList).toMatchObject({ code: 'FT_INPUT_KIND', about: { port: 'metrics' } });
  });

  it('checks and types single inputs read one at a time', () => {
    const inputs: Record<string, Artifact | readonly Artifact[]> = { predictions, metrics: [metrics('a'), metrics('b')] };
    expect(requireInput(inputs, 'predictions', 'predictions').meta.task).toBe('regression');
    expect(requireInput(inputs, 'predictions', ['predictions', 'embeddings']).kind).toBe('predictions');
    expect(optionalInput(inputs, 'embeddings', 'embeddings')).toBeUndefined();
    expect(requireInputs(inputs, 'metrics', 'metrics').map((m) => m.meta.method)).toEqual(['a', 'b']);
    expect(thrown(() => requireInput(inputs, 'predictions', 'model'))).toMatchObject({ code: 'FT_INPUT_KIND' });
    expect(thrown(() => requireInput(inputs, 'model'))).toMatchObject({ code: 'FT_INPUT_MISSING', about: { port: 'model' } });
    expect(thrown(() => requireArray(predictions, 'yPred'))).toMatchObject({ code: 'FT_ARRAY_MISSING', message: 'predictions artifact has no array "yPred" (has: yTrue)' });
    const loaded: Artifact = embeddings;
    if (isKind(loaded, ['predictions', 'embeddings'])) {
      const narrowed: KindArtifact<'predictions' | 'embeddings'> = loaded;
      expect(narrowed.meta.subjects).toEqual(['a']);
    } else throw new Error('isKind rejected an embeddings artifact');
    expect(isKind(loaded, 'model')).toBe(false);
  });
});

describe('outputOf (tests reading a standalone run)', () => {
  it('types an output by its kind and names an absent output or another kind', () => {
    const result = { outputs: { predictions, report: artifact('report', { title: 't' }) } };
    const task: PredictionsMeta['task'] = outputOf(result, 'predictions', 'predictions').meta.task;
    expect(task).toBe('regression');
    expect(thrown(() => outputOf(result, 'metrics', 'metrics'))).toMatchObject({ code: 'FT_OUTPUT_CONTRACT', message: 'the run has no output "metrics" (outputs: predictions, report)' });
    expect(thrown(() => outputOf(result, 'report', 'metrics'))).toMatchObject({ code: 'FT_OUTPUT_CONTRACT', message: 'output "report" is a report artifact, expected metrics' });
  });
});

describe('coded errors', () => {
  it('finds the code of an error from any copy of core by its shape, and only of an Error', () => {
    expect(errorCode(new FairtuneError('FT_DATA_FORMAT', 'x'))).toBe('FT_DATA_FORMAT');
    // A FairtuneError of another copy of core is not `instanceof` this one's class.
    const foreign = Object.assign(new Error('x'), { code: 'FT_DATA_FORMAT', about: {} });
    expect(errorCode(foreign)).toBe('FT_DATA_FORMAT');
    // Node's own codes (ENOENT, ERR_STREAM_PREMATURE_CLOSE, zlib's Z_DATA_ERROR) and non-errors are not ours.
    expect(errorCode(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBeUndefined();
    expect(errorCode(Object.assign(new Error('x'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }))).toBeUndefined();
    expect(errorCode(Object.assign(new Error('x'), { code: 'Z_DATA_ERROR' }))).toBeUndefined();
    expect(errorCode({ code: 'FT_DATA_FORMAT' })).toBeUndefined();
    expect(errorCode(new Error('plain'))).toBeUndefined();
  });

  it('prints the code and where its fix is documented after the message', () => {
    expect(errorLine(new FairtuneError('FT_DATA_MISSING', '/data/S1.csv: file not found', { file: '/data/S1.csv' }))).toBe(
      'error: /data/S1.csv: file not found [FT_DATA_MISSING; how to fix: docs/errors.md#ft_data_missing]',
    );
    expect(errorLine(new Error('plain'))).toBe('error: plain');
    expect(paramError('split', 'no such split')).toMatchObject({ code: 'FT_PARAM_INVALID', about: { param: 'split' }, message: 'param "split": no such split' });
  });

  it('documents every code with a title and a fix, under an anchor the CLI can print', () => {
    for (const [code, info] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^FT_[A-Z0-9_]+$/);
      expect(info.title.length).toBeGreaterThan(20);
      expect(info.fix.length).toBeGreaterThan(20);
      expect(errorDocAnchor(code)).toBe(`docs/errors.md#${code.toLowerCase()}`);
    }
  });
});

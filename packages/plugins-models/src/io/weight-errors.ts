/**
 * The code of an error about one stored weight, by where the weights came from: in a model or
 * backbone artifact (`about.port`) a missing or misshapen array is FT_ARRAY_MISSING and a bad value
 * FT_INPUT_CONTENT; in a weights file (`about.file`, or nothing known) a missing or misshapen
 * tensor is FT_CHECKPOINT_MAPPING and a bad value FT_DATA_FORMAT (a damaged file).
 */
import { FairtuneError, type ErrorSubject } from '@fairtune/core/plugin';

export function weightError(about: ErrorSubject, problem: 'layout' | 'value', message: string): FairtuneError {
  const fromArtifact = about.port !== undefined;
  const code = problem === 'layout' ? (fromArtifact ? 'FT_ARRAY_MISSING' : 'FT_CHECKPOINT_MAPPING') : fromArtifact ? 'FT_INPUT_CONTENT' : 'FT_DATA_FORMAT';
  return new FairtuneError(code, message, about);
}

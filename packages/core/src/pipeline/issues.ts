import { FairtuneError } from '../contracts/errors.js';
/** Validation issues carry a JSON pointer into the pipeline file and a plain sentence. */
export interface PipelineIssue {
  /** JSON pointer, e.g. `/stages/fine-tune/params/eta` ('' = the whole file). */
  readonly path: string;
  readonly message: string;
}

/** One line for people; a key in the pointer longer than any valid id (a 5,000-character one) is shortened. */
export function formatIssue(file: string, issue: PipelineIssue): string {
  const path = issue.path
    .split('/')
    .map((seg) => (seg.length > 200 ? `${seg.slice(0, 60)}…(${seg.length} characters)` : seg))
    .join('/');
  const message = issue.message.replace(/\s*\n\s*/g, ' ').replace(/[^\s"]{241,}/g, (w) => `${w.slice(0, 60)}…(${w.length} characters)`);
  return `${file}: ${path || '/'}: ${message}`;
}

/** An invalid pipeline: all errors at once. The CLI prints them and exits with code 2. */
export class PipelineError extends FairtuneError {
  override readonly name = 'PipelineError';
  constructor(
    readonly file: string,
    readonly issues: readonly PipelineIssue[],
    readonly warnings: readonly PipelineIssue[] = [],
    /** Plugins named by a path and the files imported for them (their code ran before validation failed). */
    readonly pathPlugins: readonly { readonly specifier: string; readonly file: string }[] = [],
  ) {
    super('FT_PIPELINE_INVALID', `${file} is not a valid pipeline (${issues.length} error${issues.length === 1 ? '' : 's'}):\n` + issues.map((i) => '  ' + formatIssue(file, i)).join('\n'), { file, ...(issues[0] ? { pointer: issues[0].path } : {}) });
  }
}

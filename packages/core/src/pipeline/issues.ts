/** Validation issues carry a JSON pointer into the pipeline file and a plain sentence. */
export interface PipelineIssue {
  /** JSON pointer, e.g. `/stages/fine-tune/params/eta` ('' = the whole file). */
  readonly path: string;
  readonly message: string;
}

export function formatIssue(file: string, issue: PipelineIssue): string {
  return `${file}: ${issue.path || '/'}: ${issue.message}`;
}

/** An invalid pipeline: all errors at once. The CLI prints them and exits with code 2. */
export class PipelineError extends Error {
  override readonly name = 'PipelineError';
  constructor(
    readonly file: string,
    readonly issues: readonly PipelineIssue[],
    readonly warnings: readonly PipelineIssue[] = [],
  ) {
    super(`${file} is not a valid pipeline (${issues.length} error${issues.length === 1 ? '' : 's'}):\n` + issues.map((i) => '  ' + formatIssue(file, i)).join('\n'));
  }
}

/**
 * Errors with stable codes. Every error a user is meant to read and act on (bad input, a data
 * file that cannot be read, a setting that cannot run here) is a `FairtuneError` with an `FT_…`
 * code, the thing it is about (file, JSON pointer, input port, param), and a documented fix:
 * docs/errors.md is generated from `ERROR_CODES` (tools/check-pipelines.mjs --write) and the CLI
 * prints the code after the message. Anything else a stage throws is a bug, reported as such.
 *
 * Codes are API: never rename or reuse one. A third-party plugin may throw these codes (they
 * mean the same thing everywhere) or its own, with a prefix of its own (not `FT_`).
 */

/** What one code means and how a user fixes it (docs/errors.md is written from this table). */
export interface ErrorCodeInfo {
  /** One line: what went wrong. */
  readonly title: string;
  /** What to do about it. */
  readonly fix: string;
}

export const ERROR_CODES = {
  FT_PIPELINE_INVALID: {
    title: 'The pipeline file is not valid: each problem names the file and a JSON pointer into it.',
    fix: 'Edit the file at each pointer (or the `--set` override that put the value there) and check it again with `npx fairtune validate <pipeline>`, which lists every problem at once without running anything.',
  },
  FT_USAGE: {
    title: 'The command line is wrong: an unknown option, a missing argument, or a value of the wrong form.',
    fix: 'Run the command with `--help` for its options and their forms.',
  },
  FT_PLUGIN_LOAD: {
    title: 'A plugin package (or a plugin file named by a path) could not be loaded, or it registers nothing valid.',
    fix: 'Install the package in the project that runs the pipeline (`npm install <name>`), check the name in the pipeline\'s `plugins` list or `--plugin`, and see that the package binds its stage plugins to `STAGE_PLUGIN` (docs/writing-a-plugin.md).',
  },
  FT_RUN_SETUP: {
    title: 'The run could not start: the cache or runs folder cannot be created or locked, or a flag names something the pipeline does not have.',
    fix: 'Check the folder named in the message (permissions, free space, another process holding it) and the stage ids given to `--force`.',
  },
  FT_INPUT_MISSING: {
    title: 'A stage ran without a required input: its port is named.',
    fix: 'Connect the port in the pipeline (`"inputs": { "<port>": "<stage>.<output>" }`); in a test through `runStandalone`, pass the artifact in `inputs`.',
  },
  FT_INPUT_KIND: {
    title: 'An input is of the wrong kind, or a list where one artifact is expected (or the reverse).',
    fix: 'Connect an output of the kind the port declares (`npx fairtune plugins` lists each port\'s kinds); only a port marked `multiple` takes a list.',
  },
  FT_INPUT_CONTENT: {
    title: 'An input has the right kind but content this stage cannot use: another task, no groups, an empty split, a modality or window the model does not take (the message names the input and what it lacks).',
    fix: 'Change the stage that produces the input (for example group the samples with `split.groups`, or split them with `split.subjects`) or connect another producer; the message says what is missing.',
  },
  FT_ARRAY_MISSING: {
    title: 'An artifact lacks an array the stage reads, or the array has the wrong type or shape.',
    fix: 'The producing stage does not write what this stage expects: check that the two stages are meant to be connected (docs/artifacts.md lists the arrays of each well-known kind) and that both plugins are current.',
  },
  FT_OUTPUT_CONTRACT: {
    title: 'A stage emitted an output it does not declare, emitted one twice or with another kind, or finished without one it declares.',
    fix: 'A bug in the plugin named by the stage type: its `outputs` and what `run` emits must agree. Check it with `checkStageConformance` from `@fairtune/core/testing`.',
  },
  FT_PARAM_INVALID: {
    title: 'A stage param passed the schema but cannot work with the data or the other params (the message names the param).',
    fix: 'Change the named param in the pipeline file (its JSON pointer is `/stages/<id>/params/<param>`) or with `--set <id>.<param>=…`.',
  },
  FT_FINGERPRINT: {
    title: 'A stage could not fingerprint what it reads from outside the pipeline (for example a data folder), so its cache key cannot be computed.',
    fix: 'Check that the path named in the message exists and is readable.',
  },
  FT_DATA_MISSING: {
    title: 'A data file or folder the stage needs is absent.',
    fix: 'Check the path the message names. For a dataset stage, compare the `root` param (or the environment variable the pipeline reads it from) with the layout in docs/datasets.md, or leave `root` unset to use the synthetic cohort; for a file given to a command (`fairtune metrics <file>`), check the path and its permissions.',
  },
  FT_DATA_FORMAT: {
    title: 'A data file is not in the format the stage reads (the message names the file and, where it can, the line, record or field).',
    fix: 'Compare the file with the publisher\'s format described in docs/datasets.md; a truncated download is the usual cause (delete it and download again).',
  },
  FT_DOWNLOAD_FAILED: {
    title: 'A dataset download failed: an HTTP error, or the connection ended before the whole file arrived.',
    fix: 'Run again (a partial download resumes); check network access and `downloadUrl`; or download the dataset by hand into `root` (docs/datasets.md).',
  },
  FT_MODEL_TOO_LARGE: {
    title: 'The model or input size would not fit the WebAssembly engine\'s 4 GiB heap.',
    fix: 'Use a smaller preset or input size, or install `@tensorflow/tfjs-node` (or `@tensorflow/tfjs-node-gpu` with a GPU) and run with `--backend node` (or `node-gpu`), which has no such limit.',
  },
  FT_TRAINING_DIVERGED: {
    title: 'Training stopped because the loss became NaN or infinite (the message names the epoch and step).',
    fix: 'Lower `learningRate`, keep gradient clipping on (`gradClipNorm` > 0), or lower `auxWeight`; check that inputs and targets are finite and scaled (a constant or huge target often causes it).',
  },
  FT_BACKEND_UNAVAILABLE: {
    title: 'The tensor backend asked for is not installed or could not start.',
    fix: 'Install the package the message names, or choose another backend with `--backend` (or `FAIRTUNE_BACKEND`); `wasm` needs nothing extra.',
  },
  FT_CHECKPOINT_MAPPING: {
    title: 'Pretrained weights could not be mapped onto the model: variables missing, left over or of the wrong shape (all are listed).',
    fix: 'Choose the preset whose sizes match the checkpoint (the message lists the shapes found), or convert the checkpoint from the layout it was saved in (docs/models.md).',
  },
  FT_STUDY_FORMAT: {
    title: 'A search study (an Optuna journal file or Redis journal) holds a record this version cannot read, or an operation it refuses (the message names the line or key).',
    fix: 'Check that only Optuna 3.1–5 (JournalStorage) and FairTune write the study; otherwise give the search a new `studyName`, or start from a copy of the journal without the damaged tail.',
  },
  FT_STUDY_UNREACHABLE: {
    title: "A search study's storage cannot be reached or locked: the Redis server does not answer or refuses the command, or another process took the journal file's lock.",
    fix: 'Check that redis-server runs at the URL in the message (address, database, password), or that nothing else removes `<journal>.lock`; then run again: finished trials are kept in the study.',
  },
  FT_SEARCH_SPACE: {
    title: 'A search space (distributions, their bounds or choices) is invalid or differs from the one already in the study.',
    fix: 'Fix the distribution the message names; to search a different space, use a new `studyName`.',
  },
  FT_SEARCH_FAILED: {
    title: 'A search could not produce a result: its trials kept failing (`maxFailedInARow`), no trial completed, or the best trial could not be run again or retrained; the underlying error is included.',
    fix: 'Fix the cause in the last trial\'s error (it is usually the same for every trial), then run again: finished trials are kept in the study.',
  },
  FT_CACHE_BUSY: {
    title: 'Cache maintenance (`cache gc` or `cache clear`) could not start because another maintenance process holds the cache\'s lock.',
    fix: 'Wait for the other `fairtune cache` command to finish; a lock left by a process that died is taken over once that process is gone.',
  },
  FT_NOT_A_CACHE: {
    title: 'The folder given as the cache is not a FairTune cache, so maintenance refuses to touch it.',
    fix: 'Check `--cache-dir` (or `FAIRTUNE_CACHE_DIR`): it must be a folder created by `fairtune run`.',
  },
} as const satisfies Readonly<Record<`FT_${string}`, ErrorCodeInfo>>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** What an error is about, as far as it is known: the fields say where to look. */
export interface ErrorSubject {
  /** A file the error is about (a data file, the pipeline file, a journal). */
  readonly file?: string;
  /** A JSON pointer into the pipeline file, or into a JSON file named by `file`. */
  readonly pointer?: string;
  /** An input or output port of the stage. */
  readonly port?: string;
  /** A stage param by name (or a path such as `strategy.eta`). */
  readonly param?: string;
}

/**
 * An error for people: a stable `code` (see `ERROR_CODES`), a message that says what and where,
 * and the subject fields for programs (the run record keeps them).
 */
export class FairtuneError extends Error {
  override readonly name: string = 'FairtuneError';
  readonly code: string;
  readonly about: ErrorSubject;
  constructor(code: ErrorCode | (string & {}), message: string, about: ErrorSubject = {}, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.about = about;
  }
}

/**
 * The code of an error that has one (a FairtuneError from any copy of core: the check is by
 * shape, a code and an `about` object, not `instanceof`, since a plugin may bring its own copy).
 */
export function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; about?: unknown } | null;
  // `about` tells ours from Node's own coded errors (ERR_STREAM_PREMATURE_CLOSE, Z_DATA_ERROR, ENOENT).
  const about = e?.about;
  return err instanceof Error && typeof e?.code === 'string' && /^[A-Z][A-Z0-9]*_[A-Z0-9_]+$/.test(e.code) && typeof about === 'object' && about !== null ? e.code : undefined;
}

/** The anchor of a code in docs/errors.md. */
export function errorDocAnchor(code: string): string {
  return `docs/errors.md#${code.toLowerCase()}`;
}

/** `error: <message>`, followed for a coded error by its code and where its fix is documented. */
export function errorLine(e: unknown): string {
  const code = errorCode(e);
  const message = e instanceof Error ? e.message : String(e);
  return code ? `error: ${message} [${code}; how to fix: ${errorDocAnchor(code)}]` : `error: ${message}`;
}

/** A FT_PARAM_INVALID error about param `param` (a name or dotted path). */
export function paramError(param: string, message: string): FairtuneError {
  return new FairtuneError('FT_PARAM_INVALID', `param "${param}": ${message}`, { param });
}

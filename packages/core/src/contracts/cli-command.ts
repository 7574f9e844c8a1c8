/**
 * Plugin packages may add subcommands to the `fairtune` CLI (e.g. `fairtune data inspect`,
 * `fairtune metrics`) by binding a CliCommand to CLI_COMMAND in their ContainerModule.
 */
import type { ServiceIdentifier } from 'inversify';
import { FairtuneError } from './errors.js';

export interface CliIO {
  readonly cwd: string;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
}

export interface CliCommand {
  /** First word on the command line (`data`, `metrics`). Must not clash with core's commands. */
  readonly name: string;
  /** One line for `fairtune --help`. */
  readonly summary: string;
  /** Full usage text printed for `fairtune <name> --help` and on usage errors. */
  readonly usage: string;
  /**
   * Runs with the arguments after the command name; resolves to the exit code:
   * 0 success, 1 failure of the work itself, 2 bad usage or bad input.
   */
  run(argv: readonly string[], io: CliIO): Promise<number>;
}

export const CLI_COMMAND: ServiceIdentifier<CliCommand> = Symbol.for('@fairtune/core:CliCommand');

/** Thrown by commands for bad usage; the CLI prints the message and the command's usage and exits 2. */
export class UsageError extends FairtuneError {
  override readonly name = 'UsageError';
  constructor(message: string, options?: ErrorOptions) {
    super('FT_USAGE', message, {}, options);
  }
}

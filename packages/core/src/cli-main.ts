/**
 * `fairtune` command line. Exit codes: 0 success, 1 run failure, 2 invalid pipeline or
 * usage, 130 interrupted (Ctrl-C). Plugin packages add subcommands through CLI_COMMAND.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { addCacheCommands } from './cache/cache-commands.js';
import { addNewCommands } from './scaffold/command.js';
import { nestedPluginsJson, nestedPluginsText } from './cli-nested-plugins.js';
import { UsageError, type CliIO } from './contracts/cli-command.js';
import { errorCode, errorDocAnchor, errorLine } from './contracts/errors.js';
import type { ExecutorEvent } from './executor/executor.js';
import type { WorkerLaunch } from './executor/trial-workers.js';
import { graphMermaid, graphText } from './pipeline/graph.js';
import { PipelineError, formatIssue } from './pipeline/issues.js';
import { publishedPipelineSchema } from './pipeline/published-schema.js';
import { createProgressReporter } from './run/progress.js';
import type { RunSummary } from './run/run-record.js';
import { PluginLoadError } from './registry.js';
import { createRegistry, openPipeline, pipelineRedactor, redactedExpanded, RunSetupError, runPipeline, selectForced } from './runtime.js';

const CORE_COMMANDS = new Set(['run', 'validate', 'graph', 'plugins', 'cache', 'schema', 'new', 'help']);

export interface MainIO extends CliIO {
  readonly stderr: NodeJS.WriteStream | NodeJS.WritableStream;
  /** Abort signal wired to Ctrl-C by the bin; tests pass their own. */
  readonly signal?: AbortSignal;
  /** Force the TTY display on or off (default: stderr.isTTY). */
  readonly tty?: boolean;
  /**
   * How this CLI was started (the node binary, its flags and the CLI script), so that `run` can
   * start copies of itself as trial workers (executor/trial-workers.ts). The bin gives it; without
   * it a search's `parallel` is refused.
   */
  readonly self?: WorkerLaunch;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export async function main(argv: readonly string[], io: MainIO): Promise<number> {
  const first = argv.find((a) => !a.startsWith('-'));
  if (first && !CORE_COMMANDS.has(first)) return runContributed(first, argv.slice(argv.indexOf(first) + 1), io);

  const out = (s: string) => io.stdout.write(s.endsWith('\n') ? s : s + '\n');
  const err = (s: string) => io.stderr.write(s.endsWith('\n') ? s : s + '\n');
  let code = 0;
  const program = new Command('fairtune')
    .description('FairTune-TS: run bias-aware fine-tuning pipelines')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', '\nPlugin commands: data (fairtune data inspect <path>), metrics (fairtune metrics <predictions.csv>), study (fairtune study ls|show|best), models (fairtune models import <checkpoint>), when their packages are installed.');

  const pipelineOptions = (c: Command) =>
    c
      .option('--set <stage.param=value>', 'override a parameter (repeatable)', collect, [])
      .option('--plugin <package>', 'load an extra plugin package (repeatable)', collect, [])
      .option('--no-builtins', 'do not load the built-in plugin packages');

  pipelineOptions(program.command('run').argument('<pipeline>', 'pipeline JSON file').description('run a pipeline; prints the run directory'))
    .option('--force [stage...]', 'recompute every stage, or the named stages and their descendants, even when cached')
    .option('--cache-dir <dir>', 'artifact cache directory (default $FAIRTUNE_CACHE_DIR or .fairtune/cache)')
    .option('--runs-dir <dir>', 'run records directory (default $FAIRTUNE_RUNS_DIR or runs)')
    .addOption(new Option('--concurrency <n>', 'stages executing at once').default('2').argParser(positiveInt))
    .option('--backend <name>', 'tensor backend for model stages (wasm, cpu, node, node-gpu, webgpu); sets FAIRTUNE_BACKEND')
    .option('--verbose', 'show debug logs')
    .action(async (file: string, o: RunFlags) => {
      code = await runCommand(file, o, io, out, err);
    });

  pipelineOptions(program.command('validate').argument('<pipeline>').description('check a pipeline and list every problem'))
    .option('--json', 'print { valid, errors, warnings } as JSON')
    .option('--expanded', 'print only the expanded pipeline (extends merged, matrices expanded) in pipeline-file format')
    .action(async (file: string, o: { set: string[]; plugin: string[]; builtins: boolean; json?: boolean; expanded?: boolean }) => {
      // A plugin named by a path was imported to validate: its code ran. Say which file.
      const pluginLine = (p: { specifier: string; file: string }) => `plugin "${p.specifier}" is ${p.file} (a plugin given as a path is imported, so its code ran)`;
      try {
        const opened = await openPipeline(file, { sets: o.set, plugins: o.plugin, builtins: o.builtins, env: io.env });
        if (o.expanded) {
          for (const p of opened.pathPlugins) err(pluginLine(p));
          out(JSON.stringify(redactedExpanded(opened), null, 2));
        } else if (o.json) out(JSON.stringify({ valid: true, errors: [], warnings: opened.warnings, pathPlugins: opened.pathPlugins }, null, 2));
        else {
          for (const p of opened.pathPlugins) err(pluginLine(p));
          for (const w of opened.warnings) err(`warning: ${formatIssue(file, w)}`);
          out(`${file}: valid (${opened.pipeline.stages.length} stages)`);
        }
      } catch (e) {
        if (!(e instanceof PipelineError)) throw e;
        if (o.json) out(JSON.stringify({ valid: false, errors: e.issues, warnings: e.warnings, pathPlugins: e.pathPlugins }, null, 2));
        else {
          for (const p of e.pathPlugins) err(pluginLine(p));
          printPipelineError(e, err);
        }
        code = 2;
      }
    });

  pipelineOptions(program.command('graph').argument('<pipeline>').description('print the stage graph'))
    .option('--mermaid', 'print a Mermaid flowchart')
    .action(async (file: string, o: { set: string[]; plugin: string[]; builtins: boolean; mermaid?: boolean }) => {
      try {
        const { pipeline } = await openPipeline(file, { sets: o.set, plugins: o.plugin, builtins: o.builtins, env: io.env });
        out(o.mermaid ? graphMermaid(pipeline) : graphText(pipeline));
      } catch (e) {
        if (!(e instanceof PipelineError)) throw e;
        printPipelineError(e, err);
        code = 2;
      }
    });

  program
    .command('plugins')
    .description('list every stage type with its params and ports, then the nested plugins (training strategies, …) with their params')
    .option('--plugin <package>', 'load an extra plugin package (repeatable)', collect, [])
    .option('--no-builtins', 'do not load the built-in plugin packages')
    .option('--json', 'print an array of { type, version, package, params, inputs, outputs } per stage type, then { kind, name, version, package, params } per nested plugin')
    .action(async (o: { plugin: string[]; builtins: boolean; json?: boolean }) => {
      const registry = await createRegistry({ plugins: o.plugin, baseDir: io.cwd, builtins: o.builtins });
      const all = registry.all();
      if (o.json) {
        out(JSON.stringify([...all.map(({ plugin, packageName }) => ({ type: plugin.type, version: plugin.version, package: packageName, description: plugin.description, params: plugin.paramsSchema, inputs: plugin.inputs, outputs: plugin.outputs })), ...nestedPluginsJson(registry)], null, 2));
        return;
      }
      for (const { plugin, packageName } of all) {
        out(`${plugin.type}@${plugin.version}  (${packageName})\n  ${plugin.description}`);
        const ins = Object.entries(plugin.inputs).map(([n, p]) => `${n}: ${[p.kind].flat().join('|')}${p.multiple ? '[]' : ''}${p.optional ? '?' : ''}`);
        const outs = Object.entries(plugin.outputs).map(([n, p]) => `${n}: ${p.kind}`);
        out(`  inputs:  ${ins.join(', ') || '—'}\n  outputs: ${outs.join(', ') || '—'}`);
        const props = (plugin.paramsSchema as { properties?: Record<string, { type?: unknown; default?: unknown; description?: string }> }).properties ?? {};
        for (const [name, p] of Object.entries(props)) {
          out(`    ${name}${p.type ? ` <${[p.type].flat().join('|')}>` : ''}${p.default !== undefined ? ` = ${JSON.stringify(p.default)}` : ''}${p.description ? `  ${p.description}` : ''}`);
        }
      }
      for (const line of nestedPluginsText(registry)) out(line);
    });

  program
    .command('schema')
    .description('print the pipeline JSON Schema with the params of every installed stage type')
    .option('--plugin <package>', 'load an extra plugin package (repeatable)', collect, [])
    .option('--out <file>', 'write it to a file instead of stdout')
    .action(async (o: { plugin: string[]; out?: string }) => {
      const registry = await createRegistry({ plugins: o.plugin, baseDir: io.cwd });
      const text = JSON.stringify(publishedPipelineSchema(registry), null, 2) + '\n';
      if (o.out) writeFileSync(resolve(io.cwd, o.out), text);
      else io.stdout.write(text);
    });

  addCacheCommands(program, io, (c) => (code = c));
  addNewCommands(program, io);

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version are not errors; everything else commander rejects is bad usage.
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version' ? 0 : 2;
    }
    if (e instanceof PipelineError) {
      printPipelineError(e, err);
      return 2;
    }
    if (e instanceof PluginLoadError || e instanceof RunSetupError || e instanceof UsageError || (e as Error)?.name === 'UsageError') {
      err(errorLine(e));
      return 2;
    }
    throw e;
  }
  return code;
}

/**
 * What the bin prints for an exception nothing else handled (a bug in FairTune or a plugin):
 * one line, and the stack trace when FAIRTUNE_DEBUG=1. Bad input never gets here: it is
 * reported as an invalid pipeline, a usage error or a failed run.
 */
export function internalErrorText(err: unknown, env: NodeJS.ProcessEnv): string {
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  if (env['FAIRTUNE_DEBUG'] === '1') return `internal error: ${err instanceof Error ? (err.stack ?? message) : message}\n`;
  return `internal error: ${message.split('\n')[0]} (a bug in FairTune or a plugin; run with FAIRTUNE_DEBUG=1 for the stack trace)\n`;
}

interface RunFlags {
  set: string[];
  plugin: string[];
  builtins: boolean;
  force?: true | string[];
  cacheDir?: string;
  runsDir?: string;
  concurrency: number | string;
  backend?: string;
  verbose?: boolean;
}

async function runCommand(file: string, o: RunFlags, io: MainIO, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const env = { ...io.env };
  if (o.backend) {
    env['FAIRTUNE_BACKEND'] = o.backend;
    // Model plugins read the backend from the process environment.
    process.env['FAIRTUNE_BACKEND'] = o.backend;
  }
  let opened;
  try {
    opened = await openPipeline(file, { sets: o.set, plugins: o.plugin, builtins: o.builtins, env });
  } catch (e) {
    if (e instanceof PipelineError) {
      printPipelineError(e, err);
      return 2;
    }
    throw e;
  }
  const redactor = pipelineRedactor(opened.pipeline);
  // One line per notice: the copies of a matrix usually say the same thing.
  const notices = new Map<string, string[]>();
  for (const s of opened.pipeline.stages) for (const notice of s.plugin.preflight?.(s.params as never) ?? []) notices.set(notice, [...(notices.get(notice) ?? []), s.id]);
  for (const [notice, ids] of notices) err(redactor.text(`NOTE [${ids[0]}${ids.length > 1 ? ` and ${ids.length - 1} more` : ''}]: ${notice}`));
  for (const w of opened.warnings) err(`warning: ${formatIssue(file, w)}`);
  let forced: Set<string> | undefined;
  if (o.force !== undefined && o.force !== true) {
    try {
      forced = selectForced(opened, o.force);
    } catch (e) {
      err(`error: ${(e as Error).message} (stages: ${[...new Set(opened.pipeline.stages.map((s) => opened.origins.get(s.id)?.template ?? s.id))].join(', ')})`);
      return 2;
    }
  }
  const reporter = createProgressReporter(io.stderr as NodeJS.WriteStream, { tty: io.tty, verbose: o.verbose });
  let result;
  try {
    result = await runPipeline(opened, {
      cwd: io.cwd,
      env,
      cacheDir: o.cacheDir ? resolve(io.cwd, o.cacheDir) : undefined,
      runsDir: o.runsDir ? resolve(io.cwd, o.runsDir) : undefined,
      concurrency: Number(o.concurrency),
      force: o.force === true ? true : forced,
      signal: io.signal,
      ...(io.self ? { launch: workerLaunch(io.self, resolve(io.cwd, file), o, io.cwd) } : {}),
      onEvent: (e: ExecutorEvent) => reporter.handle(e),
    });
  } catch (e) {
    reporter.stop();
    if (!(e instanceof RunSetupError)) throw e;
    err(errorLine(e));
    return 2;
  }
  reporter.stop();
  printSummary(result.summary, err);
  out(result.runDir);
  return result.status === 'succeeded' ? 0 : result.status === 'cancelled' ? 130 : 1;
}

/**
 * The `fairtune run` command line of a trial worker of this run: the same pipeline, overrides,
 * plugins, cache and backend; without `--force` (what the worker's stage reads must come from the
 * cache, not be recomputed once per worker), at `--concurrency 1` (a worker runs one trial at a
 * time), and without `--runs-dir` (the parent gives each worker its own, by FAIRTUNE_RUNS_DIR).
 */
export function workerLaunch(self: WorkerLaunch, file: string, o: Pick<RunFlags, 'set' | 'plugin' | 'builtins' | 'cacheDir' | 'backend'>, cwd: string): WorkerLaunch {
  const args = [...self.args, 'run', file];
  for (const s of o.set) args.push('--set', s);
  for (const p of o.plugin) args.push('--plugin', p);
  if (!o.builtins) args.push('--no-builtins');
  if (o.cacheDir) args.push('--cache-dir', resolve(cwd, o.cacheDir));
  if (o.backend) args.push('--backend', o.backend);
  args.push('--concurrency', '1');
  return { command: self.command, args };
}

function printSummary(s: RunSummary, err: (s: string) => void): void {
  const c = s.counts;
  err(`${s.pipeline}: ${s.status} in ${(s.seconds ?? 0).toFixed(2)}s — ${c.executed} executed, ${c.cached} cached, ${c.failed} failed, ${c.skipped} skipped`);
  if (s.failedStage) err(`failed stage: ${s.failedStage}: ${s.stages[s.failedStage]?.reason ?? s.reason ?? ''}`);
  const code = s.failedStage ? s.stages[s.failedStage]?.code : undefined;
  if (code) err(`how to fix ${code}: ${errorDocAnchor(code)}`);
}


/**
 * `--plugin <package>` (repeatable) is core's for every contributed command: the packages load
 * before the command runs and the command never sees the option, so a plugin package's
 * contributions to another package's command (a dataset inspector for `data inspect`) apply.
 */
export function splitPluginOptions(args: readonly string[]): { plugins: string[]; rest: string[] } {
  const plugins: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--plugin') {
      const value = args[i + 1];
      if (value === undefined || value.startsWith('-')) throw new UsageError('--plugin needs a package name or path');
      plugins.push(value);
      i++;
    } else if (a.startsWith('--plugin=')) plugins.push(a.slice('--plugin='.length));
    else rest.push(a);
  }
  return { plugins, rest };
}

async function runContributed(name: string, args: readonly string[], io: MainIO): Promise<number> {
  let plugins: string[];
  let rest: string[];
  try {
    ({ plugins, rest } = splitPluginOptions(args));
  } catch (e) {
    io.stderr.write(`${errorLine(e)}\n`);
    return 2;
  }
  let registry;
  try {
    registry = await createRegistry({ baseDir: io.cwd, plugins });
  } catch (e) {
    if (!(e instanceof PluginLoadError)) throw e;
    io.stderr.write(`${errorLine(e)}\n`);
    return 2;
  }
  const command = registry.command(name);
  if (!command) {
    const known = [...CORE_COMMANDS].filter((c) => c !== 'help').concat(registry.commands().map((c) => c.name));
    io.stderr.write(`error: unknown command "${name}" (commands: ${known.join(', ')})\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(command.usage.endsWith('\n') ? command.usage : command.usage + '\n');
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError || (e as Error).name === 'UsageError') {
      io.stderr.write(`error: ${(e as Error).message}\n\n${command.usage}\n`);
      return 2;
    }
    // Bad input the command found (a data file it cannot read): the message and its fix, not a bug report.
    if (errorCode(e)) {
      io.stderr.write(`${errorLine(e)}\n`);
      return 1;
    }
    throw e;
  }
}

function printPipelineError(e: PipelineError, err: (s: string) => void): void {
  err(`error: ${e.file} is not a valid pipeline (${e.issues.length} problem${e.issues.length === 1 ? '' : 's'}):`);
  for (const i of e.issues) err(`  ${formatIssue(e.file, i)}`);
  for (const w of e.warnings) err(`  warning: ${formatIssue(e.file, w)}`);
  err(`[${e.code}; how to fix: ${errorDocAnchor(e.code)}]`);
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--concurrency must be a positive integer, got "${v}"`);
  return n;
}

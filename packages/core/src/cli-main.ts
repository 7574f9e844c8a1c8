/**
 * `fairtune` command line. Exit codes: 0 success, 1 run failure, 2 invalid pipeline or
 * usage, 130 interrupted (Ctrl-C). Plugin packages add subcommands through CLI_COMMAND.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { ArtifactCache } from './cache/artifact-cache.js';
import { nestedPluginsJson, nestedPluginsText } from './cli-nested-plugins.js';
import { UsageError, type CliIO } from './contracts/cli-command.js';
import type { ExecutorEvent } from './executor/executor.js';
import { graphMermaid, graphText } from './pipeline/graph.js';
import { PipelineError, formatIssue } from './pipeline/issues.js';
import { publishedPipelineSchema } from './pipeline/published-schema.js';
import { createProgressReporter } from './run/progress.js';
import type { RunSummary } from './run/run-record.js';
import { PluginLoadError } from './registry.js';
import { createRegistry, defaultCacheDir, defaultRunsDir, openPipeline, runPipeline } from './runtime.js';

const CORE_COMMANDS = new Set(['run', 'validate', 'graph', 'plugins', 'cache', 'schema', 'help']);

export interface MainIO extends CliIO {
  readonly stderr: NodeJS.WriteStream | NodeJS.WritableStream;
  /** Abort signal wired to Ctrl-C by the bin; tests pass their own. */
  readonly signal?: AbortSignal;
  /** Force the TTY display on or off (default: stderr.isTTY). */
  readonly tty?: boolean;
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
    .addHelpText('after', '\nPlugin commands: data (fairtune data inspect <path>), metrics (fairtune metrics <predictions.csv>), when their packages are installed.');

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
    .action(async (file: string, o: { set: string[]; plugin: string[]; builtins: boolean; json?: boolean }) => {
      try {
        const opened = await openPipeline(file, { sets: o.set, plugins: o.plugin, builtins: o.builtins, env: io.env });
        if (o.json) out(JSON.stringify({ valid: true, errors: [], warnings: opened.warnings }, null, 2));
        else {
          for (const w of opened.warnings) err(`warning: ${formatIssue(file, w)}`);
          out(`${file}: valid (${opened.pipeline.stages.length} stages)`);
        }
      } catch (e) {
        if (!(e instanceof PipelineError)) throw e;
        if (o.json) out(JSON.stringify({ valid: false, errors: e.issues, warnings: e.warnings }, null, 2));
        else printPipelineError(e, err);
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

  const cache = program.command('cache').description('inspect and clean the artifact cache');
  const cacheDirOption = (c: Command) => c.option('--cache-dir <dir>', 'artifact cache directory (default $FAIRTUNE_CACHE_DIR or .fairtune/cache)');
  cacheDirOption(cache.command('ls').description('list cache entries, least recently used first').option('--json'))
    .action((o: { cacheDir?: string; json?: boolean }) => {
      const entries = openCache(o.cacheDir, io).list();
      if (o.json) {
        out(JSON.stringify(entries.map(({ checksums: _c, ...e }) => e), null, 2));
        return;
      }
      let total = 0;
      for (const e of entries) {
        total += e.bytes;
        out(`${e.key.slice(0, 12)}  ${formatBytes(e.bytes).padStart(9)}  ${e.lastUsed.slice(0, 19)}  ${e.pipeline}/${e.stageId} (${e.type}@${e.version})`);
      }
      out(`${entries.length} entries, ${formatBytes(total)}`);
    });
  cacheDirOption(
    cache
      .command('gc')
      .description('delete entries not used by the latest run of any pipeline in the runs directory, and leftovers of interrupted writes')
      .option('--runs-dir <dir>', 'run records to keep entries for (default $FAIRTUNE_RUNS_DIR or runs)')
      .option('--dry-run', 'only list what would be deleted'),
  ).action((o: { cacheDir?: string; runsDir?: string; dryRun?: boolean }) => {
    const c = openCache(o.cacheDir, io);
    const keep = keysOfLatestRuns(o.runsDir ? resolve(io.cwd, o.runsDir) : defaultRunsDir(io.cwd, io.env));
    const { removed, tmpRemoved } = c.gc(keep, { dryRun: o.dryRun });
    const bytes = removed.reduce((s, e) => s + e.bytes, 0);
    out(`${o.dryRun ? 'would remove' : 'removed'} ${removed.length} entries (${formatBytes(bytes)})${tmpRemoved ? ` and ${tmpRemoved} temporary leftovers` : ''}; kept ${keep.size} referenced by the latest runs`);
  });
  cacheDirOption(cache.command('clear').description('delete every cache entry')).action((o: { cacheDir?: string }) => {
    const c = openCache(o.cacheDir, io);
    const n = c.list().length;
    c.clear();
    out(`removed ${n} entries from ${c.root}`);
  });

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
    if (e instanceof PluginLoadError) {
      err(`error: ${e.message}`);
      return 2;
    }
    throw e;
  }
  return code;
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
  for (const s of opened.pipeline.stages) for (const notice of s.plugin.preflight?.(s.params as never) ?? []) err(`NOTE [${s.id}]: ${notice}`);
  for (const w of opened.warnings) err(`warning: ${formatIssue(file, w)}`);
  if (o.force !== undefined && o.force !== true) {
    const unknown = o.force.filter((id) => !opened.pipeline.stages.some((s) => s.id === id));
    if (unknown.length) {
      err(`error: --force names unknown stage${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (stages: ${opened.pipeline.stages.map((s) => s.id).join(', ')})`);
      return 2;
    }
  }
  const reporter = createProgressReporter(io.stderr as NodeJS.WriteStream, { tty: io.tty, verbose: o.verbose });
  const result = await runPipeline(opened, {
    cwd: io.cwd,
    env,
    cacheDir: o.cacheDir ? resolve(io.cwd, o.cacheDir) : undefined,
    runsDir: o.runsDir ? resolve(io.cwd, o.runsDir) : undefined,
    concurrency: Number(o.concurrency),
    force: o.force === true ? true : o.force ? new Set(o.force) : undefined,
    signal: io.signal,
    onEvent: (e: ExecutorEvent) => reporter.handle(e),
  });
  reporter.stop();
  printSummary(result.summary, err);
  out(result.runDir);
  return result.status === 'succeeded' ? 0 : result.status === 'cancelled' ? 130 : 1;
}

function printSummary(s: RunSummary, err: (s: string) => void): void {
  const c = s.counts;
  err(`${s.pipeline}: ${s.status} in ${(s.seconds ?? 0).toFixed(2)}s — ${c.executed} executed, ${c.cached} cached, ${c.failed} failed, ${c.skipped} skipped`);
  if (s.failedStage) err(`failed stage: ${s.failedStage}: ${s.stages[s.failedStage]?.reason ?? s.reason ?? ''}`);
}

async function runContributed(name: string, rest: readonly string[], io: MainIO): Promise<number> {
  const registry = await createRegistry({ baseDir: io.cwd });
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
    throw e;
  }
}

function printPipelineError(e: PipelineError, err: (s: string) => void): void {
  err(`error: ${e.file} is not a valid pipeline (${e.issues.length} problem${e.issues.length === 1 ? '' : 's'}):`);
  for (const i of e.issues) err(`  ${formatIssue(e.file, i)}`);
  for (const w of e.warnings) err(`  warning: ${formatIssue(e.file, w)}`);
}

function openCache(dir: string | undefined, io: MainIO): ArtifactCache {
  return new ArtifactCache(dir ? resolve(io.cwd, dir) : defaultCacheDir(io.cwd, io.env));
}

/** Cache keys referenced by the newest run of each pipeline (the runs a user can still re-open cheaply). */
function keysOfLatestRuns(runsDir: string): Set<string> {
  const keep = new Set<string>();
  let pipelines: string[] = [];
  try {
    pipelines = readdirSync(runsDir);
  } catch {
    return keep;
  }
  for (const p of pipelines) {
    let runs: string[] = [];
    try {
      runs = readdirSync(join(runsDir, p)).filter((r) => r !== 'latest').sort();
    } catch {
      continue;
    }
    for (const run of runs.reverse()) {
      try {
        const s = JSON.parse(readFileSync(join(runsDir, p, run, 'summary.json'), 'utf8')) as RunSummary;
        for (const st of Object.values(s.stages)) if (st.status === 'executed' || st.status === 'cached') keep.add(st.key);
        break;
      } catch {
        // an unreadable run record: try the previous one
      }
    }
  }
  return keep;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--concurrency must be a positive integer, got "${v}"`);
  return n;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

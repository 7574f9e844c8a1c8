/** `fairtune cache ls | gc | clear`. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { CliIO } from '../contracts/cli-command.js';
import { defaultCacheDir, defaultRunsDir } from '../runtime.js';
import { ArtifactCache, type Leftover } from './artifact-cache.js';
import { errorLine } from '../contracts/errors.js';
import { GcBusyError } from './lease.js';
import { collectGarbage, NotACacheError } from './maintenance.js';

const CACHE_DEFAULT = '$FAIRTUNE_CACHE_DIR or .fairtune/cache';

const GC_HELP = `
Keeps:
  - every entry used (executed or cached) by the newest finished run of each pipeline in the
    runs directory, and by its runs still running;
  - every entry a live run (on this cache, whatever its runs directory) will read or has
    written, and that run's temporary folder: each run holds a lease, <cache>/leases/<id>.json.
Removes:
  - every other entry;
  - temporary folders, stages' work folders and leases of runs that are gone (killed);
  - run records a killed run left "running";
  - <synthetic dir>/*.tmp-* folders of killed synthetic cohort generations (complete cohorts stay).
Refuses a folder that is not a FairTune cache (no fairtune-cache.json and not a cache's layout).
Runs that start while gc works wait for it; --dry-run lists everything and deletes nothing.`;

export function addCacheCommands(program: Command, io: CliIO, setCode: (code: number) => void): void {
  const out = (s: string) => io.stdout.write(s.endsWith('\n') ? s : s + '\n');
  const err = (s: string) => io.stderr.write(s.endsWith('\n') ? s : s + '\n');
  const cacheDir = (dir: string | undefined) => (dir ? resolve(io.cwd, dir) : defaultCacheDir(io.cwd, io.env));
  const guarded = (work: () => void) => {
    try {
      work();
    } catch (e) {
      if (e instanceof NotACacheError) {
        err(errorLine(e));
        setCode(2);
      } else if (e instanceof GcBusyError) {
        err(errorLine(e));
        setCode(1);
      } else throw e;
    }
  };
  const listLeftovers = (verb: string, items: readonly Leftover[]) => {
    if (!items.length) return;
    out(`${verb} ${items.length} leftover${items.length === 1 ? '' : 's'}:`);
    for (const i of items) out(`  ${i.path}  (${i.why})`);
  };

  const cache = program.command('cache').description('inspect and clean the artifact cache');
  const cacheDirOption = (c: Command) => c.option('--cache-dir <dir>', `artifact cache directory (default ${CACHE_DEFAULT})`);
  cacheDirOption(cache.command('ls').description('list cache entries, least recently used first').option('--json')).action((o: { cacheDir?: string; json?: boolean }) => {
    const entries = new ArtifactCache(cacheDir(o.cacheDir)).list();
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
      .description('delete entries that neither the latest runs nor a live run use, and what killed runs left behind')
      .option('--runs-dir <dir>', 'run records to keep entries for (default $FAIRTUNE_RUNS_DIR or runs)')
      .option('--synthetic-dir <dir>', 'synthetic cohorts folder to collect interrupted generations from (default $FAIRTUNE_SYNTHETIC_DIR or .fairtune/synthetic)')
      .option('--dry-run', 'only list what would be deleted')
      .addHelpText('after', GC_HELP),
  ).action((o: { cacheDir?: string; runsDir?: string; syntheticDir?: string; dryRun?: boolean }) =>
    guarded(() => {
      const r = collectGarbage({
        cacheDir: cacheDir(o.cacheDir),
        runsDir: o.runsDir ? resolve(io.cwd, o.runsDir) : defaultRunsDir(io.cwd, io.env),
        syntheticDir: resolve(io.cwd, o.syntheticDir ?? (io.env['FAIRTUNE_SYNTHETIC_DIR'] || '.fairtune/synthetic')),
        dryRun: o.dryRun,
      });
      const verb = o.dryRun ? 'would remove' : 'removed';
      const bytes = r.removed.reduce((s, e) => s + e.bytes, 0);
      out(`${verb} ${r.removed.length} entries (${formatBytes(bytes)}); kept ${r.keptLatest} used by the latest runs and ${r.keptLive} more named by live runs`);
      if (o.dryRun) for (const e of r.removed) out(`  ${e.key.slice(0, 12)}  ${formatBytes(e.bytes).padStart(9)}  ${e.lastUsed.slice(0, 19)}  ${e.pipeline}/${e.stageId}`);
      listLeftovers(verb, [...r.leftovers, ...r.killedRecords, ...r.syntheticLeftovers]);
    }),
  );

  cacheDirOption(
    cache
      .command('clear')
      .description('delete every cache entry, except those a live run uses')
      .option('--dry-run', 'only list what would be deleted')
      .addHelpText('after', '\nEntries a live run will read or has written, and its temporary folder, are kept (see `cache gc --help`).\nRefuses a folder that is not a FairTune cache.'),
  ).action((o: { cacheDir?: string; dryRun?: boolean }) =>
    guarded(() => {
      const c = new ArtifactCache(cacheDir(o.cacheDir));
      const problem = c.notACache();
      if (problem) {
        if (/cannot be read \(ENOENT\)/.test(problem)) {
          out(`removed 0 entries from ${c.root} (there is no cache there)`);
          return;
        }
        throw new NotACacheError(`refusing to clear ${c.root}: ${problem}`);
      }
      const r = c.clear({ dryRun: o.dryRun });
      const verb = o.dryRun ? 'would remove' : 'removed';
      out(`${verb} ${r.removed.length} entries from ${c.root}${r.keptLive ? `; kept ${r.keptLive} in use by live runs` : ''}`);
      listLeftovers(verb, r.leftovers);
    }),
  );
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

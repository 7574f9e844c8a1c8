/**
 * `fairtune study ls|show|best`: read the studies of search stages (Optuna journal files, or
 * Optuna's Redis journal) from the command line, as `optuna studies` / `optuna trials` /
 * `optuna best-trial` do, with `--json`.
 */
import { UsageError, type CliCommand, type CliIO, type FrozenTrial, type StudyDirection } from '@fairtune/core/plugin';
import { JournalStorage } from '../storage/journal.js';
import { runAskTell } from './ask-tell.js';
import { studyActionIndex } from './ask-tell-args.js';
import { DEFAULT_STORAGE, journalFiles, parseStorage, type StorageLocation } from '../storage/location.js';

const USAGE = `usage: fairtune study ls   [--storage journal:<folder>|journal:<file>.journal|redis://host:port[/db]] [--prefix <p>] [--json]
       fairtune study show <study name> [--storage …] [--prefix <p>] [--json]
       fairtune study best <study name> [--storage …] [--prefix <p>] [--json]
       fairtune study ask  [--storage …] [--prefix <p>] [--study-name <name>] [--direction minimize|maximize]
                           [--sampler tpe|random|grid|TPESampler|RandomSampler|GridSampler] [--sampler-kwargs <json>]
                           [--search-space <json>] [-f json|table|yaml] [--flatten]
       fairtune study tell [--storage …] [--prefix <p>] [--study-name <name>] --trial-number <n>
                           [--values <v>] [--state complete|pruned|fail] [--skip-if-finished]

Studies of search stages, in Optuna's journal format (default storage: journal:.fairtune/studies,
every *.journal file in that folder; redis://… is Optuna's Redis journal, its keys under --prefix,
as the search stage's "prefix" param). "show" lists every trial: number, state, value, params and
intermediate values; "best" prints the best complete trial.

"ask" and "tell" take the flags of Optuna 3.1's "optuna ask" / "optuna tell" and print the same
JSON ({"number": …, "params": {…}}); --search-space is Optuna's distribution JSON
({"x": {"name": "FloatDistribution", "attributes": {"low": 0, "high": 1, "log": false, "step": null}}}),
--sampler-kwargs Optuna's keyword names (n_startup_trials, seed, multivariate, …) or ours.
Without --storage, OPTUNA_STORAGE is used if set. Common flags: -q/--quiet, -v/--verbose, --log-file, --debug.`;

export class StudyCommand implements CliCommand {
  readonly name = 'study';
  readonly summary = 'list and read the studies of search stages (Optuna journal files); ask and tell as Optuna\'s CLI';
  readonly usage = USAGE;

  async run(argv: readonly string[], io: CliIO): Promise<number> {
    const at = studyActionIndex(argv);
    const action = argv[at];
    if (action === 'ask' || action === 'tell') return runAskTell(action, argv.filter((_, i) => i !== at), io);
    const { positional, storage, prefix, json } = parseArgs(argv);
    let storages: { storage: JournalStorage; where: string }[];
    try {
      storages = openStorages(storage, prefix, io.cwd);
    } catch (e) {
      // An unreachable server or an unreadable journal is the user's to fix, not a bug: say which.
      io.stderr.write(`error: ${(e as Error).message}\n`);
      return 1;
    }
    try {
      return this.#run(positional, storage, storages, json, io);
    } finally {
      for (const s of storages) s.storage.close();
    }
  }

  #run(positional: readonly string[], storage: { text: string }, storages: readonly { storage: JournalStorage; where: string }[], json: boolean, io: CliIO): number {
    const [action, name] = positional;
    const out = (s: string) => io.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
    if (action === 'ls') {
      const rows = storages.flatMap(({ storage: st, where }) =>
        st.studyNames().map((n) => {
          const view = st.loadStudy(n).view();
          return summarise(n, view.trials, view.direction, where);
        }),
      );
      if (json) out(JSON.stringify(rows, null, 2));
      else if (!rows.length) out(`no studies in ${storage.text}`);
      else for (const r of rows) out(`${r.name}  ${r.direction}  ${r.trials} trials (${r.complete} complete, ${r.pruned} pruned, ${r.failed} failed, ${r.running} running)${r.best !== undefined ? `  best ${r.best}` : ''}  ${r.file}`);
      return 0;
    }
    if (action !== 'show' && action !== 'best') throw new UsageError(action ? `unknown action "${action}" (ls, show, best, ask, tell)` : 'name an action: ls, show, best, ask or tell');
    if (!name) throw new UsageError(`"study ${action}" needs a study name (see "fairtune study ls")`);
    const found = storages.map((s) => s.storage).find((st) => st.studyNames().includes(name));
    if (!found) {
      io.stderr.write(`error: no study "${name}" in ${storage.text}\n`);
      return 2;
    }
    const view = found.loadStudy(name).view();
    if (action === 'show') {
      if (json) out(JSON.stringify(view.trials.map(trialJson), null, 2));
      else for (const t of view.trials) out(`${t.number}  ${t.state}  ${t.value ?? '—'}  ${paramsText(t)}  (${t.intermediateValues.size} reports)`);
      return 0;
    }
    const best = bestTrial(view.trials, view.direction);
    if (!best) {
      io.stderr.write(`error: study "${name}" has no complete trial\n`);
      return 1;
    }
    out(json ? JSON.stringify(trialJson(best), null, 2) : `${best.number}  ${best.value}  ${paramsText(best)}`);
    return 0;
  }
}

function parseArgs(argv: readonly string[]): { positional: string[]; storage: StorageLocation & { text: string }; prefix: string; json: boolean } {
  const positional: string[] = [];
  let storage = DEFAULT_STORAGE;
  let prefix = '';
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') json = true;
    else if (a === '--storage') storage = argv[++i] ?? '';
    else if (a.startsWith('--storage=')) storage = a.slice('--storage='.length);
    else if (a === '--prefix') prefix = argv[++i] ?? '';
    else if (a.startsWith('--prefix=')) prefix = a.slice('--prefix='.length);
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else positional.push(a);
  }
  let location: StorageLocation;
  try {
    location = parseStorage(storage);
  } catch (e) {
    throw new UsageError(`--storage: ${(e as Error).message}`, { cause: e });
  }
  if (location.kind === 'memory') throw new UsageError('--storage memory: a study in memory lives only inside its run; use journal:… or redis://…');
  return { positional, storage: { ...location, text: storage }, prefix, json };
}

/** The journal storages to look in: each *.journal file of a folder, the one file, or the Redis journal. */
function openStorages(location: StorageLocation & { text: string }, prefix: string, cwd: string): { storage: JournalStorage; where: string }[] {
  if (location.kind === 'redis') return [{ storage: JournalStorage.redis(location.url, { prefix }), where: `${location.url}${prefix ? ` (prefix ${prefix})` : ''}` }];
  if (location.kind !== 'journal') return [];
  return journalFiles(location.target, cwd).map((file) => ({ storage: JournalStorage.file(file), where: file }));
}

function bestTrial(trials: readonly FrozenTrial[], direction: StudyDirection): FrozenTrial | undefined {
  const complete = trials.filter((t) => t.state === 'COMPLETE' && t.value !== undefined && Number.isFinite(t.value));
  return complete.reduce<FrozenTrial | undefined>((a, b) => (!a || (direction === 'minimize' ? b.value! < a.value! : b.value! > a.value!) ? b : a), undefined);
}

function summarise(name: string, trials: readonly FrozenTrial[], direction: StudyDirection, where: string) {
  const count = (s: string) => trials.filter((t) => t.state === s).length;
  return { name, direction, file: where, trials: trials.length, complete: count('COMPLETE'), pruned: count('PRUNED'), failed: count('FAIL'), running: count('RUNNING'), best: bestTrial(trials, direction)?.value };
}

function trialJson(t: FrozenTrial) {
  return { number: t.number, state: t.state, value: t.value ?? null, params: t.params, intermediate_values: Object.fromEntries(t.intermediateValues), user_attrs: t.userAttrs };
}

function paramsText(t: FrozenTrial): string {
  const names = Object.keys(t.params).sort();
  const bits = names.filter((n) => /_\d+$/.test(n) && (t.params[n] === 0 || t.params[n] === 1));
  const groups = new Map<string, string>();
  for (const n of bits) groups.set(n.replace(/_\d+$/, ''), (groups.get(n.replace(/_\d+$/, '')) ?? '') + String(t.params[n]));
  const rest = names.filter((n) => !bits.includes(n)).map((n) => `${n}=${String(t.params[n])}`);
  return [...[...groups].map(([k, v]) => `${k}=${v}`), ...rest].join(' ');
}

/**
 * `fairtune study ls|show|best`: read the studies of search stages (Optuna journal files) from the
 * command line, as `optuna studies` / `optuna trials` / `optuna best-trial` do, with `--json`.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError, type CliCommand, type CliIO, type FrozenTrial, type StudyDirection } from '@fairtune/core';
import { JournalStorage } from '../storage/journal.js';

const USAGE = `usage: fairtune study ls   [--storage journal:<folder>|journal:<file>.journal] [--json]
       fairtune study show <study name> [--storage …] [--json]
       fairtune study best <study name> [--storage …] [--json]

Studies of search stages, in Optuna's journal format (default storage: journal:.fairtune/studies,
every *.journal file in that folder). "show" lists every trial: number, state, value, params and
intermediate values; "best" prints the best complete trial.`;

export class StudyCommand implements CliCommand {
  readonly name = 'study';
  readonly summary = 'list and read the studies of search stages (Optuna journal files)';
  readonly usage = USAGE;

  async run(argv: readonly string[], io: CliIO): Promise<number> {
    const { positional, storage, json } = parseArgs(argv);
    const [action, name] = positional;
    const out = (s: string) => io.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
    const files = journalFiles(resolve(io.cwd, storage));
    if (action === 'ls') {
      const rows = files.flatMap((file) => {
        const st = JournalStorage.file(file);
        return st.studyNames().map((n) => summarise(n, st.loadStudy(n).view().trials, st.loadStudy(n).view().direction, file));
      });
      if (json) out(JSON.stringify(rows, null, 2));
      else if (!rows.length) out(`no studies in ${storage}`);
      else for (const r of rows) out(`${r.name}  ${r.direction}  ${r.trials} trials (${r.complete} complete, ${r.pruned} pruned, ${r.failed} failed, ${r.running} running)${r.best !== undefined ? `  best ${r.best}` : ''}  ${r.file}`);
      return 0;
    }
    if (action !== 'show' && action !== 'best') throw new UsageError(action ? `unknown action "${action}" (ls, show, best)` : 'name an action: ls, show or best');
    if (!name) throw new UsageError(`"study ${action}" needs a study name (see "fairtune study ls")`);
    const found = files.map((file) => JournalStorage.file(file)).find((st) => st.studyNames().includes(name));
    if (!found) {
      io.stderr.write(`error: no study "${name}" in ${storage}\n`);
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

function parseArgs(argv: readonly string[]): { positional: string[]; storage: string; json: boolean } {
  const positional: string[] = [];
  let storage = 'journal:.fairtune/studies';
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') json = true;
    else if (a === '--storage') storage = argv[++i] ?? '';
    else if (a.startsWith('--storage=')) storage = a.slice('--storage='.length);
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else positional.push(a);
  }
  if (!storage.startsWith('journal:')) throw new UsageError(`--storage "${storage}": use journal:<folder> or journal:<file>.journal`);
  return { positional, storage: storage.slice('journal:'.length), json };
}

function journalFiles(target: string): string[] {
  if (target.endsWith('.journal')) return existsSync(target) ? [target] : [];
  if (!existsSync(target) || !statSync(target).isDirectory()) return [];
  return readdirSync(target)
    .filter((f) => f.endsWith('.journal'))
    .sort()
    .map((f) => join(target, f));
}

function bestTrial(trials: readonly FrozenTrial[], direction: StudyDirection): FrozenTrial | undefined {
  const complete = trials.filter((t) => t.state === 'COMPLETE' && t.value !== undefined && Number.isFinite(t.value));
  return complete.reduce<FrozenTrial | undefined>((a, b) => (!a || (direction === 'minimize' ? b.value! < a.value! : b.value! > a.value!) ? b : a), undefined);
}

function summarise(name: string, trials: readonly FrozenTrial[], direction: StudyDirection, file: string) {
  const count = (s: string) => trials.filter((t) => t.state === s).length;
  return { name, direction, file, trials: trials.length, complete: count('COMPLETE'), pruned: count('PRUNED'), failed: count('FAIL'), running: count('RUNNING'), best: bestTrial(trials, direction)?.value };
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

/**
 * A writer process for the concurrency tests: prints `ready`, waits until the file `<path>.go`
 * exists (so that several writers start together), then opens (or creates) the study and runs
 * `count` trials, each with two params, two reports and a COMPLETE, as fast as it can; prints the
 * numbers of its trials.
 *   node --import @swc-node/register/esm-register journal-writer.ts <path> <study> <count> <tag> [<go file>]
 * `<path>` may be a redis:// URL (keys under prefix "race"); then the go file is the fifth argument.
 */
import { existsSync } from 'node:fs';
import { JournalStorage } from '../journal.js';

const [path, name, count, tag, goFile = `${path}.go`] = process.argv.slice(2) as [string, string, string, string, string?];
process.stderr.write('ready\n');
const tick = new Int32Array(new SharedArrayBuffer(4));
while (!existsSync(goFile)) Atomics.wait(tick, 0, 0, 1);
const storage = path.startsWith('redis://') ? JournalStorage.redis(path, { prefix: 'race' }) : JournalStorage.file(path, { onWarning: (m) => process.stderr.write(`${m}\n`) });
const study = storage.openStudy(name, 'minimize');
const mine: number[] = [];
for (let i = 0; i < Number(count); i++) {
  const n = study.createTrial();
  mine.push(n);
  study.setParams(n, { writer: tag, i }, { writer: { type: 'categorical', choices: ['a', 'b', 'c'] }, i: { type: 'int', low: 0, high: 1000, log: false, step: 1 } });
  study.report(n, 0, i);
  study.report(n, 1, i / 2);
  study.finish(n, 'COMPLETE', i / 4);
}
storage.close();
process.stdout.write(JSON.stringify(mine));

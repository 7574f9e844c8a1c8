/** `fairtune new plugin …`: the command-line face of scaffoldPlugin (wired into core's CLI like the cache commands). */
import type { Command } from 'commander';
import type { CliIO } from '../contracts/cli-command.js';
import { scaffoldPlugin } from './index.js';
import { SCAFFOLD_KINDS } from './names.js';

export function addNewCommands(program: Command, io: CliIO): void {
  const out = (s: string) => io.stdout.write(s.endsWith('\n') ? s : s + '\n');
  const err = (s: string) => io.stderr.write(s.endsWith('\n') ? s : s + '\n');
  const group = program.command('new').description('write a plugin package (new plugin <name>)');
  group
    .command('plugin')
    .argument('<name>', 'npm package name of the plugin (e.g. fairtune-plugin-mine, @my-org/fairtune-plugin-mine)')
    .description('write a ready plugin package: package.json with the peers, a typed plugin, a jest test using the conformance suite, a README')
    // Checked by scaffoldPlugin, not commander's choices, so the API and the CLI give one message.
    .option('--kind <kind>', `what the package contributes: ${SCAFFOLD_KINDS.join(', ')} (stage: reads predictions, emits metrics; strategy: a training strategy; dataset: a CSV loader)`, 'stage')
    .option('--dir <path>', 'folder to write (default ./<name without scope>); must be new or empty')
    .action((name: string, o: { kind: string; dir?: string }) => {
      // Usage errors (name, kind, folder) propagate to main, which prints them and exits 2.
      const result = scaffoldPlugin({ name, kind: o.kind, dir: o.dir, cwd: io.cwd });
      for (const note of result.notes) err(`note: ${note}`);
      out(`wrote ${result.kind} plugin ${name} in ${result.dir}:`);
      for (const f of result.files) out(`  ${f}`);
      out(`next: cd ${result.dir} && npm install && npm run build && npm test (see README.md)`);
    });
}

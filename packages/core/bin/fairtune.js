#!/usr/bin/env node
// The `fairtune` command (package.json "bin"). It is committed, executable, and never rebuilt:
// npm links a bin only if its file exists at install time, and a build rewrites dist/cli.js
// without the execute bit, so the bin points here and this file runs the built CLI,
// dist/cli.js (which installs the Ctrl-C handling on import). Before a build it says how to build.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(
    `fairtune: the CLI is not built yet (${fileURLToPath(cli)} is missing): run \`npx nx run-many -t build\` in the repository root to build it\n`,
  );
  process.exit(2);
}
await import(cli.href);

// Fresh-clone test (node's test runner; slow, so not part of `npm test`: `npm run test:fresh-clone`,
// run by .ci/run after `npm test`). It clones this repository's HEAD (committed files only) into a
// temporary folder and does what a new user does, as the README writes it:
//   npm install → `npx fairtune --help` (before any build: must name the build command, or work)
//   → `npx nx run pipelines:demo` → every `npx fairtune …` line of the README's ```sh blocks, and its
//   inline `npx fairtune …` commands where the README's own words say what input they take
//   → a rebuild of core (which rewrites dist/cli.js) → `npx fairtune validate pipelines/demo.json`.
// Network: only the npm registry (npm install). Set FAIRTUNE_KEEP_CLONE=1 to keep the clone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BUILD_HINT = 'npx nx run-many -t build';

/**
 * The commands to run from README.md: each `npx fairtune …` line of a ```sh block, and each
 * inline `npx fairtune …` code span. Returns { run: [{ cmd, where }], skipped: [{ cmd, why }] }.
 */
export function readmeCommands(markdown) {
  const run = [];
  const skipped = [];
  const fence = /^```sh\n([\s\S]*?)^```/gm;
  for (const [, body] of markdown.matchAll(fence)) {
    // A block that exports dataset roots runs on the real datasets, which a clone does not have.
    const needsEnv = /^\s*export\s/m.test(body);
    for (const raw of body.split('\n')) {
      const cmd = raw.trim();
      if (!cmd.startsWith('npx fairtune')) continue;
      if (needsEnv) skipped.push({ cmd, why: 'its block exports environment variables naming real dataset folders' });
      else run.push({ cmd, where: '```sh block' });
    }
  }
  const prose = markdown.replace(fence, '');
  for (const [, cmd] of prose.matchAll(/`(npx fairtune [^`\n]+)`/g)) {
    // Placeholder paths (path/to/…) name a user's own data: nothing in a clone to run them on.
    if (/\bpath\/to\//.test(cmd)) skipped.push({ cmd, why: 'placeholder path to a dataset record' });
    else run.push({ cmd, where: 'inline' });
  }
  return { run, skipped };
}

/** Inputs the README's prose describes for inline commands, written into the clone before they run. */
const FIXTURES = {
  // "Auditing a model trained elsewhere": a CSV of targets, predictions and a group column.
  'predictions.csv': 'hr,pred,sex\n70,72,F\n80,77,M\n65,66,F\n90,95,M\n62,61,F\n85,88,M\n',
};

/** The environment of a new user's shell: no npm-script variables, no bins of this checkout on PATH. */
function userEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || k === 'INIT_CWD' || /^FAIRTUNE_/.test(k) || k === 'NODE_OPTIONS') continue;
    env[k] = v;
  }
  const path = process.env.PATH ?? '';
  env.PATH = path.split(delimiter).filter((p) => !/node_modules[\\/]\.bin$/.test(p) && !/node-gyp-bin$/.test(p)).join(delimiter);
  // nx as in CI: no daemon, no cloud, plain output.
  Object.assign(env, { NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' });
  return env;
}

function sh(cmd, cwd, env, timeoutMs = 600_000) {
  const t0 = Date.now();
  const r = spawnSync('/bin/sh', ['-c', cmd], { cwd, env, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  process.stderr.write(`[fresh-clone] ${cmd} → ${r.status ?? r.signal} (${seconds} s)\n`);
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

function expectOk(r, cmd) {
  assert.equal(r.status, 0, `\`${cmd}\` exited ${r.status}${r.error ? ` (${r.error.message})` : ''}\nstdout:\n${r.stdout.slice(-4000)}\nstderr:\n${r.stderr.slice(-4000)}`);
}

test('README extraction finds the authoring commands', () => {
  const { run } = readmeCommands(readFileSync(join(root, 'README.md'), 'utf8'));
  const cmds = run.map((c) => c.cmd);
  assert.ok(cmds.some((c) => c.startsWith('npx fairtune validate pipelines/demo.json')), cmds.join('\n'));
  assert.ok(run.filter((c) => c.where === '```sh block').length >= 5, cmds.join('\n'));
});

test('fresh clone: npm install, then the README\'s commands run as written, also after a rebuild', { timeout: 15 * 60_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'fairtune-fresh-clone-'));
  const clone = join(work, 'repo');
  let ok = false;
  try {
    const env = userEnv();
    expectOk(sh(`git clone --quiet "${root}" "${clone}"`, work, env), 'git clone');
    expectOk(sh('npm install --no-audit --no-fund', clone, env, 600_000), 'npm install');
    // From here on npx must never fetch a package: `fairtune` and `nx` come from the clone.
    env.npm_config_yes = 'false';

    // The bin is linked at install time (its target exists before any build) and is executable.
    const bin = join(clone, 'node_modules/.bin/fairtune');
    assert.ok(existsSync(bin), 'npm install did not link node_modules/.bin/fairtune');
    assert.match(readlinkSync(bin), /@fairtune\/core\/bin\/fairtune\.js$/);
    accessSync(bin, constants.X_OK);

    // Before a build: either it works, or it says which command builds it (exit 2).
    const before = sh('npx fairtune --help', clone, env);
    if (before.status === 0) assert.match(before.stdout, /Usage: fairtune/);
    else {
      assert.equal(before.status, 2, `npx fairtune --help before a build exited ${before.status}:\n${before.stderr}`);
      assert.ok(before.stderr.includes(BUILD_HINT), `the message does not name \`${BUILD_HINT}\`:\n${before.stderr}`);
    }

    const demo = sh('npx nx run pipelines:demo', clone, env);
    expectOk(demo, 'npx nx run pipelines:demo');

    const { run, skipped } = readmeCommands(readFileSync(join(clone, 'README.md'), 'utf8'));
    for (const { cmd, why } of skipped) process.stderr.write(`[fresh-clone] skipped (${why}): ${cmd}\n`);
    for (const [name, text] of Object.entries(FIXTURES)) writeFileSync(join(clone, name), text);
    for (const { cmd } of run) {
      const r = sh(cmd, clone, env);
      expectOk(r, cmd);
      assert.ok(!/could not determine executable|404 Not Found/.test(r.stderr), `\`${cmd}\` went to the registry:\n${r.stderr}`);
    }

    // A rebuild rewrites dist/cli.js (without its execute bit); the bin must keep working.
    expectOk(sh('npx nx run core:build --skip-nx-cache', clone, env), 'npx nx run core:build --skip-nx-cache');
    const after = sh('npx fairtune validate pipelines/demo.json', clone, env);
    expectOk(after, 'npx fairtune validate pipelines/demo.json (after the rebuild)');
    assert.match(after.stdout, /valid/);
    ok = true;
  } finally {
    if (ok && !process.env.FAIRTUNE_KEEP_CLONE) rmSync(work, { recursive: true, force: true });
    else process.stderr.write(`[fresh-clone] clone kept at ${clone}\n`);
  }
});

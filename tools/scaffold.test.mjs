// `fairtune new plugin` end to end (node's test runner; `npm run test:scaffold`, not part of
// `npm test`: it builds and tests three packages in child processes, about a minute).
// For each kind it runs the command into a temporary folder outside the workspace, gives the new
// package this repository's installed packages without a network (its node_modules is a symlink
// to the root node_modules, whose @fairtune/core links to packages/core, built first), and runs
// the package's own scripts unchanged: `npm run build`, `npm run typecheck`, `npm test`. Then
// core loads the built package as a plugin and lists what it contributes.
// FAIRTUNE_KEEP_SCAFFOLD=1 keeps the temporary folders.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'packages/core/bin/fairtune.js');

/** The environment of a user's shell: no npm-script variables, no jest flags of ours, no repository bins on PATH. */
function userEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || k === 'INIT_CWD' || /^FAIRTUNE_/.test(k) || k === 'NODE_OPTIONS') continue;
    env[k] = v;
  }
  env.PATH = (process.env.PATH ?? '').split(delimiter).filter((p) => !/node_modules[\\/]\.bin$/.test(p)).join(delimiter);
  return env;
}

function sh(cmd, args, cwd) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd, env: userEnv(), encoding: 'utf8', timeout: 300_000, maxBuffer: 32 * 1024 * 1024 });
  process.stderr.write(`[scaffold] (${relative(root, cwd).startsWith('..') ? cwd : relative(root, cwd) || '.'}) ${cmd} ${args.join(' ')} → ${r.status ?? r.signal} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
  return r;
}

function expectOk(r, what) {
  assert.equal(r.status, 0, `${what} exited ${r.status ?? r.signal}${r.error ? ` (${r.error.message})` : ''}\nstdout:\n${(r.stdout ?? '').slice(-4000)}\nstderr:\n${(r.stderr ?? '').slice(-4000)}`);
}

const folders = [];
before(() => {
  // The new package resolves @fairtune/core to its dist (no @fairtune/source condition): build it.
  expectOk(sh('npx', ['tsc', '-b', 'tsconfig.lib.json'], join(root, 'packages/core')), 'building packages/core');
});
process.on('exit', () => {
  if (process.env.FAIRTUNE_KEEP_SCAFFOLD === '1') process.stderr.write(`[scaffold] kept ${folders.join(', ')}\n`);
  else for (const f of folders) rmSync(f, { recursive: true, force: true });
});

const KINDS = [
  { kind: 'stage', name: 'fairtune-plugin-bias', contributes: { type: 'bias.signed-error' } },
  { kind: 'strategy', name: '@acme/fairtune-plugin-weigh', contributes: { kind: 'training-strategy', name: 'weigh-loss-power' } },
  { kind: 'dataset', name: 'fairtune-plugin-mystudy', contributes: { type: 'mystudy.load' } },
];

for (const { kind, name, contributes } of KINDS) {
  test(`new plugin --kind ${kind}: the package builds, type-checks and passes its own tests unchanged`, () => {
    const parent = mkdtempSync(join(tmpdir(), `fairtune-scaffold-${kind}-`));
    folders.push(parent);
    const dir = join(parent, 'pkg');
    expectOk(sh('node', [bin, 'new', 'plugin', name, '--kind', kind, '--dir', dir], parent), `fairtune new plugin ${name} --kind ${kind}`);
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    expectOk(sh('npm', ['run', 'build'], dir), `npm run build in the ${kind} package`);
    assert.ok(existsSync(join(dir, 'dist/index.js')) && existsSync(join(dir, 'dist/index.d.ts')), 'the build wrote dist/index.js and dist/index.d.ts');
    assert.ok(!existsSync(join(dir, 'dist/test-utils')) && !readFileSync(join(dir, 'dist/index.js'), 'utf8').includes('.spec'), 'dist holds no tests or fixtures');
    expectOk(sh('npm', ['run', 'typecheck'], dir), `npm run typecheck in the ${kind} package`);
    const t = sh('npm', ['test'], dir);
    expectOk(t, `npm test in the ${kind} package`);
    const tests = /Tests:\s+(\d+) passed, (\d+) total/.exec(t.stderr);
    assert.ok(tests && Number(tests[1]) >= 2 && tests[1] === tests[2], `jest ran its tests and all passed:\n${t.stderr.slice(-2000)}`);
    assert.match(t.stderr, /conforms to the (stage|training-strategy) contract/);
    // Core loads the built package as a plugin and lists its contribution.
    const listed = sh('node', [bin, 'plugins', '--no-builtins', '--plugin', dir, '--json'], parent);
    expectOk(listed, 'fairtune plugins --plugin <the new package>');
    const entries = JSON.parse(listed.stdout);
    assert.ok(entries.some((e) => Object.entries(contributes).every(([k, v]) => e[k] === v) && e.package === dir), `fairtune plugins lists ${JSON.stringify(contributes)} from ${dir}`);
  });
}

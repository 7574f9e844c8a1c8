// Packed-tarball install test (node's test runner; needs the npm registry for third-party
// dependencies, so not part of `npm test`: `npm run test:packed`, run by .ci/run).
// It does what a plugin author outside this repository does:
//   npm pack every publishable package (@fairtune/core, @fairtune/signal, packages/plugins-*) and
//   the example plugin packages (examples/*) → checks each tarball (built dist, type declarations,
//   README, exports/peerDependencies/files) → a fresh project in a temporary folder outside the
//   workspace installs the tarballs (no symlink may lead back into the repository) → a pipeline
//   names the example plugin packages by npm name in its "plugins" → `npx fairtune run` there.
// Set FAIRTUNE_KEEP_PACKED=1 to keep the temporary project, FAIRTUNE_PACK_PREBUILT=1 to pack the
// dist folders as they are (npm pack --ignore-scripts: no prepack build) when they were just built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Workspace packages that are published: core, signal and every built-in plugin package. */
const PUBLISHED = ['packages/core', 'packages/signal', 'packages/plugins-data', 'packages/plugins-fairness', 'packages/plugins-models', 'packages/plugins-search'];
/** Third-party plugin packages, installed from their own tarballs as a user would install them. */
const EXAMPLES = readdirSync(join(root, 'examples'))
  .filter((d) => existsSync(join(root, 'examples', d, 'package.json')))
  .map((d) => `examples/${d}`);

/** A shell without this checkout's bins and npm-script variables, as a new user has. */
function userEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || k === 'INIT_CWD' || /^FAIRTUNE_/.test(k) || k === 'NODE_OPTIONS') continue;
    env[k] = v;
  }
  env.PATH = (process.env.PATH ?? '').split(delimiter).filter((p) => !/node_modules[\\/]\.bin$/.test(p) && !/node-gyp-bin$/.test(p)).join(delimiter);
  return env;
}

function sh(cmd, cwd, env, timeoutMs = 600_000) {
  const t0 = Date.now();
  const r = spawnSync('/bin/sh', ['-c', cmd], { cwd, env, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  process.stderr.write(`[packed] (${relative(root, cwd) || '.'}) ${cmd} → ${r.status ?? r.signal} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

function expectOk(r, what) {
  assert.equal(r.status, 0, `${what} exited ${r.status}${r.error ? ` (${r.error.message})` : ''}\nstdout:\n${r.stdout.slice(-4000)}\nstderr:\n${r.stderr.slice(-4000)}`);
}

/** Every file an `exports` entry (or main/types) names, condition by condition. */
function exportTargets(pkg) {
  const out = [];
  const walk = (v, where) => {
    if (typeof v === 'string') out.push({ where, target: v });
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, `${where}.${k}`);
  };
  walk(pkg.exports ?? {}, 'exports');
  for (const k of ['main', 'types']) if (pkg[k]) out.push({ where: k, target: pkg[k] });
  for (const [name, target] of Object.entries(pkg.bin ?? {})) out.push({ where: `bin.${name}`, target });
  return out;
}

/**
 * What a tarball must hold to be installable and usable from TypeScript: problems as sentences
 * naming the package and the field or file. `files` is the list `npm pack --json` reports.
 */
export function tarballProblems(pkg, files) {
  const problems = [];
  const has = new Set(files.map((f) => f.replace(/^\.\//, '')));
  const name = pkg.name;
  if (!has.has('README.md')) problems.push(`${name}: no README.md in the tarball`);
  if (!has.has('package.json')) problems.push(`${name}: no package.json in the tarball`);
  if (!pkg.exports?.['.']) problems.push(`${name}: package.json has no exports["."]`);
  if (!pkg.types && !exportTargets(pkg).some((t) => /\.types$/.test(t.where))) problems.push(`${name}: package.json declares no types`);
  for (const { where, target } of exportTargets(pkg)) {
    if (/\.@fairtune\/source$/.test(where)) continue; // the workspace's own condition: sources, for in-repo tooling only
    if (target.includes('*')) continue;
    if (!has.has(target.replace(/^\.\//, ''))) problems.push(`${name}: ${where} names ${target}, which the tarball lacks`);
  }
  if (!files.some((f) => /^dist\/.*\.js$/.test(f)) && !pkg.main?.endsWith('.js')) problems.push(`${name}: no built code (dist/*.js) in the tarball`);
  if (files.some((f) => /\.spec\.(ts|js)$|tsbuildinfo$/.test(f))) problems.push(`${name}: test or build-state files in the tarball: ${files.filter((f) => /\.spec\.(ts|js)$|tsbuildinfo$/.test(f)).join(', ')}`);
  const deps = { ...pkg.dependencies };
  // The host's single copies: a plugin that brought its own core (or inversify) would register
  // its stages into a container nobody reads.
  if (name !== '@fairtune/core') {
    for (const shared of ['@fairtune/core', 'inversify', 'rxjs']) {
      if (deps[shared]) problems.push(`${name}: ${shared} is a dependency; it must be a peerDependency (the host's copy)`);
    }
    if (!pkg.peerDependencies?.['@fairtune/core']) problems.push(`${name}: peerDependencies lacks @fairtune/core`);
  }
  for (const dep of Object.keys({ ...deps, ...pkg.peerDependencies })) {
    if (/^@fairtune\/plugins-/.test(dep) || (/^fairtune-plugin-/.test(dep) && dep !== name)) problems.push(`${name}: depends on another plugin package ${dep}`);
  }
  return problems;
}

test('tarball checks catch a missing README, dist, export target and a core dependency', () => {
  const pkg = { name: 'p', main: './dist/index.js', types: './dist/index.d.ts', exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' } }, peerDependencies: { '@fairtune/core': '*' } };
  const files = ['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts'];
  assert.deepEqual(tarballProblems(pkg, files), []);
  assert.match(tarballProblems(pkg, files.filter((f) => f !== 'README.md')).join('\n'), /no README/);
  assert.match(tarballProblems(pkg, files.filter((f) => f !== 'dist/index.d.ts')).join('\n'), /exports\.\.\.types names \.\/dist\/index\.d\.ts/);
  assert.match(tarballProblems({ ...pkg, dependencies: { inversify: '8' } }, files).join('\n'), /inversify is a dependency/);
  assert.match(tarballProblems({ ...pkg, peerDependencies: {} }, files).join('\n'), /lacks @fairtune\/core/);
  assert.match(tarballProblems({ ...pkg, peerDependencies: { '@fairtune/core': '*', '@fairtune/plugins-data': '*' } }, files).join('\n'), /another plugin package/);
  assert.match(tarballProblems(pkg, [...files, 'dist/tsconfig.lib.tsbuildinfo']).join('\n'), /build-state/);
});

/** Packs one package into `dest` (its prepack script builds it); returns the tarball path and its file list. */
function pack(dir, dest, env) {
  const noBuild = process.env.FAIRTUNE_PACK_PREBUILT === '1' ? ' --ignore-scripts' : '';
  const r = sh(`npm pack --json${noBuild} --pack-destination "${dest}"`, join(root, dir), env);
  expectOk(r, `npm pack in ${dir}`);
  // Lifecycle output (prepack's build) shares stdout with the JSON: take the JSON array.
  const json = JSON.parse(r.stdout.slice(r.stdout.indexOf('[\n')));
  return { tarball: join(dest, json[0].filename), files: json[0].files.map((f) => f.path) };
}

/** Walks node_modules and returns every symlink whose target lies inside the repository. */
function linksIntoRepo(dir) {
  const found = [];
  const walk = (d, depth) => {
    if (depth > 6 || !existsSync(d)) return;
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) {
        const real = realpathSync(p);
        if (real === root || real.startsWith(root + '/')) found.push(`${p} → ${real}`);
      } else if (st.isDirectory() && (name.startsWith('@') || name === 'node_modules' || depth === 0)) walk(p, depth + 1);
    }
  };
  walk(join(dir, 'node_modules'), 0);
  return found;
}

test('packed tarballs install outside the workspace and run a pipeline naming third-party plugins by package name', { timeout: 15 * 60_000 }, () => {
  assert.ok(EXAMPLES.length >= 1, 'no example plugin packages under examples/');
  const work = mkdtempSync(join(tmpdir(), 'fairtune-packed-'));
  assert.ok(!realpathSync(work).startsWith(root + '/'), `${work} lies inside the repository`);
  let ok = false;
  try {
    const env = userEnv();
    const tarballs = join(work, 'tarballs');
    mkdirSync(tarballs);
    const packed = [];
    const problems = [];
    for (const dir of [...PUBLISHED, ...EXAMPLES]) {
      const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
      const { tarball, files } = pack(dir, tarballs, env);
      problems.push(...tarballProblems(pkg, files));
      packed.push({ dir, name: pkg.name, tarball });
    }
    assert.deepEqual(problems, [], `tarball problems:\n${problems.join('\n')}`);

    const project = join(work, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'packed-install-check', version: '1.0.0', private: true, type: 'module' }, null, 2));
    // One install of every tarball: @fairtune/* dependencies resolve to the tarballs, the rest to the registry.
    expectOk(sh(`npm install --no-audit --no-fund --prefer-offline ${packed.map((p) => `"${p.tarball}"`).join(' ')}`, project, env, 900_000), 'npm install of the tarballs');
    assert.deepEqual(linksIntoRepo(project), [], 'node_modules links into the repository');
    for (const p of packed) {
      const installed = join(project, 'node_modules', p.name);
      assert.ok(existsSync(join(installed, 'package.json')), `${p.name} is not installed at ${installed}`);
      assert.ok(!lstatSync(installed).isSymbolicLink(), `${installed} is a symlink`);
    }
    env.npm_config_yes = 'false'; // npx must use the installed bin, never fetch one

    // Every built-in plugin package loads from its tarball, and so does every example.
    const list = sh(`npx fairtune plugins --json ${packed.filter((p) => p.dir.startsWith('examples/')).map((p) => `--plugin ${p.name}`).join(' ')}`, project, env);
    expectOk(list, 'npx fairtune plugins --json');
    const byPackage = new Set(JSON.parse(list.stdout).map((e) => e.package));
    for (const p of packed.filter((x) => x.name !== '@fairtune/core' && x.name !== '@fairtune/signal' && x.name !== '@fairtune/plugins-search')) {
      assert.ok(byPackage.has(p.name), `${p.name}: no stage type or nested plugin listed from it (packages listed: ${[...byPackage].join(', ')})`);
    }

    // A CSV-folder dataset for fairtune-plugin-csv-ppg: two subjects, 20 s at 32 Hz, HR 60 and 90 bpm.
    const study = join(project, 'study');
    mkdirSync(study);
    writeFileSync(join(study, 'subjects.csv'), 'subject,sex,age\nA,f,34\nB,m,61\n');
    for (const [id, hr] of [['A', 60], ['B', 90]]) {
      const rows = ['time,ppg,hr'];
      for (let k = 0; k < 640; k++) rows.push(`${k / 32},${Math.sin((2 * Math.PI * hr * k) / 32 / 60).toFixed(5)},${hr}`);
      writeFileSync(join(study, `${id}_rest.csv`), rows.join('\n') + '\n');
    }

    // `data inspect` (plugins-data's command) describes the folder through the example's inspector.
    const inspect = sh('npx fairtune data inspect study --json --plugin fairtune-plugin-csv-ppg', project, env);
    expectOk(inspect, 'npx fairtune data inspect study --plugin fairtune-plugin-csv-ppg');
    const described = JSON.parse(inspect.stdout);
    assert.equal(described.dataset, 'csv-ppg');
    assert.deepEqual(described.subjects.map((x) => [x.id, x.sex, x.age, x.signals[0].fs, x.signals[0].samples]), [['A', 'female', 34, 32, 640], ['B', 'male', 61, 32, 640]]);

    // A tiny pipeline naming the third-party plugin packages by their npm names: the TypeScript
    // dataset plugin feeds the built-in windowing stage; the JavaScript example clips demo numbers.
    writeFileSync(
      join(project, 'pipeline.json'),
      JSON.stringify(
        {
          name: 'packed-plugins',
          seed: 7,
          plugins: ['fairtune-plugin-example', 'fairtune-plugin-csv-ppg', 'fairtune-plugin-fair-cvar'],
          stages: {
            numbers: { type: 'demo.numbers', params: { count: 200 } },
            clip: { type: 'example.winsorize', params: { lower: 0.1, upper: 0.9 }, inputs: { series: 'numbers' } },
            study: { type: 'csv-ppg.load', params: { root: 'study', fs: 32 } },
            windows: { type: 'preprocess.window', params: { windowSeconds: 8, shiftSeconds: 4 }, inputs: { dataset: 'study' } },
          },
        },
        null,
        2,
      ),
    );
    const run = sh('npx fairtune run pipeline.json --cache-dir .fairtune/cache --runs-dir runs', project, env);
    expectOk(run, 'npx fairtune run pipeline.json');
    const runDir = run.stdout.trim().split('\n').at(-1);
    const summary = JSON.parse(readFileSync(join(resolve(project, runDir), 'summary.json'), 'utf8'));
    assert.equal(summary.status, 'succeeded', JSON.stringify(summary, null, 2));
    // 200 normal numbers clipped at their 10th and 90th percentiles: about 40 values change.
    const clipped = summary.stages.clip.metrics.clipped;
    assert.ok(clipped >= 30 && clipped <= 42, `example.winsorize clipped ${clipped} of 200 values at the 10/90 % quantiles`);
    assert.equal(summary.stages.study.metrics.recordings, 2);
    // 20 s recordings, 8 s windows every 4 s: 4 windows each.
    assert.equal(summary.stages.windows.metrics.windows, 8, JSON.stringify(summary.stages.windows));
    ok = true;
  } finally {
    if (ok && !process.env.FAIRTUNE_KEEP_PACKED) rmSync(work, { recursive: true, force: true });
    else process.stderr.write(`[packed] temporary project kept at ${work}\n`);
  }
});

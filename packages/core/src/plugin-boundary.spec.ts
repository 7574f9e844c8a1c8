/**
 * The plugin boundary (issue 15): plugin code imports `@fairtune/core/plugin` (contracts,
 * helpers, errors), never `@fairtune/core` (the runtime: executor, cache, registry, CLI), so a
 * plugin cannot come to depend on the runtime by accident. Checked here on both sides: what the
 * plugin entry exports, and what the built-in plugin packages, `@fairtune/signal`, the example
 * plugin packages and the scaffold's templates import outside their tests.
 */
import { describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as pluginEntry from './plugin.js';
import * as runtimeEntry from './index.js';
import { pluginNamespace, scaffoldFiles, scaffoldVersions, SCAFFOLD_KINDS } from './scaffold/index.js';

const coreSrc = fileURLToPath(new URL('./', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

describe('@fairtune/core/plugin: what it exports', () => {
  // Runtime symbols of `@fairtune/core` that must stay out of the plugin entry.
  const RUNTIME = [
    'runPipeline', 'openPipeline', 'createRegistry', 'executePipeline', 'resolvedPipelineJson', 'RunSetupError',
    'ArtifactCache', 'StageRegistry', 'PluginLoadError', 'BUILTIN_PLUGIN_PACKAGES', 'main', 'runCli', 'runStandalone',
    'resolveParams', 'demoStages', 'PipelineError', 'publishedPipelineSchema', 'pipelineEnvelopeSchema', 'graphText', 'stageRecipe',
  ];

  it('holds no runtime symbol', () => {
    const names = Object.keys(pluginEntry);
    for (const name of RUNTIME) expect(runtimeEntry).toHaveProperty(name); // the list names real runtime exports
    expect(names.filter((n) => RUNTIME.includes(n))).toEqual([]);
  });

  it('re-exports only from contract and helper modules (type exports included, which the export list cannot show)', () => {
    // Modules the plugin entry may draw from; executor/, run/, registry, runtime, cli*, and the
    // rest of pipeline/ and cache/ are the runtime.
    const allowed = /^\.\/(contracts\/[a-z-]+|rng|observable|pipeline\/nested-plugins|cache\/liveness)\.js$/;
    const text = readFileSync(join(coreSrc, 'plugin.ts'), 'utf8');
    const sources = [...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*'([^']+)'/gm)].map((m) => m[1]!);
    expect(sources.length).toBeGreaterThan(10);
    expect(sources.filter((s) => !allowed.test(s))).toEqual([]);
  });

  it('is a subset of @fairtune/core, binding the same objects (backwards compatible, one instance of each class)', () => {
    const runtime = runtimeEntry as Record<string, unknown>;
    expect(Object.entries(pluginEntry).filter(([name, value]) => runtime[name] !== value).map(([name]) => name)).toEqual([]);
    for (const name of ['STAGE_PLUGIN', 'artifact', 'ndarray', 'requireInput', 'runAsync', 'Rng', 'UsageError', 'TRAINING_STRATEGY_KIND', 'SAMPLER', 'DATASET_INSPECTOR', 'CLI_COMMAND', 'subjectGroups', 'resolveNestedParams']) {
      expect(pluginEntry).toHaveProperty(name);
    }
  });

  it('is declared in package.json exports in the same shape as the other entries', () => {
    const pkg = JSON.parse(readFileSync(join(coreSrc, '..', 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    expect(pkg.exports['./plugin']).toEqual({ '@fairtune/source': './src/plugin.ts', types: './dist/plugin.d.ts', default: './dist/plugin.js' });
    expect(Object.keys(pkg.exports['./plugin'] as object)).toEqual(Object.keys(pkg.exports['.'] as object));
  });
});

/** Every `@fairtune/core…` module specifier in a source: static and dynamic imports, re-exports, JSDoc `import('…')` types. */
function coreSpecifiers(text: string): string[] {
  return [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)['"](@fairtune\/core(?:\/[^'"]*)?)['"]/g)].map((m) => m[1]!);
}

/** Test code, which may use the runtime and `@fairtune/core/testing`: specs and `test-utils/` (both outside the built lib). */
const isTestFile = (path: string) => /\.spec\.[cm]?[jt]s$/.test(path) || /(^|\/)test-utils\//.test(path);

/**
 * Non-test sources that may import something other than `@fairtune/core/plugin`, each with why.
 * Keep it short: an entry here is plugin-side code that reaches the runtime.
 */
const ALLOWED: Readonly<Record<string, { specifier: string; why: string }>> = {
  // A benchmark run from source (`npm run bench:data`), not plugin code: it runs stages the way
  // a pipeline does with runStandalone, which lives in the testing entry.
  'packages/plugins-data/src/bench/data-bench.ts': { specifier: '@fairtune/core/testing', why: 'benchmark driving stages through runStandalone' },
};

interface Violation {
  readonly file: string;
  readonly specifier: string;
}

function violations(files: ReadonlyArray<{ path: string; text: string }>): { checked: number; pluginImports: number; bad: Violation[] } {
  let checked = 0;
  let pluginImports = 0;
  const bad: Violation[] = [];
  for (const { path, text } of files) {
    if (isTestFile(path)) continue;
    checked++;
    for (const specifier of coreSpecifiers(text)) {
      if (specifier === '@fairtune/core/plugin') pluginImports++;
      else if (ALLOWED[path]?.specifier !== specifier) bad.push({ file: path, specifier });
    }
  }
  return { checked, pluginImports, bad };
}

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' || name === 'dist' ? [] : sourceFiles(path);
    return /\.(?:[cm]?ts|[cm]?js)$/.test(name) ? [path] : [];
  });
}

/** The plugin-side packages: `src/` of each, and an example's top-level sources when it has no `src/` (the JavaScript example). */
function pluginPackages(): string[] {
  const dirs = (parent: string, prefix = '') =>
    readdirSync(join(repoRoot, parent))
      .filter((d) => d.startsWith(prefix) && existsSync(join(repoRoot, parent, d, 'package.json')))
      .map((d) => `${parent}/${d}`);
  return [...dirs('packages', 'plugins-'), 'packages/signal', ...dirs('examples')];
}

function packageSources(pkg: string): { path: string; text: string }[] {
  const root = join(repoRoot, pkg);
  const files = existsSync(join(root, 'src')) ? sourceFiles(join(root, 'src')) : readdirSync(root).filter((f) => /\.(?:[cm]?ts|[cm]?js)$/.test(f) && !/\.config\.c?js$/.test(f)).map((f) => join(root, f));
  return files.map((f) => ({ path: relative(repoRoot, f).split('\\').join('/'), text: readFileSync(f, 'utf8') }));
}

describe('plugin code imports @fairtune/core/plugin, not the runtime', () => {
  it('finds every kind of import of core, and nothing in comments or other packages', () => {
    expect(coreSpecifiers(`import { a } from '@fairtune/core';\nexport { b } from "@fairtune/core/plugin";\nconst c = await import('@fairtune/core/testing');\n/** @type {import('@fairtune/core').StagePlugin} */\nimport '@fairtune/core';`)).toEqual([
      '@fairtune/core',
      '@fairtune/core/plugin',
      '@fairtune/core/testing',
      '@fairtune/core',
      '@fairtune/core',
    ]);
    expect(coreSpecifiers(`import { x } from '@fairtune/signal';\n// see @fairtune/core for the runtime`)).toEqual([]);
    expect(violations([{ path: 'packages/plugins-x/src/a.ts', text: `import { runPipeline } from '@fairtune/core';` }]).bad).toEqual([{ file: 'packages/plugins-x/src/a.ts', specifier: '@fairtune/core' }]);
    expect(violations([{ path: 'packages/plugins-x/src/a.spec.ts', text: `import { runPipeline } from '@fairtune/core';` }]).bad).toEqual([]);
  });

  it.each(pluginPackages())('%s', (pkg) => {
    const { checked, pluginImports, bad } = violations(packageSources(pkg));
    // Guards against a scan that silently reads nothing (a moved folder, a broken pattern).
    expect(checked).toBeGreaterThan(0);
    expect(pluginImports).toBeGreaterThan(0);
    expect(bad).toEqual([]);
  });

  it('every allow-list entry is still needed', () => {
    for (const [file, { specifier }] of Object.entries(ALLOWED)) expect([file, coreSpecifiers(readFileSync(join(repoRoot, file), 'utf8'))]).toEqual([file, expect.arrayContaining([specifier])]);
  });

  it("plugin packages' dev scripts and test helpers use the plugin and testing entries, not the runtime one", () => {
    // Specs may drive the runtime (runPipeline); scripts/ (benchmarks, oracles) and test-utils/ are
    // copied by authors as examples, so they show the two entries a plugin package needs.
    const devFiles = pluginPackages().flatMap((pkg) => [...sourceFiles(join(repoRoot, pkg, 'scripts')), ...sourceFiles(join(repoRoot, pkg, 'src')).filter((f) => /(^|\/)test-utils\//.test(f))]);
    expect(devFiles.length).toBeGreaterThan(5);
    const runtime = devFiles.flatMap((f) => coreSpecifiers(readFileSync(f, 'utf8')).filter((s) => s !== '@fairtune/core/plugin' && s !== '@fairtune/core/testing').map((s) => `${relative(repoRoot, f)}: ${s}`));
    expect(runtime).toEqual([]);
  });

  it.each(SCAFFOLD_KINDS)('the scaffold\'s %s package', (kind) => {
    const name = 'fairtune-plugin-mine';
    const files = scaffoldFiles({ name, kind, ns: pluginNamespace(name), versions: scaffoldVersions() }).filter((f) => /\.(?:[cm]?ts|[cm]?js)$/.test(f.path));
    const { checked, pluginImports, bad } = violations(files.map((f) => ({ path: f.path, text: f.text })));
    expect(checked).toBeGreaterThan(0);
    expect(pluginImports).toBeGreaterThan(0);
    expect(bad).toEqual([]);
  });
});

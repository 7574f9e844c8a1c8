/**
 * Files every scaffolded plugin package has, whatever its kind: package.json, the TypeScript and
 * jest configs, .gitignore and the README's shared sections. The package is standalone: nothing
 * here points into the FairTune repository (no `extends` of its tsconfig, no jest preset, no
 * `@fairtune/source` condition), so it builds the same in a user's folder as in a test's.
 */
import type { ScaffoldKind } from './names.js';
import type { ScaffoldVersions } from './versions.js';

/** What the templates need to know about the package being written. */
export interface TemplateContext {
  /** npm package name, e.g. `fairtune-plugin-mine` or `@acme/fairtune-plugin-mine`. */
  readonly name: string;
  readonly kind: ScaffoldKind;
  /** Namespace of the plugin ids (`mine` → stage type `mine.signed-error`). */
  readonly ns: string;
  readonly versions: ScaffoldVersions;
}

/** A file to write: path relative to the package folder, and its text. */
export interface TemplateFile {
  readonly path: string;
  readonly text: string;
}

const sorted = (o: Readonly<Record<string, string>>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));

export function packageJson(ctx: TemplateContext, description: string): TemplateFile {
  const v = ctx.versions;
  const pkg = {
    name: ctx.name,
    version: '0.1.0',
    description,
    license: 'MIT',
    keywords: ['fairtune', 'fairtune-plugin'],
    // ESM like core: core imports plugin packages with import(), and its own dist is ESM.
    type: 'module',
    main: './dist/index.js',
    types: './dist/index.d.ts',
    exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' }, './package.json': './package.json' },
    // The tarball holds the built code and declarations only (tests and fixtures stay out).
    files: ['dist', '!dist/**/*.tsbuildinfo', 'README.md'],
    scripts: {
      build: 'tsc -p tsconfig.build.json',
      typecheck: 'tsc -p tsconfig.json',
      // Native ESM in jest needs the VM-modules flag (as in the FairTune repository).
      test: 'NODE_OPTIONS=--experimental-vm-modules jest',
      prepack: 'npm run build',
    },
    // Peers, never dependencies: the host's single copies are used, so inversify's container
    // modules and core's tokens are the host's own.
    peerDependencies: sorted({ '@fairtune/core': v.core, ...v.peers }),
    devDependencies: sorted({ '@fairtune/core': v.core, ...v.peers, ...v.devTools }),
  };
  return { path: 'package.json', text: JSON.stringify(pkg, null, 2) + '\n' };
}

/**
 * Compiler options written inline (no `extends` into a repository the user does not have):
 * Node's ESM resolution (`nodenext`, so relative imports carry `.js` as in the emitted code), and
 * decorators with their metadata for inversify's `@injectable()` classes, should the plugin grow
 * one (a stage injected with other bindings, as core's fine-tuning stage is).
 */
export function tsconfigFiles(): TemplateFile[] {
  const compilerOptions = {
    target: 'es2022',
    lib: ['es2023'],
    module: 'nodenext',
    moduleResolution: 'nodenext',
    strict: true,
    isolatedModules: true,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    declaration: true,
    declarationMap: true,
    sourceMap: true,
    skipLibCheck: true,
    rootDir: 'src',
    outDir: 'dist',
    types: ['node', 'jest'],
    noEmit: true,
  };
  const all = { compilerOptions, include: ['src/**/*.ts'] };
  // The build emits the plugin only: its tests and fixtures are type-checked by `typecheck`.
  const build = {
    extends: './tsconfig.json',
    compilerOptions: { noEmit: false, types: ['node'] },
    include: ['src/**/*.ts'],
    exclude: ['src/**/*.spec.ts', 'src/test-utils/**'],
  };
  return [
    { path: 'tsconfig.json', text: JSON.stringify(all, null, 2) + '\n' },
    { path: 'tsconfig.build.json', text: JSON.stringify(build, null, 2) + '\n' },
  ];
}

/**
 * Jest as the FairTune repository runs it (native ESM, TypeScript through @swc/jest with legacy
 * decorators and their metadata), minus the repository's `@fairtune/source` export condition: a
 * standalone package resolves `@fairtune/core` to its built `dist`, as a user's install does.
 */
export function jestConfig(): TemplateFile {
  const text = String.raw`/** Jest: native ESM (npm test sets --experimental-vm-modules) and TypeScript through @swc/jest. */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', {
      // Legacy decorators with metadata: what inversify's @injectable() classes need.
      jsc: { target: 'es2022', parser: { syntax: 'typescript', decorators: true },
             transform: { legacyDecorator: true, decoratorMetadata: true }, keepClassNames: true },
      module: { type: 'es6' },
    }],
  },
  // Sources import './x.js' (Node ESM); jest finds the .ts file.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  testTimeout: 60000,
};
`;
  return { path: 'jest.config.cjs', text };
}

export function gitignore(): TemplateFile {
  return { path: '.gitignore', text: 'node_modules/\ndist/\n*.tgz\n' };
}

/** The README: the kind's own section between a shared header and the build/test/pack/use steps. */
export function readme(ctx: TemplateContext, title: string, kindSection: string, pipelineSnippet: string): TemplateFile {
  const fence = '```';
  const text = `# ${ctx.name}

${title}

Written by \`fairtune new plugin ${ctx.name} --kind ${ctx.kind}\`. A FairTune-TS plugin package: \`src/index.ts\`
exports \`containerModule\`, an inversify \`ContainerModule\` binding the plugin, which FairTune loads
when a pipeline names this package in its \`"plugins"\`.

${kindSection}

## Build, test, pack

${fence}sh
npm install        # the dev dependencies (and @fairtune/core, inversify, rxjs for the tests)
npm run build      # tsc -p tsconfig.build.json → dist/
npm run typecheck  # the sources and the tests
npm test           # jest: the conformance suite of @fairtune/core/testing and a behavioural test
npm pack           # builds (prepack) and writes ${ctx.name.replace(/^@/, '').replace('/', '-')}-0.1.0.tgz
${fence}

\`@fairtune/core\`, \`inversify\` and \`rxjs\` are peer dependencies: the project that installs this
package provides them, so the plugin uses the host's single copies.
The sources import from \`@fairtune/core/plugin\` (the contracts and helpers a plugin needs, none
of the runtime); the tests also use \`@fairtune/core/testing\`.

## Use it in a pipeline

Install the tarball (or the published package) next to \`@fairtune/core\` and name the package in
the pipeline's \`"plugins"\`:

${fence}sh
npm install ./path/to/${ctx.name.replace(/^@/, '').replace('/', '-')}-0.1.0.tgz
${fence}

${fence}json
${pipelineSnippet}
${fence}

\`npx fairtune plugins --plugin ${ctx.name}\` lists what the package contributes, with its params;
\`npx fairtune validate <pipeline.json>\` checks a pipeline using it.
`;
  return { path: 'README.md', text };
}

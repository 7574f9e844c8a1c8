/**
 * `fairtune new plugin`: usage errors, and what the written package.json / configs say. Building
 * and testing the written packages (tsc, jest in the new folder) is tools/scaffold.test.mjs
 * (`npm run test:scaffold`): minutes of child processes do not belong in core's unit tests.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../testing.js';
import { DEV_TOOLS, packageNameProblems, pluginNamespace, scaffoldFiles, scaffoldVersions, SCAFFOLD_KINDS, type ScaffoldKind } from './index.js';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));
const made: string[] = [];
const tmp = () => {
  const dir = mkdtempSync(join(tmpdir(), 'fairtune-scaffold-spec-'));
  made.push(dir);
  return dir;
};
afterAll(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));
const filesOf = (kind: ScaffoldKind, name = 'fairtune-plugin-mine') => scaffoldFiles({ name, kind, ns: pluginNamespace(name), versions: scaffoldVersions() });
const fileText = (kind: ScaffoldKind, path: string) => filesOf(kind).find((f) => f.path === path)!.text;

describe('fairtune new plugin: usage errors', () => {
  it.each([
    ['Fairtune-Plugin', /upper-case letters/],
    ['my plugin', /not URL-safe/],
    ['@acme', /scoped name is @scope\/name/],
    ['@acme/a/b', /scoped name is @scope\/name/],
    ['.hidden', /starts with "\." or "_"/],
    ['http', /built-in module/],
    ['a'.repeat(215), /longer than 214/],
    ['wow!', /~'!\(\)\*/],
  ])('refuses the package name %j, naming it and the rule, and writes nothing', async (name, rule) => {
    const cwd = tmp();
    const r = await runCli(['new', 'plugin', name], { cwd });
    expect(r.code).toBe(2);
    expect(r.err).toContain(`plugin name "${name}" is not a valid npm package name`);
    expect(r.err).toMatch(rule);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('accepts scoped and plain names npm accepts', () => {
    for (const name of ['fairtune-plugin-x', '@my-org/fairtune-plugin-x', 'x.y_z-1', '@a/b']) expect(packageNameProblems(name)).toEqual([]);
  });

  it('refuses an unknown --kind, naming the flag and the kinds', async () => {
    const cwd = tmp();
    const r = await runCli(['new', 'plugin', 'fairtune-plugin-x', '--kind', 'model'], { cwd });
    expect(r.code).toBe(2);
    expect(r.err).toContain('error: --kind "model" is not a plugin kind (kinds: stage, strategy, dataset)');
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('refuses a non-empty folder (given or default) and a file, naming the path, and leaves them as they were', async () => {
    const cwd = tmp();
    mkdirSync(join(cwd, 'taken'));
    writeFileSync(join(cwd, 'taken', 'notes.txt'), 'mine');
    let r = await runCli(['new', 'plugin', 'fairtune-plugin-x', '--dir', 'taken'], { cwd });
    expect(r.code).toBe(2);
    expect(r.err).toContain(`error: --dir taken: ${join(cwd, 'taken')} is not empty (notes.txt)`);
    expect(readdirSync(join(cwd, 'taken'))).toEqual(['notes.txt']);
    mkdirSync(join(cwd, 'fairtune-plugin-y'));
    writeFileSync(join(cwd, 'fairtune-plugin-y', 'index.js'), '');
    r = await runCli(['new', 'plugin', '@acme/fairtune-plugin-y'], { cwd });
    expect(r.code).toBe(2);
    expect(r.err).toContain('folder ./fairtune-plugin-y (the default for @acme/fairtune-plugin-y)');
    writeFileSync(join(cwd, 'afile'), 'x');
    r = await runCli(['new', 'plugin', 'fairtune-plugin-x', '--dir', 'afile'], { cwd });
    expect(r.code).toBe(2);
    expect(r.err).toContain(`--dir afile: ${join(cwd, 'afile')} exists and is not a folder`);
  });

  it('writes into an empty folder, and the default folder is the unscoped name', async () => {
    const cwd = tmp();
    mkdirSync(join(cwd, 'empty'));
    const r = await runCli(['new', 'plugin', 'fairtune-plugin-x', '--dir', 'empty', '--kind', 'dataset'], { cwd });
    expect(r.code).toBe(0);
    expect(r.out).toContain(`wrote dataset plugin fairtune-plugin-x in ${join(cwd, 'empty')}`);
    expect(existsSync(join(cwd, 'empty', 'src', 'loader.ts'))).toBe(true);
    expect((await runCli(['new', 'plugin', '@acme/fairtune-plugin-z'], { cwd })).code).toBe(0);
    expect(readJson(join(cwd, 'fairtune-plugin-z', 'package.json')).name).toBe('@acme/fairtune-plugin-z');
    expect(readFileSync(join(cwd, 'fairtune-plugin-z', 'src', 'signed-error.ts'), 'utf8')).toContain("type: 'z.signed-error'");
  });

  it('is in the CLI help', async () => {
    expect((await runCli(['--help'])).out).toMatch(/new\s+write a plugin package \(new plugin <name>\)/);
    const help = await runCli(['new', 'plugin', '--help']);
    expect(help.out).toContain('--kind <kind>');
    expect(help.out).toContain('stage, strategy, dataset');
    expect(help.out).toContain('--dir <path>');
  });
});

describe('fairtune new plugin: the package it writes', () => {
  const core = readJson(join(repoRoot, 'packages/core/package.json'));
  const root = readJson(join(repoRoot, 'package.json'));

  it.each(SCAFFOLD_KINDS)('%s: peers are core (caret of the running version), inversify and rxjs at core\'s versions; dev tools at the repository\'s', (kind) => {
    const pkg = JSON.parse(fileText(kind, 'package.json'));
    expect(pkg.peerDependencies).toEqual({ '@fairtune/core': `^${core.version}`, inversify: core.dependencies.inversify, rxjs: core.dependencies.rxjs });
    for (const tool of DEV_TOOLS) expect([tool, pkg.devDependencies[tool]]).toEqual([tool, root.devDependencies[tool]]);
    expect(pkg.devDependencies['@fairtune/core']).toBe(`^${core.version}`);
    expect(pkg.type).toBe('module');
    expect(pkg.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
    expect(pkg.scripts).toMatchObject({ build: 'tsc -p tsconfig.build.json', test: 'NODE_OPTIONS=--experimental-vm-modules jest', prepack: 'npm run build' });
    expect(pkg.files).toContain('dist');
  });

  it.each(SCAFFOLD_KINDS)('%s: standalone configs (nodenext ESM, decorator metadata for inversify, no repository paths or conditions)', (kind) => {
    const files = filesOf(kind);
    const ts = JSON.parse(fileText(kind, 'tsconfig.json'));
    expect(ts.extends).toBeUndefined();
    expect(ts.compilerOptions).toMatchObject({ module: 'nodenext', moduleResolution: 'nodenext', experimentalDecorators: true, emitDecoratorMetadata: true, declaration: true });
    expect(JSON.parse(fileText(kind, 'tsconfig.build.json')).extends).toBe('./tsconfig.json');
    const jest = fileText(kind, 'jest.config.cjs');
    expect(jest).toContain("'@swc/jest'");
    expect(jest).toContain('decoratorMetadata: true');
    for (const f of files) {
      expect([f.path, f.text.includes('@fairtune/source')]).toEqual([f.path, false]);
      expect([f.path, f.text.includes(repoRoot) || /\.\.\/\.\.\//.test(f.text)]).toEqual([f.path, false]);
    }
    expect(fileText(kind, 'src/index.ts')).toMatch(/export const containerModule = new ContainerModule/);
    expect(fileText(kind, 'README.md')).toContain('"plugins": ["fairtune-plugin-mine"]');
  });

  it('derives plugin ids from the package name', () => {
    expect(pluginNamespace('fairtune-plugin-mine')).toBe('mine');
    expect(pluginNamespace('@acme/fairtune-plugin-hr.tools')).toBe('hr-tools');
    expect(pluginNamespace('9lives')).toBe('p-9lives');
    expect(fileText('strategy', 'src/loss-power.ts')).toContain("name: 'mine-loss-power'");
    expect(fileText('dataset', 'src/loader.ts')).toContain("type: 'mine.load'");
  });
});

describe('scaffoldVersions outside a workspace', () => {
  it('takes dev tools installed beside core, and says which it could not find', () => {
    const dir = tmp();
    const coreDir = join(dir, 'node_modules', '@fairtune', 'core');
    mkdirSync(coreDir, { recursive: true });
    writeFileSync(join(coreDir, 'package.json'), JSON.stringify({ name: '@fairtune/core', version: '2.3.4', dependencies: { inversify: '9.0.0', rxjs: '7.9.0' } }));
    mkdirSync(join(dir, 'node_modules', 'typescript'), { recursive: true });
    writeFileSync(join(dir, 'node_modules', 'typescript', 'package.json'), JSON.stringify({ name: 'typescript', version: '5.0.1' }));
    const v = scaffoldVersions(coreDir);
    expect(v.core).toBe('^2.3.4');
    expect(v.peers).toEqual({ inversify: '9.0.0', rxjs: '7.9.0' });
    expect(v.devTools['typescript']).toBe('5.0.1');
    expect(v.devTools['jest']).toBe('latest');
    expect(v.notes.join('\n')).toMatch(/jest, @swc\/jest, @swc\/core, @jest\/globals, @types\/node, @types\/jest: no version known/);
  });

  it('refuses a core manifest without a shared peer, naming the file', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: '@fairtune/core', version: '1.0.0', dependencies: { inversify: '8.2.3' } }));
    expect(() => scaffoldVersions(dir)).toThrow(`${join(dir, 'package.json')}: no dependency rxjs`);
  });
});

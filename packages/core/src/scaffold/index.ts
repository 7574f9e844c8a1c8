/**
 * `fairtune new plugin <name> [--kind dataset|strategy|stage] [--dir <path>]`: writes a ready,
 * standalone plugin package (package.json with the right peers, tsconfig, jest config, a typed
 * plugin, a test using the conformance suite, a README). The templates live one module per kind;
 * this module checks the name, kind and folder, and writes the files.
 */
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../contracts/cli-command.js';
import { gitignore, jestConfig, tsconfigFiles, type TemplateContext, type TemplateFile } from './common.js';
import { datasetFiles } from './dataset.js';
import { checkPackageName, defaultFolder, parseKind, pluginNamespace, type ScaffoldKind } from './names.js';
import { stageFiles } from './stage.js';
import { strategyFiles } from './strategy.js';
import { scaffoldVersions, type ScaffoldVersions } from './versions.js';

export { SCAFFOLD_KINDS, packageNameProblems, pluginNamespace, type ScaffoldKind } from './names.js';
export { scaffoldVersions, DEV_TOOLS, SHARED_PEERS, type ScaffoldVersions } from './versions.js';
export type { TemplateFile } from './common.js';

export interface ScaffoldOptions {
  readonly name: string;
  /** `stage` (default), `strategy` or `dataset`; anything else is a usage error naming `--kind`. */
  readonly kind?: string;
  /** Target folder (default `./<unscoped name>`), relative to `cwd`. */
  readonly dir?: string;
  readonly cwd: string;
  /** Versions to write (default: read from core's manifest and its workspace at run time). */
  readonly versions?: ScaffoldVersions;
}

export interface ScaffoldResult {
  readonly dir: string;
  readonly kind: ScaffoldKind;
  readonly files: readonly string[];
  readonly notes: readonly string[];
}

/** Every file of a package of `kind`, without writing anything. */
export function scaffoldFiles(ctx: TemplateContext): TemplateFile[] {
  const own = ctx.kind === 'stage' ? stageFiles(ctx) : ctx.kind === 'strategy' ? strategyFiles(ctx) : datasetFiles(ctx);
  return [...own, ...tsconfigFiles(), jestConfig(), gitignore()];
}

/** Refuses a target that is a file, or a folder with anything in it: scaffolding never overwrites. */
function checkTarget(dir: string, label: string): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new UsageError(`${label}: ${dir} exists and is not a folder`);
  const entries = readdirSync(dir);
  if (entries.length) throw new UsageError(`${label}: ${dir} is not empty (${entries.slice(0, 5).join(', ')}${entries.length > 5 ? ', …' : ''}); choose an empty or new folder with --dir`);
}

export function scaffoldPlugin(options: ScaffoldOptions): ScaffoldResult {
  checkPackageName(options.name);
  const kind = parseKind(options.kind);
  const dir = resolve(options.cwd, options.dir ?? defaultFolder(options.name));
  checkTarget(dir, options.dir !== undefined ? `--dir ${options.dir}` : `folder ./${defaultFolder(options.name)} (the default for ${options.name})`);
  const versions = options.versions ?? scaffoldVersions();
  const files = scaffoldFiles({ name: options.name, kind, ns: pluginNamespace(options.name), versions });
  for (const f of files) {
    const path = join(dir, f.path);
    mkdirSync(dirname(path), { recursive: true });
    // 'wx': fail rather than overwrite, should something appear in the folder meanwhile.
    writeFileSync(path, f.text, { flag: 'wx' });
  }
  return { dir, kind, files: files.map((f) => f.path), notes: versions.notes };
}

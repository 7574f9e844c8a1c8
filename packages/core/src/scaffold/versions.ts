/**
 * The versions a scaffolded package.json names, read at run time so they are written down once:
 * the peers (`inversify`, `rxjs`) from core's own dependencies, `@fairtune/core` as a caret range
 * of the running core, and the dev tools from the workspace that core lives in (this repository's
 * root package.json) or, for a core installed from npm, from the tools installed beside it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Dev tools a plugin package builds and tests with (the ones this repository uses). */
export const DEV_TOOLS = ['typescript', 'jest', '@swc/jest', '@swc/core', '@jest/globals', '@types/node', '@types/jest'] as const;
/** Core's runtime dependencies a plugin shares with the host, so they are peers. */
export const SHARED_PEERS = ['inversify', 'rxjs'] as const;

export interface ScaffoldVersions {
  /** Range of `@fairtune/core` (peer and dev dependency): `^<running core's version>`. */
  readonly core: string;
  readonly peers: Readonly<Record<string, string>>;
  readonly devTools: Readonly<Record<string, string>>;
  /** Where each dev tool's version came from, or why it is `latest`: shown to the user. */
  readonly notes: readonly string[];
}

interface Manifest {
  name?: string;
  version?: string;
  workspaces?: unknown;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

const readManifest = (file: string): Manifest => JSON.parse(readFileSync(file, 'utf8')) as Manifest;

/** Core's package folder: this module is `src/scaffold/versions.ts` or `dist/scaffold/versions.js`. */
export function coreDir(): string {
  return fileURLToPath(new URL('../../', import.meta.url));
}

/** The nearest package.json above `dir` that declares workspaces (the monorepo core is part of). */
function workspaceManifest(dir: string): { file: string; manifest: Manifest } | undefined {
  for (let d = dirname(dir); ; d = dirname(d)) {
    const file = join(d, 'package.json');
    if (existsSync(file)) {
      const manifest = readManifest(file);
      if (manifest.workspaces) return { file, manifest };
    }
    if (dirname(d) === d) return undefined;
  }
}

/** The version of `name` installed in a node_modules folder at or above `dir`. */
function installedVersion(name: string, dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    const file = join(d, 'node_modules', name, 'package.json');
    if (existsSync(file)) return readManifest(file).version;
    if (dirname(d) === d) return undefined;
  }
}

export function scaffoldVersions(dir: string = coreDir()): ScaffoldVersions {
  const core = readManifest(join(dir, 'package.json'));
  if (!core.version) throw new Error(`${join(dir, 'package.json')}: no version`);
  const peers: Record<string, string> = {};
  for (const name of SHARED_PEERS) {
    const v = core.dependencies?.[name];
    if (!v) throw new Error(`${join(dir, 'package.json')}: no dependency ${name}, which a plugin must share with core as a peer`);
    peers[name] = v;
  }
  const workspace = workspaceManifest(dir);
  const devTools: Record<string, string> = {};
  const notes: string[] = [];
  const latest: string[] = [];
  for (const name of DEV_TOOLS) {
    const declared = workspace?.manifest.devDependencies?.[name] ?? workspace?.manifest.dependencies?.[name];
    const installed = declared ? undefined : installedVersion(name, dir);
    devTools[name] = declared ?? installed ?? 'latest';
    if (!declared && installed) notes.push(`${name} ${installed}: the version installed beside @fairtune/core`);
    if (!declared && !installed) latest.push(name);
  }
  if (workspace && Object.keys(devTools).some((n) => workspace.manifest.devDependencies?.[n] ?? workspace.manifest.dependencies?.[n])) {
    notes.unshift(`dev tool versions from ${workspace.file}`);
  }
  // A core installed alone from npm has no record of the tools it was built with: say so rather than guess a version.
  if (latest.length) notes.push(`${latest.join(', ')}: no version known (not in core's workspace, not installed beside it); wrote "latest"`);
  return { core: `^${core.version}`, peers, devTools, notes };
}

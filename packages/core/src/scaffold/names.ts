/**
 * Names for `fairtune new plugin`: the npm package name is checked by npm's own rules (so the
 * package can be published and named in a pipeline's `"plugins"`), and the plugin ids inside it
 * (stage type, strategy name) are derived from it so that two scaffolded packages do not clash.
 */
import { builtinModules } from 'node:module';
import { UsageError } from '../contracts/cli-command.js';

/** The kinds `--kind` accepts; `stage` is the default. */
export const SCAFFOLD_KINDS = ['stage', 'strategy', 'dataset'] as const;
export type ScaffoldKind = (typeof SCAFFOLD_KINDS)[number];

export function parseKind(kind: string | undefined): ScaffoldKind {
  if (kind === undefined) return 'stage';
  if ((SCAFFOLD_KINDS as readonly string[]).includes(kind)) return kind as ScaffoldKind;
  throw new UsageError(`--kind "${kind}" is not a plugin kind (kinds: ${SCAFFOLD_KINDS.join(', ')})`);
}

/**
 * The problems npm would have with `name` as a new package's name (validate-npm-package-name's
 * rules for new packages): empty list when it is valid.
 */
export function packageNameProblems(name: string): string[] {
  const problems: string[] = [];
  if (name.length === 0) return ['it is empty'];
  if (name.length > 214) problems.push('it is longer than 214 characters');
  if (name.trim() !== name) problems.push('it has leading or trailing spaces');
  if (name.toLowerCase() !== name) problems.push('it has upper-case letters');
  if (/[~'!()*]/.test(name)) problems.push('it has one of the characters ~\'!()*');
  const scoped = /^@([^/]+)\/([^/]+)$/.exec(name);
  if (name.startsWith('@') && !scoped) problems.push('a scoped name is @scope/name, with one "/"');
  const parts = scoped ? [scoped[1]!, scoped[2]!] : [name];
  for (const part of parts) {
    if (encodeURIComponent(part) !== part) problems.push(`"${part}" has characters that are not URL-safe`);
  }
  const bare = scoped ? scoped[2]! : name;
  if (/^[._]/.test(bare) || /^[._]/.test(name)) problems.push('it starts with "." or "_"');
  if (!scoped && (builtinModules.includes(name) || ['node_modules', 'favicon.ico'].includes(name))) problems.push('it is a Node.js built-in module or a reserved name');
  return problems;
}

export function checkPackageName(name: string): void {
  const problems = packageNameProblems(name);
  if (problems.length) throw new UsageError(`plugin name "${name}" is not a valid npm package name: ${problems.join('; ')} (e.g. fairtune-plugin-mine or @my-org/fairtune-plugin-mine)`);
}

/**
 * The namespace of the plugin ids: the unscoped name without a `fairtune-plugin-` prefix, in the
 * characters stage types allow (`^[a-z][a-z0-9-]*`), e.g. `@acme/fairtune-plugin-hr.tools` → `hr-tools`.
 */
export function pluginNamespace(name: string): string {
  const bare = name.replace(/^@[^/]+\//, '').replace(/^fairtune-plugin-/, '');
  const ns = bare.replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '');
  return /^[a-z]/.test(ns) ? ns : `p${ns ? `-${ns}` : ''}`;
}

/** The folder name a package is written to by default: its unscoped name. */
export function defaultFolder(name: string): string {
  return name.replace(/^@[^/]+\//, '');
}

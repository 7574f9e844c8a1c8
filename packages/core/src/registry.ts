/**
 * The plugin registry: an inversify container into which plugin packages load their
 * ContainerModule; every stage plugin bound to STAGE_PLUGIN becomes a stage type, and every
 * plugin bound to the token of a nested plugin kind (TRAINING_STRATEGY, or a kind a package
 * declares through NESTED_PLUGIN_KIND) becomes a nested plugin that stage params select by name.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Container, ContainerModule } from 'inversify';
import { CLI_COMMAND, type CliCommand } from './contracts/cli-command.js';
import { NESTED_PLUGIN_KIND, type NestedPlugin, type NestedPluginKind } from './contracts/nested-plugin.js';
import { TRAINING_STRATEGY_KIND } from './contracts/training-strategy.js';
import { PRUNER_KIND, SAMPLER_KIND } from './contracts/search.js';
import { STAGE_PLUGIN, type StagePlugin } from './contracts/stage-plugin.js';
import { compileSchema } from './pipeline/ajv.js';
import { FairtuneError } from './contracts/errors.js';

/** Plugin packages of this repository, loaded when installed. */
export const BUILTIN_PLUGIN_PACKAGES = [
  '@fairtune/plugins-data',
  '@fairtune/plugins-models',
  '@fairtune/plugins-fairness',
  '@fairtune/plugins-search',
] as const;

export interface RegisteredPlugin {
  readonly plugin: StagePlugin;
  /** npm package (or path) the plugin came from. */
  readonly packageName: string;
}

/** Nested plugin kinds core declares itself; packages add kinds by binding NESTED_PLUGIN_KIND. */
export const BUILTIN_NESTED_PLUGIN_KINDS: readonly NestedPluginKind[] = [TRAINING_STRATEGY_KIND, SAMPLER_KIND, PRUNER_KIND] as unknown as NestedPluginKind[];

export interface RegisteredNestedPlugin {
  readonly kind: string;
  readonly plugin: NestedPlugin;
  /** npm package (or path) the plugin came from ("unknown" when it could not be attributed). */
  readonly packageName: string;
}

export class PluginLoadError extends FairtuneError {
  override readonly name = 'PluginLoadError';
  constructor(message: string, options?: ErrorOptions) {
    super('FT_PLUGIN_LOAD', message, {}, options);
  }
}

/** A plugin named by a path rather than an npm name, and the file that was imported for it (its code ran). */
export interface PathPlugin {
  readonly specifier: string;
  readonly file: string;
}

export class StageRegistry {
  readonly container = new Container({ defaultScope: 'Singleton' });
  readonly #byType = new Map<string, RegisteredPlugin>();
  readonly #commands = new Map<string, CliCommand>();
  readonly #loaded = new Set<string>();
  readonly #pathPlugins: PathPlugin[] = [];

  readonly #kinds = new Map<string, NestedPluginKind>();
  readonly #nested = new Map<string, RegisteredNestedPlugin[]>();

  readonly #origin = new Map<string, string>();
  /** `<kind> <name>` → package, for nested plugins. */
  readonly #nestedOrigin = new Map<string, string>();
  /** Kinds declared so far (built-in and by loaded modules), for attributing nested plugins. */
  readonly #declaredKinds = new Map<string, NestedPluginKind>(BUILTIN_NESTED_PLUGIN_KINDS.map((k) => [k.kind, k]));
  #dirty = false;

  /**
   * Loads a ContainerModule and records which package contributed each stage type. Load every
   * package before resolving plugins: a plugin that multi-injects contributions of other
   * packages (trainer ← strategies) sees those loaded when it is first resolved.
   */
  loadModule(module: ContainerModule, packageName: string): void {
    // Attribution: resolve the module alone in a throwaway container. A plugin whose
    // constructor needs another package's service cannot be resolved alone; it is still
    // registered, attributed as "unknown".
    let types: string[] = [];
    const nestedNames: string[] = [];
    try {
      const probe = new Container({ defaultScope: 'Singleton' });
      probe.load(module);
      try {
        types = probe.isBound(STAGE_PLUGIN) ? probe.getAll(STAGE_PLUGIN).map((p) => p.type) : [];
      } catch {
        types = [];
      }
      try {
        for (const k of probe.isBound(NESTED_PLUGIN_KIND) ? probe.getAll(NESTED_PLUGIN_KIND) : []) {
          if (typeof k?.kind === 'string' && !this.#declaredKinds.has(k.kind)) this.#declaredKinds.set(k.kind, k);
        }
        for (const k of this.#declaredKinds.values()) {
          if (!probe.isBound(k.token)) continue;
          for (const p of probe.getAll(k.token)) nestedNames.push(`${k.kind} ${String(p.name)}`);
        }
      } catch {
        // attributed as "unknown"; shapes are checked when the registry resolves
      }
    } catch {
      types = [];
    }
    for (const type of types) {
      const known = this.#origin.get(type);
      if (known) throw new PluginLoadError(`stage type "${type}" is registered twice: by ${known} and by ${packageName}`);
      this.#origin.set(type, packageName);
    }
    for (const key of nestedNames) {
      const known = this.#nestedOrigin.get(key);
      const [kind, name] = [key.slice(0, key.indexOf(' ')), key.slice(key.indexOf(' ') + 1)];
      if (known) throw new PluginLoadError(`${kind} "${name}" is registered twice: by ${known} and by ${packageName}`);
      this.#nestedOrigin.set(key, packageName);
    }
    this.container.load(module);
    this.#loaded.add(packageName);
    this.#dirty = true;
  }

  #resolve(): void {
    if (!this.#dirty) return;
    this.#dirty = false;
    this.#byType.clear();
    this.#commands.clear();
    const plugins = this.container.isBound(STAGE_PLUGIN) ? this.container.getAll(STAGE_PLUGIN) : [];
    for (const plugin of plugins) {
      const packageName = this.#origin.get(plugin.type) ?? 'unknown';
      if (this.#byType.has(plugin.type)) throw new PluginLoadError(`stage type "${plugin.type}" is registered twice (${packageName})`);
      checkPluginShape(plugin, packageName);
      this.#byType.set(plugin.type, { plugin, packageName });
    }
    const commands = this.container.isBound(CLI_COMMAND) ? this.container.getAll(CLI_COMMAND) : [];
    for (const command of commands) {
      if (this.#commands.has(command.name)) throw new PluginLoadError(`CLI command "${command.name}" is contributed twice`);
      this.#commands.set(command.name, command);
    }
    this.#resolveNested();
  }

  #resolveNested(): void {
    this.#kinds.clear();
    this.#nested.clear();
    const declared = this.container.isBound(NESTED_PLUGIN_KIND) ? this.container.getAll(NESTED_PLUGIN_KIND) : [];
    for (const kind of [...BUILTIN_NESTED_PLUGIN_KINDS, ...declared]) {
      if (typeof kind?.kind !== 'string' || !/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(kind.kind) || kind.token === undefined) {
        throw new PluginLoadError(`nested plugin kind ${JSON.stringify(kind?.kind)}: kind must be lower-case words joined by "-" (like "training-strategy") and have a token`);
      }
      const known = this.#kinds.get(kind.kind);
      if (known) {
        if (known.token !== kind.token) throw new PluginLoadError(`nested plugin kind "${kind.kind}" is declared twice with different tokens`);
        continue;
      }
      this.#kinds.set(kind.kind, kind);
      const list: RegisteredNestedPlugin[] = [];
      for (const plugin of this.container.isBound(kind.token) ? this.container.getAll(kind.token) : []) {
        const packageName = this.#nestedOrigin.get(`${kind.kind} ${String(plugin?.name)}`) ?? 'unknown';
        checkNestedShape(kind.kind, plugin, packageName);
        if (list.some((p) => p.plugin.name === plugin.name)) throw new PluginLoadError(`${kind.kind} "${plugin.name}" is registered twice (${packageName})`);
        list.push({ kind: kind.kind, plugin, packageName });
      }
      this.#nested.set(kind.kind, list.sort((a, b) => a.plugin.name.localeCompare(b.plugin.name)));
    }
  }

  /**
   * Imports plugin packages by npm name or path and loads their `containerModule` export.
   * Names resolve from `baseDir` (the pipeline file's folder), then from the working directory.
   */
  async loadPackages(specifiers: readonly string[], baseDir: string, options: { optional?: boolean } = {}): Promise<string[]> {
    const loaded: string[] = [];
    for (const specifier of specifiers) {
      if (this.#loaded.has(specifier)) continue;
      const url = resolvePluginSpecifier(specifier, baseDir);
      if (!url) {
        if (options.optional) continue;
        throw new PluginLoadError(`plugin package "${specifier}" was not found from ${baseDir} (install it with npm, or give a path relative to the pipeline file)`);
      }
      let mod: { containerModule?: unknown };
      try {
        mod = (await import(url)) as { containerModule?: unknown };
      } catch (err) {
        const from = isPathSpecifier(specifier) ? ` (imported from ${fileURLToPath(url)})` : '';
        throw new PluginLoadError(`plugin package "${specifier}"${from} failed to load: ${((err as Error)?.message ?? String(err)).split('\n')[0]}`);
      }
      if (!(mod.containerModule instanceof ContainerModule) && !isContainerModuleLike(mod.containerModule)) {
        throw new PluginLoadError(`plugin package "${specifier}" does not export \`containerModule\` (an inversify ContainerModule)`);
      }
      this.loadModule(mod.containerModule as ContainerModule, specifier);
      loaded.push(specifier);
      if (isPathSpecifier(specifier)) this.#pathPlugins.push({ specifier, file: fileURLToPath(url) });
    }
    return loaded;
  }

  /** Plugins loaded by path, with the file imported for each (naming one runs its code, even to validate). */
  pathPlugins(): PathPlugin[] {
    return [...this.#pathPlugins];
  }

  get(type: string): RegisteredPlugin | undefined {
    this.#resolve();
    return this.#byType.get(type);
  }

  types(): string[] {
    this.#resolve();
    return [...this.#byType.keys()].sort();
  }

  all(): RegisteredPlugin[] {
    return this.types().map((t) => this.#byType.get(t)!);
  }

  /** Declared nested plugin kinds, by kind name. */
  nestedKinds(): NestedPluginKind[] {
    this.#resolve();
    return [...this.#kinds.values()].sort((a, b) => a.kind.localeCompare(b.kind));
  }

  /** The loaded plugins of a nested plugin kind, by name; undefined when no loaded package declares the kind. */
  nested(kind: string): RegisteredNestedPlugin[] | undefined {
    this.#resolve();
    return this.#nested.get(kind);
  }

  command(name: string): CliCommand | undefined {
    this.#resolve();
    return this.#commands.get(name);
  }

  commands(): CliCommand[] {
    this.#resolve();
    return [...this.#commands.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
}

/** A ContainerModule from a second copy of inversify fails `instanceof`; accept its shape. */
function isContainerModuleLike(v: unknown): boolean {
  return !!v && typeof v === 'object' && typeof (v as { load?: unknown }).load === 'function' && 'id' in v;
}

function checkPluginShape(plugin: StagePlugin, packageName: string): void {
  const where = `stage plugin "${String(plugin.type)}" from ${packageName}`;
  if (typeof plugin.type !== 'string' || !/^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$/.test(plugin.type)) {
    throw new PluginLoadError(`${where}: type must be namespaced like "data.dalia"`);
  }
  if (typeof plugin.version !== 'string' || !plugin.version) throw new PluginLoadError(`${where}: missing version`);
  if (typeof plugin.run !== 'function') throw new PluginLoadError(`${where}: missing run()`);
  if (!plugin.inputs || !plugin.outputs) throw new PluginLoadError(`${where}: must declare inputs and outputs (use {} for none)`);
  try {
    compileSchema(plugin.paramsSchema);
  } catch (err) {
    throw new PluginLoadError(`${where}: params schema does not compile: ${(err as Error).message}`);
  }
}

function checkNestedShape(kind: string, plugin: NestedPlugin, packageName: string): void {
  const where = `${kind} "${String(plugin?.name)}" from ${packageName}`;
  if (typeof plugin?.name !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/i.test(plugin.name)) throw new PluginLoadError(`${where}: name must be letters, digits, ".", "_" or "-"`);
  if (typeof plugin.version !== 'string' || !plugin.version) throw new PluginLoadError(`${where}: missing version`);
  if (!plugin.paramsSchema || typeof plugin.paramsSchema !== 'object') throw new PluginLoadError(`${where}: missing paramsSchema`);
  try {
    compileSchema(plugin.paramsSchema);
  } catch (err) {
    throw new PluginLoadError(`${where}: params schema does not compile: ${(err as Error).message}`);
  }
}

function isPathSpecifier(specifier: string): boolean {
  return specifier.startsWith('.') || isAbsolute(specifier);
}

function resolvePluginSpecifier(specifier: string, baseDir: string): string | undefined {
  if (isPathSpecifier(specifier)) {
    const path = resolve(baseDir, specifier);
    if (!existsSync(path)) return undefined;
    // A folder is a package: let Node resolve its main/exports through a require from inside it.
    try {
      return pathToFileURL(createRequire(resolve(path, 'noop.js')).resolve(path)).href;
    } catch {
      return pathToFileURL(path).href;
    }
  }
  for (const from of [baseDir, process.cwd(), dirname(new URL(import.meta.url).pathname)]) {
    try {
      return pathToFileURL(createRequire(resolve(from, 'noop.js')).resolve(specifier)).href;
    } catch {
      // try the next base
    }
  }
  return undefined;
}

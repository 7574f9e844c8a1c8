/**
 * The plugin registry: an inversify container into which plugin packages load their
 * ContainerModule; every stage plugin bound to STAGE_PLUGIN becomes a stage type.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Container, ContainerModule } from 'inversify';
import { CLI_COMMAND, type CliCommand } from './contracts/cli-command.js';
import { STAGE_PLUGIN, type StagePlugin } from './contracts/stage-plugin.js';
import { compileSchema } from './pipeline/ajv.js';

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

export class PluginLoadError extends Error {
  override readonly name = 'PluginLoadError';
}

export class StageRegistry {
  readonly container = new Container({ defaultScope: 'Singleton' });
  readonly #byType = new Map<string, RegisteredPlugin>();
  readonly #commands = new Map<string, CliCommand>();
  readonly #loaded = new Set<string>();

  readonly #origin = new Map<string, string>();
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
    try {
      const probe = new Container({ defaultScope: 'Singleton' });
      probe.load(module);
      types = probe.isBound(STAGE_PLUGIN) ? probe.getAll(STAGE_PLUGIN).map((p) => p.type) : [];
    } catch {
      types = [];
    }
    for (const type of types) {
      const known = this.#origin.get(type);
      if (known) throw new PluginLoadError(`stage type "${type}" is registered twice: by ${known} and by ${packageName}`);
      this.#origin.set(type, packageName);
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
        throw new PluginLoadError(`plugin package "${specifier}" failed to load: ${(err as Error).message}`);
      }
      if (!(mod.containerModule instanceof ContainerModule) && !isContainerModuleLike(mod.containerModule)) {
        throw new PluginLoadError(`plugin package "${specifier}" does not export \`containerModule\` (an inversify ContainerModule)`);
      }
      this.loadModule(mod.containerModule as ContainerModule, specifier);
      loaded.push(specifier);
    }
    return loaded;
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

function resolvePluginSpecifier(specifier: string, baseDir: string): string | undefined {
  if (specifier.startsWith('.') || isAbsolute(specifier)) {
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

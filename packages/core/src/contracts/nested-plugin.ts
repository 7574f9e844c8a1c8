/**
 * Nested plugins: plugins chosen by name inside a stage's params, such as the training strategy
 * of `train.finetune` (`"strategy": { "name": "group-dro", "params": { "stepSize": 0.01 } }`),
 * and, to come, the samplers and pruners of a search stage.
 *
 * A *kind* of nested plugin is a `NestedPluginKind`: a name (`training-strategy`) and the
 * inversify token its plugins are bound to. Core declares `training-strategy`; a package that
 * introduces a kind binds its descriptor to `NESTED_PLUGIN_KIND`. A stage marks where a nested
 * plugin sits by giving that property of its params schema the keyword `x-fairtune-plugin: <kind>`
 * (`nestedPluginParam` writes the whole property). Validation then resolves the name among the
 * loaded plugins of that kind, checks the params against the plugin's `paramsSchema` with
 * defaults applied, writes the resolved params back into the stage's params, and adds the nested
 * plugin's name and version to the stage's cache key. The stage receives resolved params.
 */
import type { ServiceIdentifier } from 'inversify';
import type { JsonObject } from './artifact.js';
import type { JsonSchema } from './stage-plugin.js';

/** What every nested plugin declares (a kind's plugin interface extends it with its hooks). */
export interface NestedPlugin {
  /** Name used in pipelines (`"name": "group-dro"`); unique within its kind. */
  readonly name: string;
  /** Bump when the plugin's behaviour changes for the same params: it joins the cache key of every stage using it. */
  readonly version: string;
  readonly description: string;
  /** JSON Schema of the plugin's params; `default`s are filled in at validation. */
  readonly paramsSchema: JsonSchema;
}

export interface NestedPluginKind<P extends NestedPlugin = NestedPlugin> {
  /** Kind name, the value of `x-fairtune-plugin` in a stage's params schema: lower-case words joined by `-`. */
  readonly kind: string;
  /** Multi-injection token the plugins of this kind are bound to. */
  readonly token: ServiceIdentifier<P>;
  /** One line for `fairtune plugins`. */
  readonly description: string;
}

/** Packages that introduce a kind of nested plugin bind its descriptor here (core declares `training-strategy` itself). */
export const NESTED_PLUGIN_KIND: ServiceIdentifier<NestedPluginKind> = Symbol.for('@fairtune/core:NestedPluginKind');

/** Schema keyword marking a params property whose value is `{ "name": string, "params": object }` of a nested plugin kind. */
export const NESTED_PLUGIN_KEYWORD = 'x-fairtune-plugin';

/** The value at a nested-plugin property of a stage's params (after validation `params` holds every default). */
export interface NestedPluginRef<P extends JsonObject = JsonObject> {
  name: string;
  params: P;
}

/** A nested plugin a resolved stage uses; part of the stage's cache key. */
export interface NestedPluginUse {
  /** JSON pointer of the `{ name, params }` object within the stage's params, e.g. `/strategy`. */
  readonly pointer: string;
  readonly kind: string;
  readonly name: string;
  readonly version: string;
}

/**
 * The params-schema property for a nested plugin of `kind`: an object `{ name, params }` marked
 * with `x-fairtune-plugin`. With `default`, an absent property means `{ name: default, params: {} }`.
 */
export function nestedPluginParam(kind: string, options: { default?: string; description?: string } = {}): JsonSchema {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: { type: 'string', minLength: 1, description: `Name of a ${kind} plugin (listed by \`fairtune plugins\`).` },
      params: { type: 'object', default: {}, description: `Params of that ${kind}, checked against its schema; its defaults are filled in.` },
    },
    ...(options.default !== undefined ? { default: { name: options.default, params: {} } } : {}),
    description: options.description ?? `A ${kind} plugin: { "name": …, "params": { … } }.`,
    [NESTED_PLUGIN_KEYWORD]: kind,
  };
}

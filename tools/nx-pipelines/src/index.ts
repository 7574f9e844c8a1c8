/**
 * Local nx plugin: every `pipelines/<name>.json` becomes the target `pipelines:<name>`,
 * so a new pipeline file is runnable with `npx nx run pipelines:<name>` and no other edit.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createNodesFromFiles, type CreateNodes, type TargetConfiguration } from '@nx/devkit';

export interface PipelinesPluginOptions {
  /** CLI entry point relative to the workspace root. */
  runner?: string;
}

const NOT_PIPELINES = new Set(['package.json', 'project.json', 'tsconfig.json']);

export const createNodes: CreateNodes<PipelinesPluginOptions> = [
  'pipelines/*.json',
  (files, options, context) =>
    createNodesFromFiles(
      (file, opts) => {
        if (NOT_PIPELINES.has(basename(file))) return {};
        const root = dirname(file);
        const name = basename(file, '.json');
        const runner = opts?.runner ?? 'packages/core/dist/cli.js';
        let description = `Run pipeline ${name}`;
        try {
          const spec = JSON.parse(readFileSync(join(context.workspaceRoot, file), 'utf8')) as { description?: string; stages?: object; extends?: string; groups?: object };
          // A composed pipeline's stage count is known only after expansion (`fairtune validate` prints it).
          const composed = spec.extends !== undefined || spec.groups !== undefined || Object.values(spec.stages ?? {}).some((s) => s && typeof s === 'object' && 'matrix' in s);
          const count = spec.stages ? Object.keys(spec.stages).length : 0;
          description = `${spec.description ?? `Run pipeline ${name}`}${composed ? '' : ` (${count} stages)`}`;
        } catch {
          // An unparsable pipeline still gets a target: running it prints the validator's error with the JSON position.
        }
        const target: TargetConfiguration = {
          command: `node ${runner} run ${file}`,
          options: { cwd: '{workspaceRoot}' },
          dependsOn: ['^build'],
          // The framework's own content-addressed stage cache handles reuse; nx would copy checkpoints into .nx/cache.
          cache: false,
          metadata: { description, technologies: ['fairtune'] },
        };
        return { projects: { [root]: { targets: { [name]: target } } } };
      },
      files,
      options,
      context,
    ),
];

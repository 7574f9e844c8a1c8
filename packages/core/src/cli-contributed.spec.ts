import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './testing.js';
import { splitPluginOptions } from './cli-main.js';

describe('--plugin on contributed commands', () => {
  it('is taken out of the arguments, in both spellings', () => {
    expect(splitPluginOptions(['inspect', 'x', '--plugin', 'a', '--json', '--plugin=./b'])).toEqual({ plugins: ['a', './b'], rest: ['inspect', 'x', '--json'] });
    expect(() => splitPluginOptions(['inspect', '--plugin'])).toThrow(/--plugin needs a package name or path/);
  });

  it('loads the package before the command runs, so a command it contributes (or contributes to) is there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fairtune-contributed-'));
    // A module-like object (a second copy of inversify's ContainerModule is accepted by shape).
    writeFileSync(
      join(dir, 'plugin.mjs'),
      `export const containerModule = { id: 991, load: (o) => { o.bind(Symbol.for('@fairtune/core:CliCommand')).toConstantValue({
         name: 'echo-args', summary: 'prints its arguments', usage: 'echo-args …',
         run: async (argv, io) => { io.stdout.write(JSON.stringify(argv) + '\\n'); return 0; } }); } };\n`,
    );
    const without = await runCli(['echo-args', 'a'], { cwd: dir });
    expect(without.code).toBe(2);
    expect(without.err).toContain('unknown command "echo-args"');
    const r = await runCli(['echo-args', 'a', '--plugin', './plugin.mjs', '--json'], { cwd: dir });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual(['a', '--json']);
    const missing = await runCli(['echo-args', '--plugin', 'no-such-fairtune-package'], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/plugin package "no-such-fairtune-package" was not found/);
  });
});

/**
 * Offline figure rendering: Vega-Lite spec → Vega spec → headless View → SVG, written with its
 * .vl.json source next to it so a figure can be re-rendered or edited.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as vl from 'vega-lite';

export interface RenderedFigure {
  /** Logical file names (flat, inside the output directory). */
  readonly svg: string;
  readonly spec: string;
}

export async function renderVegaLite(spec: vl.TopLevelSpec): Promise<string> {
  // Loaded on first use: vega is heavy, and most CLI invocations never render a figure.
  // One after the other: jest's ESM linker fails on two concurrent imports sharing modules.
  const vega = await import('vega');
  const vegaLite = await import('vega-lite');
  const compiled = vegaLite.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Renders `spec` to `<dir>/<name>.svg` and writes `<dir>/<name>.vl.json`. */
export async function writeFigure(dir: string, name: string, spec: vl.TopLevelSpec): Promise<RenderedFigure> {
  const svg = await renderVegaLite(spec);
  writeFileSync(join(dir, `${name}.svg`), svg);
  writeFileSync(join(dir, `${name}.vl.json`), `${JSON.stringify(spec, null, 2)}\n`);
  return { svg: `${name}.svg`, spec: `${name}.vl.json` };
}

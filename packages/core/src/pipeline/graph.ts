/** Text and Mermaid renderings of a resolved pipeline's DAG (`fairtune graph`). */
import type { ResolvedPipeline } from './validate.js';

export function graphText(p: ResolvedPipeline): string {
  const lines: string[] = [`${p.spec.name}: ${p.stages.length} stages`];
  for (const s of p.stages) {
    lines.push(`${s.id} (${s.plugin.type})`);
    for (const b of s.inputs) for (const src of b.sources) lines.push(`  ${b.port} ← ${src.stage}.${src.output}`);
  }
  return lines.join('\n');
}

export function graphMermaid(p: ResolvedPipeline): string {
  const ids = new Map(p.stages.map((s, i) => [s.id, `s${i}`]));
  const lines = ['flowchart LR'];
  for (const s of p.stages) lines.push(`  ${ids.get(s.id)}["${s.id}<br/><small>${s.plugin.type}</small>"]`);
  for (const s of p.stages) {
    for (const b of s.inputs) for (const src of b.sources) {
      const label = src.output === b.port ? b.port : `${src.output} → ${b.port}`;
      lines.push(`  ${ids.get(src.stage)} -- "${label}" --> ${ids.get(s.id)}`);
    }
  }
  return lines.join('\n');
}

import { of } from 'rxjs';
import { artifact } from '../contracts/artifact.js';
import type { StageEvent, StagePlugin } from '../contracts/stage-plugin.js';
import { runStandalone } from '../testing.js';

const emitting = (events: StageEvent[]): StagePlugin => ({
  type: 'test.emit',
  version: '1',
  description: 'Emits fixed events.',
  paramsSchema: { type: 'object' },
  inputs: {},
  outputs: { out: { kind: 'metrics' } },
  run: () => of(...events),
});
const art = (kind: string) => ({ type: 'artifact' as const, port: 'out', artifact: artifact(kind, {}) });

describe('stage output rules', () => {
  it('rejects undeclared ports, wrong kinds, duplicates and missing outputs', async () => {
    await expect(runStandalone(emitting([{ type: 'artifact', port: 'other', artifact: artifact('metrics', {}) }]))).rejects.toThrow(
      'test.emit emitted an undeclared output "other" (outputs: out)',
    );
    await expect(runStandalone(emitting([art('report')]))).rejects.toThrow('test.emit output "out" is a report artifact, declared metrics');
    await expect(runStandalone(emitting([art('metrics'), art('metrics')]))).rejects.toThrow('test.emit emitted output "out" twice');
    await expect(runStandalone(emitting([]))).rejects.toThrow('test.emit finished without emitting output "out"');
    await expect(runStandalone(emitting([art('metrics')]))).resolves.toMatchObject({ outputs: { out: { kind: 'metrics' } } });
  });
});

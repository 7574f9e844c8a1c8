import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../test-utils/fixtures.js';
import { RunRecorder, type RunSummary } from './run-record.js';

const summaryOnDisk = (r: RunRecorder) => JSON.parse(readFileSync(join(r.runDir, 'summary.json'), 'utf8')) as RunSummary;
const end = (stageId: string, status: 'executed' | 'failed') => ({ type: 'stage-end' as const, stageId, status, key: `k-${stageId}`, pluginType: 't', seconds: 0, metrics: {}, time: Date.now() });

describe('run record', () => {
  it('appends every event at once but rewrites summary.json at most every interval, at once on a failure, and at the end', () => {
    const stages = Array.from({ length: 200 }, (_, i) => ({ id: `s${i}`, type: 't', key: `k-s${i}` }));
    const r = new RunRecorder(tempDir(), 'p', {}, {}, stages);
    for (const s of stages.slice(0, 150)) {
      r.handle({ type: 'stage-start', stageId: s.id, pluginType: 't', key: s.key, time: Date.now() });
      r.handle(end(s.id, 'executed'));
    }
    // Rewriting a 200-stage summary after each of 150 stages made runs quadratic: within one
    // interval, at most the first change is on disk.
    const mid = summaryOnDisk(r);
    expect(mid.counts.executed).toBeLessThanOrEqual(1);
    expect(readFileSync(join(r.runDir, 'events.jsonl'), 'utf8').trim().split('\n')).toHaveLength(300);
    r.handle(end('s150', 'failed'));
    expect(summaryOnDisk(r).counts).toMatchObject({ executed: 150, failed: 1 });
    r.handle({ type: 'run-end', status: 'failed', failedStage: 's150', time: Date.now() });
    expect(summaryOnDisk(r)).toMatchObject({ status: 'failed', failedStage: 's150' });
  });
});

import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, symlinkSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PpgGptModelStage } from './model-ppg-gpt.js';
import { VitModelStage } from './model-vit.js';

describe('weights file fingerprint of the model stages', () => {
  it('changes when the file at the same path is replaced, and is absent without a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ft-weights-'));
    const file = join(dir, 'w.safetensors');
    // Only `weights` matters to the fingerprint; the other params are irrelevant here.
    const stages = [new PpgGptModelStage(), new VitModelStage()] as unknown as { fingerprint(p: { weights?: string }): string | undefined }[];
    for (const stage of stages) {
      writeFileSync(file, Buffer.alloc(16, 1));
      utimesSync(file, 1_700_000_000, 1_700_000_000);
      const before = stage.fingerprint({ weights: file });
      expect(stage.fingerprint({ weights: file })).toBe(before);
      // Another checkpoint converted to the same name: same path, other size and time.
      writeFileSync(file, Buffer.alloc(32, 2));
      utimesSync(file, 1_700_000_100, 1_700_000_100);
      expect(stage.fingerprint({ weights: file })).not.toBe(before);
      expect(stage.fingerprint({})).toBeUndefined();
      expect(() => stage.fingerprint({ weights: join(dir, 'missing.safetensors') })).toThrow(/missing\.safetensors: cannot read \(ENOENT\)/);
      expect(() => stage.fingerprint({ weights: join(dir, 'missing.safetensors') })).toThrow(expect.objectContaining({ code: 'FT_DATA_MISSING', about: { file: join(dir, 'missing.safetensors') } }));
      expect(() => stage.fingerprint({ weights: dir })).toThrow(expect.objectContaining({ code: 'FT_DATA_MISSING', message: expect.stringMatching(/is not a file$/) }));
    }
    // Present but unreadable (a link to itself): the path cannot be fingerprinted.
    const loop = join(dir, 'loop.safetensors');
    symlinkSync(loop, loop);
    for (const stage of stages) {
      expect(() => stage.fingerprint({ weights: loop })).toThrow(expect.objectContaining({ code: 'FT_FINGERPRINT', message: expect.stringMatching(/loop\.safetensors: cannot read \(ELOOP\)$/) }));
    }
  });
});

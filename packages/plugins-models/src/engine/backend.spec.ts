import { initEngine, requestedBackend, tensorBackend } from './backend.js';

describe('backend selection', () => {
  const saved = process.env['FAIRTUNE_BACKEND'];
  afterEach(() => {
    if (saved === undefined) delete process.env['FAIRTUNE_BACKEND'];
    else process.env['FAIRTUNE_BACKEND'] = saved;
  });

  it('reads FAIRTUNE_BACKEND and rejects unknown names', () => {
    process.env['FAIRTUNE_BACKEND'] = 'CPU';
    expect(requestedBackend()).toBe('cpu');
    expect(requestedBackend('wasm')).toBe('wasm');
    process.env['FAIRTUNE_BACKEND'] = 'cuda';
    expect(() => requestedBackend()).toThrow(/unknown tensor backend "cuda" \(from FAIRTUNE_BACKEND\)/);
    // From the environment: choose another backend; from a stage param: change the param.
    expect(() => requestedBackend()).toThrow(expect.objectContaining({ code: 'FT_BACKEND_UNAVAILABLE' }));
    expect(() => requestedBackend('cuda')).toThrow(expect.objectContaining({ code: 'FT_PARAM_INVALID', about: { param: 'backend' } }));
  });

  it('auto skips the absent native packages, says why, and lands on wasm', async () => {
    const info = await initEngine('auto');
    expect(info.backend).toBe('wasm');
    expect(info.skipped).toEqual(['@tensorflow/tfjs-node-gpu is not installed', '@tensorflow/tfjs-node is not installed']);
    expect(tensorBackend()).toBe('wasm');
  });

  it('an explicit request that cannot be met is an error, not a silent fallback', async () => {
    await expect(initEngine('node')).rejects.toThrow(/"node" was requested but is not available: @tensorflow\/tfjs-node is not installed/);
    await expect(initEngine('node')).rejects.toMatchObject({ code: 'FT_BACKEND_UNAVAILABLE' });
    await expect(initEngine('webgpu')).rejects.toThrow(/"webgpu" was requested but is not available: webgpu is not installed/);
    // cpu can be switched to explicitly and back.
    expect((await initEngine('cpu')).backend).toBe('cpu');
    expect(tensorBackend()).toBe('cpu');
    expect((await initEngine('wasm')).backend).toBe('wasm');
  });
});

/** Names of the tensor backends a stage may ask for (kept free of TensorFlow.js so schemas load fast). */
export type BackendRequest = 'auto' | 'tensorflow' | 'node-gpu' | 'node' | 'wasm' | 'cpu' | 'webgpu';
export const BACKEND_REQUESTS: readonly BackendRequest[] = ['auto', 'tensorflow', 'node-gpu', 'node', 'wasm', 'cpu', 'webgpu'];

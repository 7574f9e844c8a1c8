/**
 * Run in a child process by wasm-threads.spec.ts and wasm-gemm-kernels.spec.ts (the thread count
 * and FAIRTUNE_WASM_GEMM are read when the engine starts, once per process): starts the wasm
 * engine, trains a small two-layer network for 5 seeded steps and takes the fused attention
 * kernel's gradient, then prints the engine's detail, a hash of every result and the number of
 * products the GEMM ran as one JSON line. It must exit by itself (the pool threads are unref'd).
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../backend.js';
import { attention } from '../fused-kernels.js';
import { wasmGemmCounts } from '../wasm-gemm-kernels.js';

const info = await initEngine('wasm');
const x = tf.randomNormal([248, 128], 0, 1, 'float32', 1);
const y = tf.randomNormal([248, 128], 0, 1, 'float32', 2);
const w1 = tf.variable(tf.randomNormal([128, 512], 0, 0.05, 'float32', 3));
const w2 = tf.variable(tf.randomNormal([512, 128], 0, 0.05, 'float32', 4));
const losses: number[] = [];
for (let i = 0; i < 5; i++) {
  const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(tf.matMul(tf.relu(tf.matMul(x, w1)), w2), y))) as tf.Scalar, [w1, w2]);
  losses.push(value.dataSync()[0]!);
  tf.tidy(() => {
    w1.assign(tf.sub(w1, tf.mul(grads[w1.name]!, 0.5)));
    w2.assign(tf.sub(w2, tf.mul(grads[w2.name]!, 0.5)));
  });
}
const hash = createHash('sha256').update(new Float64Array(losses)).update(w1.dataSync()).update(w2.dataSync());
const qkv = tf.randomNormal([2 * 16, 3 * 64], 0, 1, 'float32', 7);
const grad = tf.grad((q: tf.Tensor) => tf.sum(attention(q as tf.Tensor2D, { batch: 2, seq: 16, heads: 4, ropeTheta: 10000, causal: true, dropout: 0.1, seed: 3 })))(qkv);
hash.update(grad.dataSync());
console.log(JSON.stringify({ detail: info.detail, hash: hash.digest('hex'), gemm: wasmGemmCounts().gemm }));

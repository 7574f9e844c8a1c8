/**
 * JSON-schema fragments of the model stages. This module and the stage classes import no
 * tensor code: TensorFlow.js loads when a model stage runs, not when the CLI lists or validates.
 */
import { BACKEND_REQUESTS } from '../engine/backend-names.js';

export const backendParam = {
  type: 'string',
  enum: BACKEND_REQUESTS,
  description: 'Tensor backend; default: FAIRTUNE_BACKEND, else auto (tfjs-node-gpu > tfjs-node > wasm > cpu).',
};

export const seedParam = { type: 'integer', description: 'Seed for initialisation, order and dropout; default: the stage seed.' };

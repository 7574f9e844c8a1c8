/** PPG-GPT weights files: the shared safetensors reader/writer (io/safetensors.ts). */
export { readSafetensors, writeSafetensors, type SafetensorsFile } from '../io/safetensors.js';

/**
 * On-disk form of one artifact (documented in docs/artifacts.md):
 *
 *   manifest.json   { format: "fairtune-artifact/1", kind, meta, arrays: { name: { dtype, shape, offset, byteLength } }, files: { name: "files/<name>" } }
 *   arrays.bin      every array's bytes, little-endian, each starting at an 8-byte aligned offset
 *   files/<name>    the artifact's files, copied verbatim
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { type Artifact, type DType, type NdArray, bytesPerElement, typedArrayConstructor, type JsonValue } from '../contracts/artifact.js';
import { FairtuneError } from '../contracts/errors.js';

export const ARTIFACT_FORMAT = 'fairtune-artifact/1';

interface ArrayEntry {
  dtype: DType;
  shape: number[];
  offset: number;
  byteLength: number;
}

export interface ArtifactManifest {
  format: string;
  kind: string;
  meta: JsonValue;
  arrays: Record<string, ArrayEntry>;
  files: Record<string, string>;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Writes an artifact into `dir` (which must exist and be empty). Returns the files written, relative to `dir`. */
export function writeArtifact(dir: string, a: Artifact): string[] {
  if (!LITTLE_ENDIAN) throw new Error('FairTune-TS artifacts are little-endian; big-endian hosts are not supported');
  const entries: Record<string, ArrayEntry> = {};
  let offset = 0;
  const chunks: Uint8Array[] = [];
  for (const [name, arr] of Object.entries(a.arrays)) {
    const count = arr.shape.reduce((x, y) => x * y, 1);
    if (count !== arr.data.length) throw new FairtuneError('FT_OUTPUT_CONTRACT', `${a.kind} array "${name}": shape [${arr.shape.join(', ')}] does not match ${arr.data.length} elements`, { port: name });
    const pad = (8 - (offset % 8)) % 8;
    if (pad) chunks.push(new Uint8Array(pad));
    offset += pad;
    const bytes = new Uint8Array(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength);
    chunks.push(bytes);
    entries[name] = { dtype: arr.dtype, shape: [...arr.shape], offset, byteLength: bytes.byteLength };
    offset += bytes.byteLength;
  }
  const written = ['manifest.json'];
  if (chunks.length) {
    writeFileSync(join(dir, 'arrays.bin'), Buffer.concat(chunks));
    written.push('arrays.bin');
  }
  const files: Record<string, string> = {};
  if (Object.keys(a.files).length) mkdirSync(join(dir, 'files'));
  for (const [name, path] of Object.entries(a.files)) {
    if (name !== basename(name) || name.startsWith('.')) throw new FairtuneError('FT_OUTPUT_CONTRACT', `${a.kind} artifact file name "${name}" must be a plain file name`);
    copyFileSync(path, join(dir, 'files', name));
    files[name] = `files/${name}`;
    written.push(`files/${name}`);
  }
  const manifest: ArtifactManifest = { format: ARTIFACT_FORMAT, kind: a.kind, meta: a.meta as JsonValue, arrays: entries, files };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return written;
}

export function readArtifact(dir: string): Artifact {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ArtifactManifest;
  if (manifest.format !== ARTIFACT_FORMAT) throw new Error(`${dir}: unknown artifact format ${String(manifest.format)}`);
  const arrays: Record<string, NdArray> = {};
  const names = Object.keys(manifest.arrays);
  if (names.length) {
    const file = readFileSync(join(dir, 'arrays.bin'));
    // Typed array views need aligned offsets; Node may hand back a pooled, unaligned buffer.
    const buffer = file.byteOffset % 8 === 0 ? file.buffer : new Uint8Array(file).buffer;
    const base = file.byteOffset % 8 === 0 ? file.byteOffset : 0;
    for (const name of names) {
      const e = manifest.arrays[name]!;
      const Ctor = typedArrayConstructor(e.dtype) as unknown as new (b: ArrayBufferLike, offset: number, length: number) => NdArray['data'];
      const data = new Ctor(buffer, base + e.offset, e.byteLength / bytesPerElement(e.dtype));
      arrays[name] = { dtype: e.dtype, shape: e.shape, data } as NdArray;
    }
  }
  const files: Record<string, string> = {};
  for (const [name, rel] of Object.entries(manifest.files)) files[name] = join(dir, rel);
  return { kind: manifest.kind, meta: manifest.meta, arrays, files };
}

/**
 * Loading pickles: pickleparser drives the opcodes, StreamReader supplies bytes lazily,
 * numpyRegistry rebuilds arrays. `openPickle` keeps the file open so chosen arrays can be
 * materialised; everything else (e.g. DaLiA chest signals) is never read into memory.
 */
import { existsSync, statSync } from 'node:fs';
import { Parser } from 'pickleparser';
import { numpyRegistry, PickledNdArray } from './numpy.js';
import { ByteRef, PickleError, StreamReader, bufferSource, fileSource, type ByteSource } from './stream-reader.js';

export interface PickleDocument {
  readonly root: unknown;
  /** Bytes in the pickle. */
  readonly size: number;
  close(): void;
}

function parse(source: ByteSource): unknown {
  const reader = new StreamReader(source);
  const parser = new Parser({ nameResolver: numpyRegistry(source.name), unpicklingTypeOfDictionary: 'object' });
  try {
    return parser.read(reader as never);
  } catch (err) {
    if (err instanceof PickleError) throw err;
    const msg = err instanceof Error ? err.message : String(err);
    if (/end of file|more bytes/i.test(msg)) {
      throw new PickleError(source.name, `truncated pickle: ${msg} (at byte ${reader.position} of ${source.size})`);
    }
    throw new PickleError(source.name, `corrupt pickle: ${msg} (at byte ${reader.position} of ${source.size})`);
  }
}

/** Parses a pickle file; arrays stay lazy until `toTyped()`; call `close()` when done. */
export function openPickle(path: string): PickleDocument {
  if (!existsSync(path)) throw new PickleError(path, 'file not found', 'FT_DATA_MISSING');
  if (statSync(path).size === 0) throw new PickleError(path, 'empty file is not a pickle');
  const source = fileSource(path);
  try {
    return { root: parse(source), size: source.size, close: () => source.close() };
  } catch (err) {
    source.close();
    throw err;
  }
}

/** Parses from any byte source (tests use this to count the bytes actually read). */
export function parsePickleSource(source: ByteSource): unknown {
  return parse(source);
}

export function parsePickleBuffer(buf: Uint8Array, name = '<buffer>'): unknown {
  return parse(bufferSource(buf, name));
}

export function isNdArray(v: unknown): v is PickledNdArray {
  return v instanceof PickledNdArray;
}

/** A dict value as a string (py2 str, unicode or a big lazily read string). */
export function pyString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v instanceof ByteRef) return v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('latin1');
  return undefined;
}

export { PickleError, PickledNdArray };

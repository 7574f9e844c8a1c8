/** JSON pointers (RFC 6901) into pipeline files. */

export function escapePointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

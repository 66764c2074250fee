/**
 * The one ordering used for everything these files sort (input keys, src matches, CIDs): UTF-8
 * byte order. It is what UnixFS uses for directory entries and, unlike localeCompare or UTF-16
 * code-unit order, gives the same answer on every machine and for every character.
 */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

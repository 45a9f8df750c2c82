import { renameSync, writeFileSync } from 'node:fs';

/**
 * Writes a file so that readers see either the old content or the complete new one, never a
 * partial file: write a temporary sibling, then rename it over the target (atomic on POSIX).
 */
export function writeFileAtomic(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

import { mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** The file-system calls a write makes (tests replace them to fail like a full or vanished disk). */
export interface WriteFs {
  mkdirSync: (path: string) => void;
  writeFileSync: (path: string, content: string) => void;
  renameSync: (from: string, to: string) => void;
  rmSync: (path: string) => void;
}

const nodeFs: WriteFs = {
  mkdirSync: (path) => mkdirSync(path),
  writeFileSync: (path, content) => writeFileSync(path, content),
  renameSync: (from, to) => renameSync(from, to),
  rmSync: (path) => rmSync(path, { force: true }),
};

/**
 * Creates a directory and its missing ancestors one level at a time. Not `mkdirSync(dir,
 * { recursive: true })`: on Node 20 that never returns for a path under /proc (mkdir keeps failing
 * with ENOENT and the recursion retries forever); here each missing level is tried once.
 */
export function makeDirs(dir: string, fs: WriteFs = nodeFs): void {
  const missing: string[] = [];
  let d = dir;
  for (;;) {
    const st = statSync(d, { throwIfNoEntry: false });
    if (st !== undefined) break;
    missing.push(d);
    const parent = dirname(d);
    if (parent === d) break;
    d = parent;
  }
  for (const m of missing.reverse()) {
    try {
      fs.mkdirSync(m);
    } catch (error) {
      // Another writer may have made it meanwhile (two shards on one --out).
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/**
 * Writes a file so that readers see either the old content or the complete new one, never a
 * partial file: write a temporary sibling, then rename it over the target (atomic on POSIX). The
 * directory is created if needed (a report may name a directory that nothing has written yet). When
 * the write or the rename fails (a full disk, a directory removed meanwhile) the temporary file is
 * removed before the error is passed on, so a failed write leaves nothing behind.
 */
export function writeFileAtomic(path: string, content: string, fs: WriteFs = nodeFs): void {
  makeDirs(dirname(path), fs);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, content);
    fs.renameSync(tmp, path);
  } catch (error) {
    try {
      fs.rmSync(tmp);
    } catch {
      // Nothing more can be done about a file that cannot be removed; the write's error matters.
    }
    throw error;
  }
}

/** The short reason a write failed, for a one-line message: the error code (ENOSPC) or the message. */
export function writeFailure(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}

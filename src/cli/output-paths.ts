import { randomBytes } from 'node:crypto';
import { realpathSync, statSync, unlinkSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from './args.ts';
import { writeFailure, writeFileAtomic, type WriteFs } from './atomic-write.ts';

/**
 * Every path a command will write is checked before any work starts, so that an hour's campaign does
 * not end in "cannot write": a bad output path is bad input (exit 2, one line naming the flag and
 * the path). What can still go wrong later (a full disk, a directory removed meanwhile) is collected
 * by `Outputs` and reported after the command's own output.
 */
export interface OutputPath {
  /** How the user named it: `--out`, `--results`, or `FILE` for a positional argument. */
  flag: string;
  path: string;
  /** A file that will be written (replaced), or a directory that files will be written into. */
  kind: 'file' | 'dir';
}

/** Virtual file systems: nothing a command writes belongs there, and Node's recursive mkdir never returns under /proc. */
const VIRTUAL = ['/proc', '/sys'];

function virtualRoot(abs: string): string | undefined {
  return VIRTUAL.find((v) => abs === v || abs.startsWith(`${v}/`));
}

/** stat, or undefined when nothing is there; a file in the middle of the path (ENOTDIR) also means nothing is there. */
function statOf(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}

/** Throws a UsageError naming the flag and the path when `p` cannot be written; returns nothing otherwise. */
export function checkOutputPath(p: OutputPath): void {
  const fail = (why: string): never => {
    throw new UsageError(`${p.flag} ${p.path}: ${why}`);
  };
  if (p.path === '') fail('an empty path');
  const abs = resolve(p.path);
  const root = virtualRoot(abs);
  if (root !== undefined) fail(`cannot write under ${root} (a virtual file system)`);
  let target: Stats | undefined;
  try {
    target = statOf(abs);
  } catch (error) {
    fail(`cannot be checked (${writeFailure(error)})`);
  }
  if (target !== undefined) {
    if (p.kind === 'file' && target.isDirectory()) fail('is a directory');
    if (p.kind === 'file' && !target.isFile()) fail('is not a regular file'); // a device or a pipe would be replaced by the rename
    if (p.kind === 'dir' && !target.isDirectory()) fail('is not a directory');
  }
  // The nearest directory that exists: the target directory itself, or the ancestor the missing ones will be created in.
  let existing = p.kind === 'dir' && target !== undefined ? abs : dirname(abs);
  let st: Stats | undefined;
  for (;;) {
    try {
      st = statOf(existing);
    } catch (error) {
      fail(`cannot be checked (${writeFailure(error)})`);
    }
    if (st !== undefined || dirname(existing) === existing) break;
    existing = dirname(existing);
  }
  if (st === undefined) fail('no directory of it exists');
  if (!st!.isDirectory()) fail(`${existing} is not a directory`);
  // A symbolic link may lead into /proc even when the path does not name it.
  let real = existing;
  try {
    real = realpathSync(existing);
  } catch {
    // The probe below reports what is wrong with a directory that cannot be resolved.
  }
  const realRoot = virtualRoot(real);
  if (realRoot !== undefined) fail(`cannot write under ${realRoot} (a virtual file system)`);
  // Permission bits say nothing for root or on a read-only mount: create a file and remove it.
  const probe = join(existing, `.hasim-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    writeFileSync(probe, '', { flag: 'wx' });
  } catch (error) {
    fail(`not writable (${writeFailure(error)} in ${existing})`);
  }
  try {
    unlinkSync(probe);
  } catch {
    // An empty probe file left behind is harmless; the directory was writable.
  }
}

/** Checks every output path, in order; the first bad one is the UsageError. */
export function checkOutputPaths(paths: ReadonlyArray<OutputPath | null | undefined | false>): void {
  for (const p of paths) if (p) checkOutputPath(p);
}

/**
 * The writes of one command: each is attempted on its own, and a failure is remembered rather than
 * thrown, so that one full disk does not cost the other files or the printed summary. After its
 * output the command reports `failure()` as one line and exits 2.
 */
export class Outputs {
  private readonly failed: string[] = [];

  constructor(private readonly fs?: WriteFs) {}

  /** Writes `content` to `path` atomically; returns whether it was written. */
  write(flag: string, path: string, content: string): boolean {
    try {
      writeFileAtomic(path, content, this.fs);
      return true;
    } catch (error) {
      this.failed.push(`${flag} ${path} (${writeFailure(error)})`);
      return false;
    }
  }

  /** Records a failure that happened elsewhere (a findings directory). */
  add(what: string): void {
    this.failed.push(what);
  }

  /** One line for every write that failed, or null when all were written. */
  failure(): string | null {
    return this.failed.length === 0 ? null : `could not write ${this.failed.join('; ')}`;
  }

  /** Throws the failure as a UsageError (exit 2), for commands that report errors through main. */
  throwIfFailed(): void {
    const f = this.failure();
    if (f !== null) throw new UsageError(f);
  }
}

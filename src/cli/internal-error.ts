import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';

/**
 * Exit codes are a contract (docs/cli.md): 2 is bad usage or bad input, which the user can fix; 3 is
 * a fault of hasim itself. These are the errors that mean bad input, by name so that the command
 * line does not load the modules that define them (`hasim version` loads almost nothing).
 */
const BAD_INPUT = new Set(['UsageError', 'TraceFileError', 'ConfigError']);

export function isBadInput(error: unknown): error is Error {
  return error instanceof Error && BAD_INPUT.has(error.name);
}

/** A message on one line: a stack or a multi-line message would break the one-line contract. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * Writes what is needed to report an internal error (the command line, versions, the stack with its
 * causes) to a file in the OS temp directory and returns the one line to print, which names it. The
 * stack goes to the file, not the terminal: a user sees one line and where the details are.
 */
export function internalErrorLine(error: unknown, argv: readonly string[], version: string, now: Date = new Date()): string {
  const message = oneLine(error instanceof Error ? error.message || error.name : String(error)) || 'unknown error';
  const file = join(tmpdir(), `hasim-internal-error-${now.toISOString().replace(/[:.]/g, '-')}-${process.pid}.txt`);
  const details = [
    `hasim ${version}: internal error`,
    `command: hasim ${argv.map(quote).join(' ')}`,
    `cwd: ${process.cwd()}`,
    `node ${process.version} on ${process.platform}-${process.arch}`,
    '',
    inspect(error, { depth: 6 }),
    '',
  ].join('\n');
  try {
    writeFileSync(file, details, { flag: 'wx' });
    return `internal error: ${message} (details in ${file}; please report it)`;
  } catch (writeError) {
    return `internal error: ${message} (the details could not be written to ${file}: ${(writeError as NodeJS.ErrnoException).code ?? 'unknown'}; please report it)`;
  }
}

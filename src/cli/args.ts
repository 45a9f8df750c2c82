import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { MS, SECOND, MINUTE, type Micros } from '../sim-cluster/time.ts';

/** Bad usage or bad input: reported as one line, exit code 2 (DESIGN.md contract). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Parses flags strictly: an unknown flag or a missing value is a UsageError naming it. */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T): ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: true }>> {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]!);
  }
}

const UNITS: Record<string, Micros> = { us: 1, ms: MS, s: SECOND, m: MINUTE, h: 60 * MINUTE };

/** Parses a duration such as `500ms`, `90s`, `10m` or `1h` into µs. */
export function parseDuration(flag: string, text: string): Micros {
  const m = /^(\d+)(us|ms|s|m|h)$/.exec(text);
  if (m === null) throw new UsageError(`--${flag}: expected a duration such as 500ms, 90s, 10m or 1h, got '${text}'`);
  return Number(m[1]) * UNITS[m[2]!]!;
}

/** Parses a non-negative safe integer flag value. */
export function parseCount(flag: string, text: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw new UsageError(`--${flag}: expected a non-negative integer, got '${text}'`);
  return Number(text);
}

/** Reads a JSON file named by a flag; an unreadable or malformed file is a UsageError naming both. */
export function readJsonFlag(flag: string, path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw new UsageError(`--${flag} ${path}: ${e.code !== undefined ? `cannot read (${e.code})` : `not valid JSON (${e.message})`}`);
  }
}

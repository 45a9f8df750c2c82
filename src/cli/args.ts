import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { MS, SECOND, MINUTE, type Micros } from '../sim-cluster/time.ts';

/** Bad usage or bad input: reported as one line, exit code 2 (DESIGN.md contract). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Parses flags strictly: an unknown flag or a missing value is a UsageError naming it. A negative
 * number after a flag that takes a value (`--seeds -5`) is that flag's value, so that the flag's own
 * check can say what is wrong with it: node:util's parser would read `-5` as an unknown short option.
 */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T): ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: true }>> {
  const valued = new Set(Object.entries(options).filter(([, o]) => o.type === 'string').map(([name]) => `--${name}`));
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      args.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    if (valued.has(a) && next !== undefined && /^-\d/.test(next)) {
      args.push(`${a}=${next}`);
      i++;
    } else args.push(a);
  }
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(flagMessage((error as Error).message.split('\n')[0]!));
  }
}

/** node:util's messages, made to read like the others (`--seeds: ...`). */
function flagMessage(message: string): string {
  const missing = /^Option '(-[^ ']+)(?: <value>)?' argument missing$/.exec(message);
  if (missing !== null) return `${missing[1]}: expects a value`;
  const ambiguous = /^Option '(-[^ ']+)' argument is ambiguous\.$/.exec(message);
  if (ambiguous !== null) return `${ambiguous[1]}: expects a value (to give one that starts with '-', write ${ambiguous[1]}=VALUE)`;
  const unknown = /^Unknown option '([^']+)'/.exec(message);
  if (unknown !== null) return `Unknown option '${unknown[1]}'`;
  const boolean = /^Option '(-[^ ']+)' does not take an argument$/.exec(message);
  if (boolean !== null) return `${boolean[1]}: takes no value`;
  return message;
}

const UNITS: Record<string, Micros> = { us: 1, ms: MS, s: SECOND, m: MINUTE, h: 60 * MINUTE };

/** Parses a duration such as `500ms`, `90s`, `10m` or `1h` into µs. */
export function parseDuration(flag: string, text: string): Micros {
  if (/^-\d/.test(text)) throw new UsageError(`--${flag}: must not be negative, got ${text}`);
  const m = /^(\d+)(us|ms|s|m|h)$/.exec(text);
  if (m === null) throw new UsageError(`--${flag}: expected a duration such as 500ms, 90s, 10m or 1h, got '${text}'`);
  return Number(m[1]) * UNITS[m[2]!]!;
}

/** Parses a non-negative safe integer flag value. */
export function parseCount(flag: string, text: string): number {
  if (/^-\d+$/.test(text)) throw new UsageError(`--${flag}: must be a non-negative integer, got ${text}`);
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

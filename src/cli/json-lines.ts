import { readFileSync } from 'node:fs';

/** Whether a parsed JSON value is an object (not an array, not null). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A file's text; one that cannot be read is bad input, reported through `bad` (which throws the
 * command's UsageError, so the message carries the command's prefix).
 */
export function readText(path: string, bad: (message: string) => never): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    return bad(`${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

/** The JSON objects of a JSON Lines file, each with where it is (`FILE:LINE`); a bad line is bad input. */
export function jsonLines(path: string, bad: (message: string) => never): Array<{ value: Record<string, unknown>; where: string }> {
  const out: Array<{ value: Record<string, unknown>; where: string }> = [];
  readText(path, bad).split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${path}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      bad(`${where}: not valid JSON (${(error as Error).message})`);
    }
    if (!isRecord(value)) bad(`${where}: expected a JSON object`);
    out.push({ value, where });
  });
  return out;
}

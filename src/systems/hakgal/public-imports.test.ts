import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

/**
 * The hakgal system is built on what the `hasim` package exports: every relative import of its
 * files lands in its own folder or on a package entry (src/index.ts, src/vitest.ts). Sources
 * import no package at all (fast-check comes as the entry's `fc`); tests may import vitest and
 * Node's own modules.
 */
const HERE = dirname(fileURLToPath(import.meta.url));
const SRC = resolve(HERE, '../..');
const ENTRIES = ['index.ts', 'vitest.ts'];

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : /\.ts$/.test(e.name) ? [join(dir, e.name)] : []));
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => (m[1] ?? m[2])!);
}

test('every import of src/systems/hakgal comes from the package entries or the system itself', () => {
  const all = files(HERE);
  expect(all.length).toBeGreaterThan(10);
  const wrong = all.flatMap((f) => imports(f).flatMap((spec) => {
    const where = relative(SRC, f);
    if (spec.startsWith('.')) {
      const target = relative(SRC, resolve(dirname(f), spec));
      return target.startsWith('systems/hakgal/') || ENTRIES.includes(target) ? [] : [`${where} imports ${spec}`];
    }
    const testOnly = spec === 'vitest' || spec.startsWith('node:');
    return f.endsWith('.test.ts') && testOnly ? [] : [`${where} imports the package ${spec}`];
  }));
  expect(wrong).toEqual([]);
});

test('the check sees imports: this file imports node:fs', () => {
  expect(imports(fileURLToPath(import.meta.url))).toContain('node:fs');
});

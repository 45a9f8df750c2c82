import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

/**
 * The layers read one way: kernel → contract (System contract, generic faults, monitor contract) →
 * systems → harness → CLI. A layer imports only from layers before it (and itself); the harness and
 * the kernel never import a system. Tests may reach across (they assemble whole runs).
 */
const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const LAYERS: Record<string, string[]> = {
  'sim-cluster': ['sim-cluster'],
  faults: ['sim-cluster', 'faults'],
  invariants: ['sim-cluster', 'invariants'],
  contract: ['sim-cluster', 'faults', 'invariants', 'contract'],
  systems: ['sim-cluster', 'faults', 'invariants', 'contract', 'systems'],
  harness: ['sim-cluster', 'faults', 'invariants', 'contract', 'harness'],
  cli: ['sim-cluster', 'faults', 'invariants', 'contract', 'systems', 'harness', 'cli'],
};

/**
 * Systems built only on the package entry (`src/index.ts`), as a system outside this repository
 * would be; each has a test of its own that checks it imports nothing else.
 */
const PUBLIC_ENTRY_SYSTEMS = ['systems/hakgal/'];
const onPublicEntry = (file: string): boolean => PUBLIC_ENTRY_SYSTEMS.some((dir) => relative(SRC, file).startsWith(dir));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'fixtures' ? [] : sources(path);
    return /\.(ts|mts|mjs)$/.test(e.name) && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** Every relative import of a source file, as the top-level folder of `src/` it lands in. */
function importedLayers(file: string): Array<{ spec: string; layer: string }> {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]!);
  return specs.map((spec) => {
    const target = relative(SRC, resolve(dirname(file), spec));
    return { spec, layer: target.includes('/') ? target.split('/')[0]! : target };
  });
}

describe('layering', () => {
  for (const [layer, allowed] of Object.entries(LAYERS)) {
    test(`${layer} imports only from ${allowed.join(', ')}`, () => {
      const files = sources(join(SRC, layer));
      expect(files.length).toBeGreaterThan(0);
      const wrong = files.flatMap((f) => importedLayers(f)
        .filter((i) => !allowed.includes(i.layer) && !(i.layer === 'index.ts' && onPublicEntry(f)))
        .map((i) => `${relative(SRC, f)} imports ${i.spec}`));
      expect(wrong).toEqual([]);
    });
  }

  test('the package entries sit on top: they may import every layer', () => {
    for (const entry of ['index.ts', 'vitest.ts']) {
      const layers = importedLayers(join(SRC, entry)).map((i) => i.layer);
      for (const l of layers) expect(Object.keys(LAYERS)).toContain(l);
    }
  });

  test('the CLI reaches systems only through their registry (src/systems/index.ts)', () => {
    const wrong = sources(join(SRC, 'cli')).flatMap((f) => importedLayers(f)
      .filter((i) => i.layer === 'systems' && relative(SRC, resolve(dirname(f), i.spec)) !== 'systems/index.ts')
      .map((i) => `${relative(SRC, f)} imports ${i.spec}`));
    expect(wrong).toEqual([]);
  });

  test('the harness and the kernel never name a system in code (comments may give examples)', () => {
    const code = (f: string) => readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    for (const layer of ['harness', 'sim-cluster', 'faults', 'invariants', 'contract']) {
      for (const f of sources(join(SRC, layer))) expect(code(f), relative(SRC, f)).not.toMatch(/systems\/|streamspace/i);
    }
  });
});

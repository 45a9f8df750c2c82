import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { SCHEMAS_DIR, schemaFiles } from '../../scripts/generate-schemas.ts';
import { DEFAULT_CONFIG } from '../systems/streamspace/config.ts';
import { streamspace } from '../systems/streamspace/system.ts';

/**
 * The JSON Schema files in schemas/ are generated from the valibot schemas that check the same
 * inputs at run time; regenerating them must give the committed files, so they cannot drift.
 */
describe('schemas/', () => {
  const generated = schemaFiles();

  test('regenerating gives the committed files (run `npm run schemas` after changing a schema)', () => {
    expect(readdirSync(SCHEMAS_DIR).sort()).toEqual(Object.keys(generated).sort());
    for (const [name, text] of Object.entries(generated)) expect(readFileSync(join(SCHEMAS_DIR, name), 'utf8'), name).toBe(text);
  });

  test('the config schema has every section and field of the configuration, with its bounds', () => {
    const schema = JSON.parse(generated['streamspace-config.schema.json']!);
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.additionalProperties).toBe(false);
    for (const [section, fields] of Object.entries(DEFAULT_CONFIG)) {
      const s = schema.properties[section];
      expect(s.additionalProperties, section).toBe(false);
      expect(Object.keys(s.properties).sort(), section).toEqual(Object.keys(fields).sort());
      // A --config file may give any field of a section.
      expect(s.required ?? [], section).toEqual([]);
    }
    expect(schema.properties.topology.properties.apiReplicas).toMatchObject({ type: 'integer', minimum: 1, maximum: 20 });
    expect(schema.properties.election.properties.jitterFactor).toMatchObject({ type: 'number', exclusiveMinimum: 0, maximum: 10 });
    // A nested object replaces the default whole: every field is required.
    expect(schema.properties.api.properties.hub.required.sort()).toEqual(Object.keys(DEFAULT_CONFIG.api.hub).sort());
  });

  test('the schedule schema has every fault kind with exactly its parameters', () => {
    const schema = JSON.parse(generated['streamspace-schedule.schema.json']!);
    const kinds = schema.items.oneOf as Array<{ properties: Record<string, unknown>; required: string[]; additionalProperties: boolean }>;
    expect(kinds.map((k) => (k.properties['kind'] as { const: string }).const)).toEqual(streamspace.faults.map((k) => k.kind));
    for (const [i, k] of kinds.entries()) {
      expect(k.additionalProperties).toBe(false);
      expect(k.required.sort()).toEqual(['kind', 'at', ...Object.keys(streamspace.faults[i]!.params)].sort());
    }
  });

  test('the trace file schema refers to the system\'s schedule and configurations', () => {
    const schema = JSON.parse(generated['trace-file.schema.json']!);
    expect(schema.properties.schedule.items).toEqual({ $ref: '#/$defs/fault' });
    expect(schema.properties.config).toEqual({ $ref: '#/$defs/overrides' });
    expect(schema.properties.expectations.items.properties.config).toEqual({ $ref: '#/$defs/config' });
    expect(schema.properties.expectations.items.properties.hash).toMatchObject({ type: 'string', pattern: '^[0-9a-f]{64}$' });
  });

  test('docs/trace-files.md gives a bound for every field of the configuration', () => {
    const doc = readFileSync(join(SCHEMAS_DIR, '..', 'docs', 'trace-files.md'), 'utf8');
    const table = doc.slice(doc.indexOf('### StreamSpace\'s configuration bounds'), doc.indexOf('## JSON Schemas for editors'));
    const missing: string[] = [];
    for (const [section, fields] of Object.entries(DEFAULT_CONFIG as unknown as Record<string, Record<string, unknown>>)) {
      for (const [field, value] of Object.entries(fields)) {
        const nested = typeof value === 'object' && value !== null && !Array.isArray(value) && field !== 'probes';
        const paths = nested ? Object.keys(value).map((f) => `${section}.${field}.${f}`) : [`${section}.${field}`];
        for (const path of paths) {
          const covered = table.includes(`\`${path}\``) || (section === 'fixes' && typeof value === 'boolean' && table.includes('`fixes.*`'))
            || (section === 'election' && table.includes(`\`${field}\``));
          if (!covered) missing.push(path);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  test('the package ships them', () => {
    const packed = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: join(SCHEMAS_DIR, '..'), encoding: 'utf8' })) as Array<{ files: Array<{ path: string }> }>;
    const files = packed[0]!.files.map((f) => f.path);
    for (const name of Object.keys(generated)) expect(files).toContain(`schemas/${name}`);
  });
});

// Writes the JSON Schema files in schemas/ (`npm run schemas`): a --config file of StreamSpace, a
// --schedule file of StreamSpace, a trace file, a coverage file (`hasim fuzz --coverage`) and a line
// of a runs file (`hasim report --runs`). They are converted from the same valibot schemas that check
// these files when they are read (src/faults/fault-kind.ts, src/systems/streamspace/config-schema.ts,
// src/harness/trace-file.ts, src/cli/coverage-file.ts, src/cli/report/runs-file.ts), and a test (src/harness/schema-files.test.ts) regenerates them and
// compares, so they cannot drift from the checks. `--check` only compares, exiting 1 on a difference.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { toJsonSchema, type ConversionConfig } from '@valibot/to-json-schema';
import type { GenericSchema } from 'valibot';
import { coverageFileSchema } from '../src/cli/coverage-file.ts';
import { runLineSchema } from '../src/cli/report/runs-file.ts';
import { faultSchema, scheduleSchema } from '../src/faults/fault-kind.ts';
import { invariantIds } from '../src/harness/run-case.ts';
import { traceFileSchema } from '../src/harness/trace-file.ts';
import { configSchema, overridesSchema } from '../src/systems/streamspace/config-schema.ts';
import { streamspace } from '../src/systems/streamspace/system.ts';

export const SCHEMAS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'schemas');

const CONVERSION: ConversionConfig = {
  target: 'draft-07',
  // A pipe that starts with a plain-object test (arrays are objects to valibot) is converted from
  // its object schema on.
  typeMode: 'output',
  errorMode: 'throw',
  // Rules between fields (min ≤ max, election timing, the horizon) and `finite` (JSON numbers
  // always are) have no JSON Schema form; the descriptions state the rules.
  ignoreActions: ['check', 'finite'],
  overrideSchema: ({ valibotSchema }) => (valibotSchema.type === 'custom' ? { type: 'object' } : undefined),
};

function file(title: string, schema: GenericSchema, definitions?: Record<string, GenericSchema>): string {
  const { $schema, ...rest } = toJsonSchema(schema, { ...CONVERSION, ...(definitions ? { definitions } : {}) }) as Record<string, unknown>;
  return `${JSON.stringify({ $schema, title, ...rest }, null, 2)}\n`;
}

/** Every file of schemas/, by name, as the current sources generate it. */
export function schemaFiles(): Record<string, string> {
  const system = streamspace;
  return {
    'streamspace-config.schema.json': file('StreamSpace configuration overrides (hasim --config)', overridesSchema()),
    'streamspace-schedule.schema.json': file('StreamSpace fault schedule (hasim run --schedule)', scheduleSchema(system.faults, system.roles)),
    'trace-file.schema.json': file('hasim trace file (StreamSpace)', traceFileSchema({
      system: system.name,
      fault: faultSchema(system.faults, system.roles),
      overrides: overridesSchema(),
      config: configSchema(),
      profiles: system.profiles.map((p) => p.name),
      fixes: system.fixes.map((f) => f.name),
      invariants: invariantIds(system),
    }), { fault: faultSchema(system.faults, system.roles), overrides: overridesSchema(), config: configSchema() }),
    'coverage-file.schema.json': file('hasim statechart coverage file (hasim fuzz --coverage)', coverageFileSchema()),
    'report-runs-line.schema.json': file('one line of a hasim report runs file (hasim report --runs; JSON Lines)', runLineSchema()),
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const check = process.argv.includes('--check');
  let stale = 0;
  mkdirSync(SCHEMAS_DIR, { recursive: true });
  for (const [name, text] of Object.entries(schemaFiles())) {
    const path = join(SCHEMAS_DIR, name);
    let current: string | null = null;
    try {
      current = readFileSync(path, 'utf8');
    } catch {
      current = null;
    }
    if (current === text) continue;
    stale++;
    if (check) process.stderr.write(`schemas/${name} is out of date: run npm run schemas\n`);
    else {
      writeFileSync(path, text);
      process.stdout.write(`wrote schemas/${name}\n`);
    }
  }
  if (check && stale > 0) process.exitCode = 1;
  else if (stale === 0) process.stdout.write('schemas/ is up to date\n');
}

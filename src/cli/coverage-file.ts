import { readFileSync } from 'node:fs';
import * as v from 'valibot';
import { boolean, integer, object, problemOf, shown, type Schema } from '../faults/schema.ts';
import { combineReach, type MachineReach } from '../harness/coverage.ts';
import type { CaseSpace } from '../harness/seeded-case.ts';
import type { CampaignCoverage } from './campaign/campaign.ts';

/**
 * The file `hasim fuzz --coverage FILE` writes (docs/coverage.md): per machine of the system, every
 * leaf state and transition with whether a seed reached it, how many seeds did and the lowest one.
 * One campaign (or one shard of it) per file; the files of a campaign's shards combine into the
 * campaign's (`combineCoverageFiles`), since shards run disjoint seeds.
 */

export const COVERAGE_FORMAT = 'hasim-coverage';
export const COVERAGE_VERSION = 1;

export interface CoverageFile {
  format: typeof COVERAGE_FORMAT;
  version: typeof COVERAGE_VERSION;
  system: string;
  /** The case space the seeds are cases of. */
  space: CaseSpace;
  /** The campaign's first seed. */
  seedStart: number;
  /** The shards whose seeds it counts (`K/N`), ascending; `1/1` for an unsharded campaign. */
  shards: string[];
  /** Seeds counted. */
  runs: number;
  /** Whether a campaign was interrupted: the seeds counted are fewer than it was asked for. */
  interrupted: boolean;
  machines: MachineReach[];
}

export class CoverageFileError extends Error {
  override readonly name = 'CoverageFileError';
}

/** The file of a campaign's (or a shard's) coverage. */
export function coverageFile(system: string, space: CaseSpace, seedStart: number, shard: string, coverage: CampaignCoverage, interrupted: boolean): CoverageFile {
  return { format: COVERAGE_FORMAT, version: COVERAGE_VERSION, system, space, seedStart, shards: [shard], runs: coverage.runs, interrupted, machines: coverage.machines };
}

/** The file's JSON: one state or transition per line, so that a change of coverage shows as the lines it changes. */
export function formatCoverageFile(file: CoverageFile): string {
  const lists: string[] = [];
  const marked = {
    ...file,
    machines: file.machines.map((m) => ({
      ...m,
      states: { ...m.states, list: `§list${lists.push(listText(m.states.list)) - 1}` },
      transitions: { ...m.transitions, list: `§list${lists.push(listText(m.transitions.list)) - 1}` },
    })),
  };
  let text = JSON.stringify(marked, null, 2);
  lists.forEach((l, i) => {
    text = text.replace(`"§list${i}"`, () => l);
  });
  return `${text}\n`;
}

function listText(items: readonly unknown[]): string {
  return items.length === 0 ? '[]' : `[\n${items.map((x) => `          ${JSON.stringify(x)}`).join(',\n')}\n        ]`;
}

const text = (doc: string): Schema => v.pipe(v.string((issue) => `must be a string, got ${shown(issue.input)}`), v.description(doc));
const count = (doc: string): Schema => integer(0, Number.MAX_SAFE_INTEGER, { doc });
const nullableSeed = v.pipe(v.nullable(integer(0, Number.MAX_SAFE_INTEGER)), v.description('the lowest seed that reached it; null when none did'));
const reach = {
  index: count('its index in the compiled machine'),
  reached: boolean('whether any seed reached it'),
  runs: count('seeds that reached it'),
  lowestSeed: nullableSeed,
};
const figures = (item: Schema, what: string): Schema => object({
  reached: count(`${what} reached`),
  total: count(`${what} in the definition`),
  list: v.pipe(v.array(item, (issue) => `must be an array, got ${shown(issue.input)}`), v.description(`every ${what.replace(/s$/, '')}, in the compiled machine's order`)),
});

/** The schema of a coverage file: what `readCoverageFile` checks, and schemas/coverage-file.schema.json. */
export function coverageFileSchema(): Schema {
  const state = object({ ...reach, id: text("the leaf state's id (xstate's: machine.parent.child)") }, { doc: 'a leaf state (a configuration the stepper can be in)' });
  const transition = object({
    ...reach,
    source: text('the state whose on/after declares it (the machine for the initial transition)'),
    target: v.pipe(v.nullable(v.string((issue) => `must be a state id or null, got ${shown(issue.input)}`)), v.description('the target state id; null for a targetless transition')),
    label: text('EVENT [guard] / actions, or after <delay>, as docs/machines.md labels it'),
  }, { doc: 'a transition of the definition (index 0 is the initial transition)' });
  const machine = object({
    id: text("the machine's id"),
    states: figures(state, 'leaf states'),
    transitions: figures(transition, 'transitions'),
  });
  return object({
    $schema: v.optional(text('the JSON Schema this file follows (for editors; ignored)')),
    format: v.pipe(v.literal(COVERAGE_FORMAT, (issue) => `not a hasim coverage file (format is ${shown(issue.input)}, expected "${COVERAGE_FORMAT}")`), v.description(`always "${COVERAGE_FORMAT}"`)),
    version: v.pipe(v.literal(COVERAGE_VERSION, (issue) => `must be ${COVERAGE_VERSION}, got ${shown(issue.input)}`), v.description('the format version')),
    system: text('the system the seeds ran'),
    space: v.pipe(v.record(v.string(), v.unknown(), (issue) => `must be an object (a case space), got ${shown(issue.input)}`), v.description('the case space: profile, deployment, fault kinds... as hasim fuzz was given it')),
    seedStart: count("the campaign's first seed"),
    shards: v.pipe(
      v.array(v.pipe(v.string(), v.regex(/^\d+\/\d+$/, (issue) => `must be K/N, got ${shown(issue.input)}`)), (issue) => `must be an array of shards (K/N), got ${shown(issue.input)}`),
      v.minLength(1, 'must name at least one shard'),
      v.description('the shards whose seeds it counts'),
    ),
    runs: count('seeds counted'),
    interrupted: boolean('whether a campaign was interrupted before its last seed'),
    machines: v.pipe(v.array(machine, (issue) => `must be an array of machines, got ${shown(issue.input)}`), v.description("per machine of the system (System.machines), in the system's order")),
  }, {
    doc: 'hasim fuzz --coverage FILE: statechart coverage of a campaign (docs/coverage.md)',
    notObject: 'expected a JSON object',
    unknown: () => 'unknown field (a coverage file has format, version, system, space, seedStart, shards, runs, interrupted, machines)',
  });
}

let schema: Schema | undefined;

/** Reads and checks a coverage file; throws CoverageFileError naming the file and the first problem. */
export function readCoverageFile(path: string): CoverageFile {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new CoverageFileError(`${path}: ${error instanceof SyntaxError ? `not valid JSON (${error.message})` : (error as Error).message}`);
  }
  const problem = problemOf(schema ??= coverageFileSchema(), data, '');
  if (problem !== null) throw new CoverageFileError(`${path}: ${problem}`);
  return data as CoverageFile;
}

/**
 * The coverage files of a campaign's shards as the campaign's: the same system, case space and first
 * seed, each shard once; per state and transition, the seeds that reached it added up and the
 * lowest seed the lowest of the shards'. Throws CoverageFileError on files that do not fit together.
 */
export function combineCoverageFiles(files: ReadonlyArray<{ path: string; file: CoverageFile }>): CoverageFile {
  if (files.length === 0) throw new CoverageFileError('no coverage files to combine');
  const [first, ...rest] = files;
  const f = first!.file;
  const seen = new Map<string, string>();
  for (const { path, file } of files) {
    const differs = (what: string, a: unknown, b: unknown): never => {
      throw new CoverageFileError(`${path}: ${what} ${shown(b)} differs from ${first!.path}'s ${shown(a)} (not a shard of the same campaign)`);
    };
    if (file.system !== f.system) differs('system', f.system, file.system);
    if (JSON.stringify(file.space) !== JSON.stringify(f.space)) differs('space', f.space, file.space);
    if (file.seedStart !== f.seedStart) differs('seedStart', f.seedStart, file.seedStart);
    for (const s of file.shards) {
      const before = seen.get(s);
      if (before !== undefined) throw new CoverageFileError(`${path}: shard ${s} is also in ${before}`);
      seen.set(s, path);
    }
  }
  let machines: MachineReach[];
  try {
    machines = combineReach(files.map((x) => x.file.machines));
  } catch (error) {
    throw new CoverageFileError(`${rest.map((x) => x.path).join(', ')}: ${(error as Error).message}`);
  }
  const shardOrder = (s: string): number[] => s.split('/').map(Number);
  const shards = [...seen.keys()].sort((a, b) => shardOrder(a)[1]! - shardOrder(b)[1]! || shardOrder(a)[0]! - shardOrder(b)[0]!);
  return { ...f, shards, runs: files.reduce((n, x) => n + x.file.runs, 0), interrupted: files.some((x) => x.file.interrupted), machines };
}

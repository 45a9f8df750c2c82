import { closeSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import * as v from 'valibot';
import { claimApplies, claimHolds } from '../../contract/scenario.ts';
import type { AnySystem } from '../../contract/system.ts';
import { integer, object, problemOf, shown, type Schema } from '../../faults/schema.ts';
import { makeDirs } from '../atomic-write.ts';
import { readText } from '../json-lines.ts';
import type { RunSummary } from './collect.ts';
import type { RunIdentity } from './identity.ts';

/**
 * A runs file (`hasim report --runs FILE`): JSON Lines, one finished run of a scenario per line,
 * appended as each run finishes, so that a report can be resumed, run in shards and built later
 * from the files (`hasim report --from`). A line holds what the report needs of the run (the
 * summary the report's tables and distributions are computed from), the claim verdicts for people
 * reading the file, and the identity of the code that ran it (identity.ts).
 */

export const RUNS_FORMAT = 'hasim-report-run';
export const RUNS_VERSION = 1;

export interface RunLine extends RunIdentity {
  format: typeof RUNS_FORMAT;
  version: typeof RUNS_VERSION;
  /** The git commit of the checkout that ran it (as the report states it). */
  commit: string;
  system: string;
  scenario: string;
  profile: string;
  seed: number;
  /** The seeds the command that ran it was asked for, first and last, over all its shards. */
  range: [number, number];
  outcome: string;
  hash: string;
  violations: Array<{ invariant: string; message: string }>;
  metrics: Record<string, number | null>;
  /** Per claim of the scenario, in its order: held (true), broken (false), or not judged (null: n/a, or no bound). */
  claims: Array<boolean | null>;
  coverage: Record<string, { states: number[]; transitions: number[] }>;
}

type Scenario = NonNullable<AnySystem['scenarios']>[number];

/** The line of one finished run. */
export function runLine(identity: RunIdentity & { commit: string; system: string; range: [number, number] }, scenario: Scenario, profile: string, run: RunSummary): RunLine {
  for (const [id, value] of Object.entries(run.metrics)) {
    // JSON would write null, and the report built from the file would then differ from the direct one.
    if (value !== null && !Number.isFinite(value)) throw new Error(`${scenario.name} seed ${run.seed} under ${profile}: metric ${id} is ${value}, which JSON cannot hold`);
  }
  const claims = scenario.claims.map((c) => {
    const held = claimHolds(c, run.metrics[c.metric ?? '']);
    return held === undefined || !claimApplies(c, run.metrics) ? null : held;
  });
  return {
    format: RUNS_FORMAT, version: RUNS_VERSION, hasim: identity.hasim, commit: identity.commit, system: identity.system,
    scenario: scenario.name, profile, seed: run.seed, range: identity.range, definition: identity.definition, seed0: identity.seed0,
    outcome: run.outcome, hash: run.hash, violations: run.violations, metrics: run.metrics, claims, coverage: run.coverage,
  };
}

/** The summary the report reads of a line. */
export function summaryOf(line: RunLine): RunSummary {
  return { seed: line.seed, outcome: line.outcome, hash: line.hash, violations: line.violations, metrics: line.metrics, coverage: line.coverage };
}

const text = (doc: string): Schema => v.pipe(v.string((issue) => `must be a string, got ${shown(issue.input)}`), v.minLength(1, 'must not be empty'), v.description(doc));
const seed = (doc: string): Schema => integer(0, Number.MAX_SAFE_INTEGER, { doc });
const hex12 = (doc: string): Schema => v.pipe(v.string((issue) => `must be a string, got ${shown(issue.input)}`), v.regex(/^[0-9a-f]{12}$/, (issue) => `must be 12 hex digits, got ${shown(issue.input)}`), v.description(doc));
const indices = (doc: string): Schema => v.pipe(v.array(integer(0, Number.MAX_SAFE_INTEGER), (issue) => `must be an array of indices, got ${shown(issue.input)}`), v.description(doc));

/** The schema of one line: what `readRunsFile` checks, and schemas/report-runs.schema.json. */
export function runLineSchema(): Schema {
  return object({
    format: v.pipe(v.literal(RUNS_FORMAT, (issue) => `not a hasim runs file line (format is ${shown(issue.input)}, expected "${RUNS_FORMAT}")`), v.description(`always "${RUNS_FORMAT}"`)),
    version: v.pipe(v.literal(RUNS_VERSION, (issue) => `must be ${RUNS_VERSION}, got ${shown(issue.input)}`), v.description('the format version')),
    hasim: text('the hasim version that ran it (part of the identity: lines of another version are not mixed)'),
    commit: text('the git commit of the hasim checkout that ran it, as the report states it'),
    system: text('the system whose scenario ran'),
    scenario: text("the scenario's name (hasim list scenarios)"),
    profile: text('the profile it ran under'),
    seed: seed('the seed'),
    range: v.pipe(v.tuple([seed('first'), seed('last')], (issue) => `must be [first, last], got ${shown(issue.input)}`), v.description('the seeds the command that ran it was asked for, first and last, over all its shards')),
    definition: hex12("digest of the scenario's definition: name, report, summary, procedure, claims, metric definitions (identity)"),
    seed0: hex12("digest of seed 0's run of the scenario under the profile: trace hash, outcome, metrics (identity: the code that ran it)"),
    outcome: text('pass, model-failure, or the first invariant violated'),
    hash: text("the run's trace hash"),
    violations: v.pipe(v.array(object({ invariant: text('the invariant'), message: v.pipe(v.string((issue) => `must be a string, got ${shown(issue.input)}`), v.description('what was violated')) }), (issue) => `must be an array, got ${shown(issue.input)}`), v.description('every invariant the run violated, with its message')),
    metrics: v.pipe(v.record(v.string(), v.nullable(v.number((issue) => `must be a number or null, got ${shown(issue.input)}`)), (issue) => `must be an object, got ${shown(issue.input)}`), v.description("each metric of the scenario: its value, or null when it never happened")),
    claims: v.pipe(v.array(v.nullable(v.boolean((issue) => `must be true, false or null, got ${shown(issue.input)}`)), (issue) => `must be an array, got ${shown(issue.input)}`), v.description("per claim of the scenario, in its order: held, broken, or null when not judged (n/a, or no bound); for people: the report judges from the metrics")),
    coverage: v.pipe(v.record(v.string(), object({ states: indices('leaf states reached, by index'), transitions: indices('transitions taken, by index') }), (issue) => `must be an object, got ${shown(issue.input)}`), v.description('per statechart the run reached (docs/coverage.md)')),
  }, {
    doc: 'one line of a hasim report --runs file: one finished run of a scenario',
    notObject: 'expected a JSON object',
    unknown: () => 'unknown field (a runs file line has format, version, hasim, commit, system, scenario, profile, seed, range, definition, seed0, outcome, hash, violations, metrics, claims, coverage)',
  });
}

let schema: Schema | undefined;

/** A runs file read: its lines, each with where it is, and whether its last line was cut off mid-write. */
export interface RunsFileText {
  lines: Array<{ line: RunLine; where: string }>;
  /**
   * When the file ends in a line without its newline that is not JSON (a write cut off by a kill):
   * the length of what comes before it. The runs it would have held are missing, not corrupt.
   */
  tornAt: number | null;
}

/** Reads and checks the format of a runs file's lines; a malformed line is bad input through `bad`, naming FILE:LINE. */
export function readRunsFile(path: string, bad: (message: string) => never): RunsFileText {
  const content = readText(path, bad);
  const rows = content.split('\n');
  const lines: RunsFileText['lines'] = [];
  let tornAt: number | null = null;
  let offset = 0;
  rows.forEach((row, i) => {
    const start = offset;
    offset += Buffer.byteLength(row) + 1;
    if (row.trim() === '') return;
    const where = `${path}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(row);
    } catch (error) {
      if (i === rows.length - 1) {
        tornAt = start;
        return;
      }
      bad(`${where}: not valid JSON (${(error as Error).message})`);
    }
    const problem = problemOf(schema ??= runLineSchema(), value, '');
    if (problem !== null) bad(`${where}: ${problem}`);
    const line = value as RunLine;
    if (line.range[0] > line.range[1] || line.seed < line.range[0] || line.seed > line.range[1]) bad(`${where}: seed ${line.seed} is not in its range ${shown(line.range)}`);
    lines.push({ line, where });
  });
  return { lines, tornAt };
}

/**
 * Appends lines to a runs file, each with one write as its run finishes: a killed report loses the
 * runs in flight and nothing else. Opening it cuts off a torn last line (`tornAt`) and ends an
 * unterminated one, so that the next line starts on a line of its own.
 */
export class RunsFileWriter {
  private readonly fd: number;

  constructor(path: string, tornAt: number | null) {
    makeDirs(dirname(path));
    this.fd = openSync(path, 'a+');
    if (tornAt !== null) ftruncateSync(this.fd, tornAt);
    const size = fstatSync(this.fd).size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      readSync(this.fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) writeSync(this.fd, '\n');
    }
  }

  append(line: RunLine): void {
    writeSync(this.fd, `${JSON.stringify(line)}\n`);
  }

  close(): void {
    closeSync(this.fd);
  }
}

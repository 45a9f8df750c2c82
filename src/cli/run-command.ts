import { formatTime } from '../sim-cluster/index.ts';
import { caseForSeed } from '../faults/seeded-case.ts';
import { formatBound } from '../invariants/bounded-recovery.ts';
import { formatSchedule } from '../invariants/report.ts';
import { runCase, type Case } from '../invariants/run-case.ts';
import { formatTraceFile, TRACE_FORMAT, TRACE_VERSION, TraceFileError, validateSchedule } from '../invariants/trace-file.ts';
import { parseCount, parseFlags, readJsonFlag, UsageError } from './args.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { CASE_SPACE_FLAGS, CASE_SPACE_HELP, caseSpaceFrom } from './case-space-flags.ts';

export const RUN_HELP = `hasim run --seed S [flags]
  Runs one case and prints what happened: the schedule, the verdict, the recovery time and its bound.
  The case is the one \`hasim fuzz\` runs for seed S with the same flags, or seed S with your own
  schedule (--schedule).
${CASE_SPACE_HELP}
  --seed S            the seed (required)
  --schedule FILE     a JSON array of faults to use instead of the seed's generated schedule
  --save FILE         write the run as a trace file (replayable with hasim replay)
  --trace FILE        write every trace event as JSON Lines
  --json              print the verdict as one JSON object
  Exit 0 the run passed, 1 it violated an invariant (or the model failed).`;

function readSchedule(path: string): Case['schedule'] {
  const data = readJsonFlag('schedule', path);
  try {
    return validateSchedule(data, `--schedule ${path}`);
  } catch (error) {
    if (error instanceof TraceFileError) throw new UsageError(error.message);
    throw error;
  }
}

/** `hasim run`. */
export function runCommand(argv: string[], out: (line: string) => void): number {
  const { values, positionals } = parseFlags(argv, {
    ...CASE_SPACE_FLAGS,
    seed: { type: 'string' },
    schedule: { type: 'string' },
    save: { type: 'string' },
    trace: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (positionals.length > 0) throw new UsageError(`run: unexpected argument '${positionals[0]}'`);
  if (values.seed === undefined) throw new UsageError('run: --seed is required');
  const seed = parseCount('seed', values.seed);
  const space = caseSpaceFrom(values);
  const c: Case = values.schedule === undefined ? caseForSeed(space, seed) : { ...caseForSeed(space, seed), schedule: readSchedule(values.schedule) };
  const keepEvents = values.trace !== undefined;
  const v = runCase(c, { keepEvents });
  if (values.trace !== undefined) writeFileAtomic(values.trace, (v.events ?? []).map((e) => JSON.stringify(e)).join('\n') + '\n');
  if (values.save !== undefined) {
    writeFileAtomic(values.save, formatTraceFile({
      format: TRACE_FORMAT, version: TRACE_VERSION,
      name: `${v.outcome}-${c.profile}-seed-${seed}`,
      explanation: `saved by hasim run ${argv.join(' ')}`,
      config: c.config, seed, schedule: c.schedule,
      ...(c.invariants ? { invariants: [...c.invariants] } : {}),
      expectations: [{ profile: c.profile, outcome: v.outcome, hash: v.hash }],
    }));
  }
  if (values.json) {
    out(JSON.stringify({
      profile: c.profile, seed, schedule: c.schedule, outcome: v.outcome, violation: v.violation === null ? null : { invariant: v.violation.invariant, time: v.violation.time, message: v.violation.message },
      modelFailure: v.modelFailure, hash: v.hash, healAt: v.healAt, boundUs: v.boundUs, recoveryUs: v.recoveryUs, endAt: v.endAt, steps: v.steps,
    }));
    return v.outcome === 'pass' ? 0 : 1;
  }
  out(`profile ${c.profile}, seed ${seed}, ${c.schedule.length} faults (heal at ${formatTime(v.healAt)}):`);
  out(formatSchedule(c.schedule));
  out(`outcome: ${v.outcome}${v.violation ? ` at ${formatTime(v.violation.time)}` : ''}`);
  if (v.violation) out(`  ${v.violation.message}`);
  if (v.modelFailure) out(`  model failure: ${v.modelFailure}`);
  out(`recovery: ${v.recoveryUs === null ? 'never' : formatTime(v.recoveryUs)} after the heal; ${formatBound(v.bound)}`);
  out(`run ended at ${formatTime(v.endAt)} after ${v.steps} events; trace hash ${v.hash}`);
  if (values.save !== undefined) out(`saved: ${values.save} (npx hasim replay ${values.save})`);
  return v.outcome === 'pass' ? 0 : 1;
}

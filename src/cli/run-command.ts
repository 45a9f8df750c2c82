import { formatTime } from '../sim-cluster/index.ts';
import { caseForSeed } from '../harness/seeded-case.ts';
import { PROFILES } from '../systems/streamspace/profiles.ts';
import { findScenario, SCENARIOS } from '../systems/streamspace/scenarios/index.ts';
import { formatBound } from '../systems/streamspace/invariants/bounded-recovery.ts';
import { formatSchedule } from '../harness/report.ts';
import { runCase, type Case } from '../harness/run-case.ts';
import { formatTraceFile, TRACE_FORMAT, TRACE_VERSION, TraceFileError, validateSchedule } from '../harness/trace-file.ts';
import { parseCount, parseFlags, readJsonFlag, UsageError } from './args.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { CASE_SPACE_FLAGS, CASE_SPACE_HELP, caseSpaceFrom } from './case-space-flags.ts';
import { renderExplainHtml } from './explain/html.ts';
import { formatTimeline, runTimeline } from './explain/timeline.ts';

export const RUN_HELP = `hasim run --seed S [flags]
hasim run --scenario NAME [--seed S] [--profile P]
  Runs one case and prints what happened: the schedule, the verdict, the recovery time and its bound.
  The case is the one \`hasim fuzz\` runs for seed S with the same flags, or seed S with your own
  schedule (--schedule), or seed S of a named seed-report scenario (hasim list scenarios; seed 0 is
  the report's own procedure, profile streamspace-v2 unless given).
${CASE_SPACE_HELP}
  --seed S            the seed (required without --scenario)
  --scenario NAME     a named scenario instead of a campaign case
  --schedule FILE     a JSON array of faults to use instead of the seed's generated schedule
  --save FILE         write the run as a trace file (replayable with hasim replay)
  --trace FILE        write every trace event as JSON Lines
  --timeline          print the run's key events (faults, crashes, leadership, connections, the violation)
  --html FILE         write a self-contained HTML timeline of the run (as hasim explain does)
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
    scenario: { type: 'string' },
    schedule: { type: 'string' },
    save: { type: 'string' },
    trace: { type: 'string' },
    timeline: { type: 'boolean', default: false },
    html: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (positionals.length > 0) throw new UsageError(`run: unexpected argument '${positionals[0]}'`);
  if (values.scenario !== undefined) return runScenario(values, out);
  if (values.seed === undefined) throw new UsageError('run: --seed is required');
  const seed = parseCount('seed', values.seed);
  const space = caseSpaceFrom(values);
  const c: Case = values.schedule === undefined ? caseForSeed(space, seed) : { ...caseForSeed(space, seed), schedule: readSchedule(values.schedule) };
  const keepEvents = values.trace !== undefined || values.timeline;
  const v = runCase(c, { keepEvents });
  if (values.html !== undefined) {
    // Message events change the trace (and its hash), so the page's arrows come from a second run
    // with them on; the verdict shown is the normal run's.
    const events = runCase(c, { keepEvents: true, traceMessages: true }).events!;
    writeFileAtomic(values.html, renderExplainHtml({
      title: `${v.outcome} (${c.profile}, seed ${seed})`, events, schedule: c.schedule, verdict: v,
      notes: [`hasim run ${argv.join(' ')}`],
    }));
  }
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
  if (values.timeline) {
    out('timeline:');
    for (const line of formatTimeline(runTimeline(v.events!, v))) out(line);
  }
  if (values.save !== undefined) out(`saved: ${values.save} (npx hasim replay ${values.save})`);
  if (values.html !== undefined) out(`timeline page: ${values.html}`);
  return v.outcome === 'pass' ? 0 : 1;
}

/** The flags that only make sense for campaign cases. */
const CAMPAIGN_ONLY = ['fixes', 'config', 'faults', 'no-swarm', 'swarm', 'max-faults', 'invariants', 'schedule', 'save', 'timeline', 'html'] as const;

/** `hasim run --scenario NAME`: one seeded run of a seed-report scenario. */
function runScenario(values: Record<string, string | boolean | undefined>, out: (line: string) => void): number {
  const name = values['scenario'] as string;
  const scenario = findScenario(name);
  if (scenario === undefined) throw new UsageError(`--scenario: unknown scenario '${name}' (known: ${SCENARIOS.map((s) => s.name).join(', ')})`);
  for (const flag of CAMPAIGN_ONLY) {
    if (values[flag] !== undefined && values[flag] !== false) throw new UsageError(`--${flag} does not apply to --scenario runs`);
  }
  const seed = values['seed'] === undefined ? 0 : parseCount('seed', values['seed'] as string);
  const profile = (values['profile'] as string | undefined) ?? 'streamspace-v2';
  if (!(profile in PROFILES)) throw new UsageError(`--profile: unknown profile '${profile}' (known: ${Object.keys(PROFILES).join(', ')})`);
  const trace = values['trace'] as string | undefined;
  const r = scenario.run({ seed, profile, keepEvents: trace !== undefined });
  if (trace !== undefined) writeFileAtomic(trace, (r.events ?? []).map((e) => JSON.stringify(e)).join('\n') + '\n');
  if (values['json'] === true) {
    out(JSON.stringify({ scenario: r.name, seed, profile, outcome: r.outcome, violations: r.violations, metrics: r.metrics, hash: r.hash, schedule: r.schedule }));
    return r.outcome === 'pass' ? 0 : 1;
  }
  out(`scenario ${r.name} (seed report ${scenario.report}), seed ${seed}, profile ${profile}: ${scenario.summary}`);
  for (const line of r.lines) out(line);
  out(`outcome: ${r.outcome}; trace hash ${r.hash}`);
  return r.outcome === 'pass' ? 0 : 1;
}

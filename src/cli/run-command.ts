import { formatTime } from '../sim-cluster/index.ts';
import type { AnySystem } from '../contract/system.ts';
import { formatBound } from '../invariants/monitor.ts';
import { caseForSeed, resolveSeed } from '../harness/seeded-case.ts';
import { runScenario as runScenarioCase } from '../harness/scenario.ts';
import { formatSchedule } from '../harness/report.ts';
import { registryOf, runCase, type Case } from '../harness/run-case.ts';
import { faultEnd } from '../faults/apply.ts';
import { formatTraceFile, TRACE_FORMAT, TRACE_VERSION, TraceFileError, validateSchedule } from '../harness/trace-file.ts';
import { parseCount, parseFlags, readJsonFlag, UsageError } from './args.ts';
import { CASE_SPACE_FLAGS, caseSpaceFrom, systemFrom } from './case-space-flags.ts';
import { checkOutputPaths, Outputs } from './output-paths.ts';

export { RUN_HELP } from './help.ts';

function readSchedule(path: string, system: AnySystem): Case['schedule'] {
  const data = readJsonFlag('schedule', path);
  try {
    return validateSchedule(data, `--schedule ${path}`, system);
  } catch (error) {
    if (error instanceof TraceFileError) throw new UsageError(error.message);
    throw error;
  }
}

/** `hasim run`. */
export async function runCommand(argv: string[], out: (line: string) => void): Promise<number> {
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
  const { system, space } = caseSpaceFrom(values);
  const c: Case = values.schedule === undefined ? caseForSeed(system, space, seed) : { ...caseForSeed(system, space, seed), schedule: readSchedule(values.schedule, system) };
  // What the configuration was resolved from: the seed's deployment and the --config overrides on top.
  const configured = resolveSeed(system, space, seed);
  const deployment = c.deployment === undefined ? null : {
    name: c.deployment.name, perturbed: c.deployment.perturbed, describe: system.deployments?.describe(c.config) ?? '',
  };
  checkOutputPaths([
    values.save !== undefined && { flag: '--save', path: values.save, kind: 'file' },
    values.trace !== undefined && { flag: '--trace', path: values.trace, kind: 'file' },
    values.html !== undefined && { flag: '--html', path: values.html, kind: 'file' },
  ]);
  // Each file on its own; one that cannot be written is reported after the verdict (exit 2).
  const outputs = new Outputs();
  const keepEvents = values.trace !== undefined || values.timeline;
  const v = runCase(system, c, { keepEvents, measure: true });
  let pageWritten = false;
  if (values.html !== undefined) {
    // Message events change the trace (and its hash), so the page's arrows come from a second run
    // with them on; the verdict shown is the normal run's.
    const events = runCase(system, c, { keepEvents: true, traceMessages: true }).events!;
    // The page's renderer and the timeline load only when asked for: a plain run starts faster.
    const { renderExplainHtml } = await import('./explain/html.ts');
    pageWritten = outputs.write('--html', values.html, renderExplainHtml({
      system,
      title: `${v.outcome} (${c.profile}, seed ${seed})`, events, schedule: c.schedule, faultEnd: (f) => faultEnd(registryOf(system), f), verdict: v,
      notes: [`hasim run ${argv.join(' ')}`],
    }));
  }
  if (values.trace !== undefined) outputs.write('--trace', values.trace, (v.events ?? []).map((e) => JSON.stringify(e)).join('\n') + '\n');
  const saved = values.save !== undefined && outputs.write('--save', values.save, formatTraceFile({
    format: TRACE_FORMAT, version: TRACE_VERSION, system: system.name,
    name: `${v.outcome}-${c.profile}-seed-${seed}`,
    explanation: `saved by hasim run ${argv.join(' ')}`,
    config: configured.overrides, ...(space.fixes ? { fixes: [...space.fixes] } : {}), seed, schedule: c.schedule,
    ...(c.invariants ? { invariants: [...c.invariants] } : {}),
    expectations: [{ profile: c.profile, fixes: configured.resolved.fixes, config: c.config, outcome: v.outcome, hash: v.hash }],
  }));
  if (values.json) {
    out(JSON.stringify({
      profile: c.profile, ...(deployment === null ? {} : { deployment }), seed, schedule: c.schedule, outcome: v.outcome, violation: v.violation === null ? null : { invariant: v.violation.invariant, time: v.violation.time, message: v.violation.message },
      modelFailure: v.modelFailure, hash: v.hash, healAt: v.healAt, boundUs: v.boundUs, recoveryUs: v.recoveryUs, endAt: v.endAt, steps: v.steps,
      figures: Object.fromEntries(v.figures.map((f) => [f.id, f.value])),
    }));
    outputs.throwIfFailed();
    return v.outcome === 'pass' ? 0 : 1;
  }
  if (deployment !== null) out(`deployment ${deployment.name}${deployment.perturbed ? ', perturbed' : ''}: ${deployment.describe}`);
  out(`profile ${c.profile}, seed ${seed}, ${c.schedule.length} faults (heal at ${formatTime(v.healAt)}):`);
  out(formatSchedule(c.schedule));
  out(`outcome: ${v.outcome}${v.violation ? ` at ${formatTime(v.violation.time)}` : ''}`);
  if (v.violation) out(`  ${v.violation.message}`);
  if (v.modelFailure) out(`  model failure: ${v.modelFailure}`);
  out(`recovery: ${v.recoveryUs === null ? 'never' : formatTime(v.recoveryUs)} after the heal; ${formatBound(v.bound)}`);
  for (const f of v.figures) if (f.text !== '') out(f.text);
  out(`run ended at ${formatTime(v.endAt)} after ${v.steps} events; trace hash ${v.hash}`);
  if (values.timeline) {
    out('timeline:');
    const { formatTimeline, runTimeline } = await import('./explain/timeline.ts');
    for (const line of formatTimeline(runTimeline(system, v.events!, v))) out(line);
  }
  if (saved) out(`saved: ${values.save} (npx hasim replay ${values.save})`);
  if (pageWritten) out(`timeline page: ${values.html}`);
  outputs.throwIfFailed();
  return v.outcome === 'pass' ? 0 : 1;
}

/** The flags that only make sense for campaign cases. */
const CAMPAIGN_ONLY = ['deployment', 'fixes', 'config', 'faults', 'no-swarm', 'swarm', 'max-faults', 'invariants', 'schedule', 'save', 'timeline', 'html'] as const;

/** `hasim run --scenario NAME`: one seeded run of a seed-report scenario. */
function runScenario(values: Record<string, string | boolean | undefined>, out: (line: string) => void): number {
  const name = values['scenario'] as string;
  const system = systemFrom(values['system'] as string | undefined);
  const scenarios = system.scenarios ?? [];
  const scenario = scenarios.find((s) => s.name === name);
  if (scenario === undefined) throw new UsageError(`--scenario: unknown scenario '${name}' (known: ${scenarios.map((s) => s.name).join(', ') || `none for ${system.name}`})`);
  for (const flag of CAMPAIGN_ONLY) {
    if (values[flag] !== undefined && values[flag] !== false) throw new UsageError(`--${flag} does not apply to --scenario runs`);
  }
  const seed = values['seed'] === undefined ? 0 : parseCount('seed', values['seed'] as string);
  // Scenarios reproduce reports about the as-built system: its first profile unless one is given.
  const profiles = system.profiles.map((p) => p.name);
  const profile = (values['profile'] as string | undefined) ?? profiles[0]!;
  if (!profiles.includes(profile)) throw new UsageError(`--profile: unknown profile '${profile}' (known: ${profiles.join(', ')})`);
  const trace = values['trace'] as string | undefined;
  checkOutputPaths([trace !== undefined && { flag: '--trace', path: trace, kind: 'file' }]);
  const r = runScenarioCase(system, scenario, { seed, profile, keepEvents: trace !== undefined });
  const outputs = new Outputs();
  if (trace !== undefined) outputs.write('--trace', trace, (r.events ?? []).map((e) => JSON.stringify(e)).join('\n') + '\n');
  if (values['json'] === true) {
    out(JSON.stringify({ scenario: r.name, seed, profile, outcome: r.outcome, violations: r.violations, metrics: r.metrics, hash: r.hash, schedule: r.schedule }));
  } else {
    out(`scenario ${r.name} (seed report ${scenario.report}), seed ${seed}, profile ${profile}: ${scenario.summary}`);
    for (const line of r.lines) out(line);
    out(`outcome: ${r.outcome}; trace hash ${r.hash}`);
  }
  outputs.throwIfFailed();
  return r.outcome === 'pass' ? 0 : 1;
}

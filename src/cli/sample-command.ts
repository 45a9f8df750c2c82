import { buildSampleCluster } from '../sim-cluster/sample-cluster.ts';
import { formatTime, MINUTE } from '../sim-cluster/time.ts';
import { parseCount, parseDuration, parseFlags, UsageError } from './args.ts';
import { checkOutputPaths, Outputs } from './output-paths.ts';

export { SAMPLE_HELP } from './help.ts';

/** `hasim sample`: runs the kernel's sample cluster for one seed. */
export function sampleCommand(argv: string[], out: (line: string) => void): number {
  const { values, positionals } = parseFlags(argv, {
    seed: { type: 'string', default: '1' },
    duration: { type: 'string', default: '10m' },
    'no-faults': { type: 'boolean', default: false },
    trace: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (positionals.length > 0) throw new UsageError(`sample: unexpected argument '${positionals[0]}'`);
  const seed = parseCount('seed', values.seed);
  const duration = parseDuration('duration', values.duration);
  if (duration > 24 * 60 * MINUTE) throw new UsageError(`--duration: at most 24h, got '${values.duration}'`);
  checkOutputPaths([values.trace !== undefined && { flag: '--trace', path: values.trace, kind: 'file' }]);
  const sim = buildSampleCluster({ seed, trace: { keepEvents: values.trace !== undefined } }, { faults: !values['no-faults'] });
  const result = sim.run({ until: duration });
  const hash = sim.trace.hash();
  const outputs = new Outputs();
  if (values.trace !== undefined) outputs.write('--trace', values.trace, sim.trace.toJsonLines());
  const summary = { seed, duration, status: result.status, steps: result.steps, traceEvents: sim.trace.count, hash, failure: result.failure?.message };
  if (values.json) out(JSON.stringify(summary));
  else {
    out(`sample cluster, seed ${seed}, ${formatTime(duration)} simulated: ${result.status}`);
    out(`  ${result.steps} events, ${sim.trace.count} trace events`);
    out(`  trace hash ${hash}`);
    if (result.failure) out(`  model failure: ${result.failure.message}`);
  }
  outputs.throwIfFailed();
  return result.status === 'model-failure' ? 1 : 0;
}

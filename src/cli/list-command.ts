import { describeParams } from '../faults/fault-kind.ts';
import { SYSTEMS } from '../systems/index.ts';
import type { AnySystem } from '../contract/system.ts';
import { swarmDeployments } from '../harness/seeded-case.ts';
import { systemFrom } from './case-space-flags.ts';
import { parseFlags, UsageError } from './args.ts';

export { LIST_HELP } from './help.ts';

interface Item {
  name: string;
  summary: string;
  details?: string;
}

function sections(system: AnySystem): Record<string, Item[]> {
  const monitors = system.invariants(system.resolve(system.profiles[0]!.name).config);
  return {
    systems: SYSTEMS.map((s) => ({ name: s.name, summary: s.description })),
    profiles: system.profiles.map((p) => ({ name: p.name, summary: p.description })),
    deployments: deploymentItems(system),
    fixes: system.fixes.map((f) => ({ name: f.name, summary: f.change, details: `removes: ${f.removes.join(', ')}` })),
    faults: system.faults.map((k) => ({ name: k.kind, summary: k.summary, details: `parameters: at, ${describeParams(k)}${k.drawn === 'when-named' ? '; drawn only when named with --faults' : ''}` })),
    invariants: monitors.map((m) => ({ name: m.id, summary: m.definition })),
    scenarios: (system.scenarios ?? []).map((s) => ({ name: s.name, summary: `(seed report ${s.report}) ${s.summary}`, details: `metrics: ${s.metrics.map((m) => m.id).join(', ')}` })),
  };
}

/**
 * The named deployments, each with its overrides, then `swarm` with the ranges it perturbs them
 * within; none for a system without deployments. A deployment swarm mode does not draw
 * (`Deployment.inSwarm: false`) says so at the end of its summary, and `swarm` names the ones it draws.
 */
function deploymentItems(system: AnySystem): Item[] {
  const deployments = system.deployments;
  if (deployments === undefined) return [];
  return [
    ...deployments.named.map((d, i) => ({
      name: d.name,
      summary: `${d.description}${i === 0 ? ' (the defaults: the cases a space without a deployment runs)' : ''}`
        + (d.inSwarm === false ? ' (named only: swarm mode does not draw it)' : ''),
      details: `overrides: ${JSON.stringify(d.overrides)}`,
    })),
    {
      name: 'swarm',
      summary: `each seed draws one of ${swarmDeployments(deployments).map((d) => d.name).join(', ')} and perturbs it within these ranges: `
        + deployments.ranges.map((r) => `${r.what} ${r.range}`).join('; '),
      details: `why: ${deployments.ranges.map((r) => `${r.what}: ${r.why}`).join('; ')}`,
    },
  ];
}

/** `hasim list`. */
export function listCommand(argv: string[], out: (line: string) => void): number {
  const { values, positionals } = parseFlags(argv, { system: { type: 'string' }, json: { type: 'boolean', default: false } });
  const all = sections(systemFrom(values.system));
  const names = positionals.length === 0 ? Object.keys(all) : positionals;
  for (const n of names) {
    if (!(n in all)) throw new UsageError(`list: unknown section '${n}' (known: ${Object.keys(all).join(', ')})`);
  }
  if (values.json) {
    out(JSON.stringify(Object.fromEntries(names.map((n) => [n, all[n]]))));
    return 0;
  }
  for (const n of names) {
    out(`${n}:`);
    for (const item of all[n]!) {
      out(`  ${item.name}`);
      out(`      ${item.summary}`);
      if (item.details !== undefined) out(`      ${item.details}`);
    }
    out('');
  }
  return 0;
}

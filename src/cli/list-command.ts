import { resolveConfig } from '../systems/streamspace/config.ts';
import { DESIGN_FIXES, PROFILES } from '../systems/streamspace/profiles.ts';
import { ALL_FAULT_KINDS, FAULT_KINDS } from '../faults/fault-kinds.ts';
import { monitorsFor } from '../harness/run-case.ts';
import { SCENARIOS } from '../systems/streamspace/scenarios/index.ts';
import { parseFlags, UsageError } from './args.ts';

export const LIST_HELP = `hasim list [profiles|fixes|faults|invariants|scenarios] [--json]
  Lists what a campaign is made of: profiles, design fixes, fault kinds with their parameters,
  invariants with their definitions, and the seed-report scenarios (all sections when none is named).`;

interface Item {
  name: string;
  summary: string;
  details?: string;
}

function sections(): Record<string, Item[]> {
  const monitors = monitorsFor(resolveConfig().agent.startSessionUs[1]);
  return {
    profiles: Object.values(PROFILES).map((p) => ({ name: p.name, summary: p.description })),
    fixes: DESIGN_FIXES.map((f) => ({ name: f.name, summary: f.change, details: `removes: ${f.removes.join(', ')}` })),
    faults: ALL_FAULT_KINDS.map((k) => ({ name: k, summary: FAULT_KINDS[k].summary, details: `parameters: at, ${FAULT_KINDS[k].params}` })),
    invariants: monitors.map((m) => ({ name: m.id, summary: m.definition })),
    scenarios: SCENARIOS.map((s) => ({ name: s.name, summary: `(seed report ${s.report}) ${s.summary}`, details: `metrics: ${s.metrics.map((m) => m.id).join(', ')}` })),
  };
}

/** `hasim list`. */
export function listCommand(argv: string[], out: (line: string) => void): number {
  const { values, positionals } = parseFlags(argv, { json: { type: 'boolean', default: false } });
  const all = sections();
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

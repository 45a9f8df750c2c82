import type { AnyStateMachine } from 'xstate';
import { compileMachine, machineConfigJson, toMermaid } from '../sim-cluster/statechart/index.ts';
import { parseFlags, UsageError } from './args.ts';
import { systemFrom } from './case-space-flags.ts';

export { MACHINES_HELP } from './help.ts';

const FORMATS = ['mermaid', 'json'] as const;

/**
 * `hasim machines`: the statecharts of a system's components (System.machines), as Mermaid
 * `stateDiagram-v2` text or as the machine configs Stately's visualiser imports. Each machine is
 * compiled first, so a definition the stepper would refuse fails here too (an internal error: the
 * system's own definitions are wrong).
 */
export function machinesCommand(argv: string[], out: (line: string) => void): number {
  const { values, positionals } = parseFlags(argv, {
    system: { type: 'string' },
    machine: { type: 'string' },
    format: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (positionals.length > 0) throw new UsageError(`machines: unexpected argument '${positionals[0]}'`);
  const format = values.format ?? (values.json ? 'json' : 'mermaid');
  if (!(FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format: expected ${FORMATS.join(' or ')}, got '${format}'`);
  if (values.json && format !== 'json') throw new UsageError(`--json: contradicts --format ${format}`);
  const system = systemFrom(values.system);
  const all = system.machines ?? [];
  const chosen = values.machine === undefined ? all : all.filter((m) => m.id === values.machine);
  if (chosen.length === 0 && values.machine !== undefined) {
    throw new UsageError(`--machine: unknown machine '${values.machine}' of ${system.name} (known: ${all.map((m) => m.id).join(', ') || 'none'})`);
  }
  const compiled = chosen.map((m: AnyStateMachine) => compileMachine(m));
  if (format === 'json') {
    // One machine: its config alone, as Stately's visualiser takes it; else every one, by system.
    out(JSON.stringify(values.machine !== undefined ? machineConfigJson(chosen[0]!) : { system: system.name, machines: chosen.map(machineConfigJson) }));
    return 0;
  }
  if (compiled.length === 0) out(`%% ${system.name} declares no statecharts`);
  for (const [i, c] of compiled.entries()) {
    if (i > 0) out('');
    if (compiled.length > 1) out(`%% ${system.name}: ${c.id}`);
    out(toMermaid(c));
  }
  return 0;
}

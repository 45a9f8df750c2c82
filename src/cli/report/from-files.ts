import type { AnySystem } from '../../contract/system.ts';
import { UsageError } from '../args.ts';
import { RunStore } from './run-store.ts';
import { readRunsFile } from './runs-file.ts';

type Scenario = NonNullable<AnySystem['scenarios']>[number];

/** Bad input about the runs files: one line, exit 2. */
function bad(message: string): never {
  throw new UsageError(`report: ${message}`);
}

export interface FromFiles {
  store: RunStore;
  /** Files whose last line was cut off mid-write (its run counts as missing). */
  torn: string[];
}

/**
 * The runs of runs files (`hasim report --from FILE...`), checked line by line and against each
 * other (run-store.ts). Nothing is run: the report is built from what the files hold.
 */
export function readRunsFiles(files: readonly string[], version: string, system: AnySystem | undefined): FromFiles {
  const store = new RunStore(version, bad, system);
  const torn: string[] = [];
  for (const file of files) {
    const read = readRunsFile(file, bad);
    if (read.tornAt !== null) torn.push(file);
    for (const { line, where } of read.lines) store.add(line, where);
  }
  if (store.size === 0) bad(`--from: no runs in ${files.join(', ')}`);
  return { store, torn };
}

/** What the files hold, as the flags a report is asked for with: the defaults of `--from` for flags not given. */
export interface Present {
  /** The scenarios with runs, in the system's order. */
  scenarios: Scenario[];
  /** The profiles with runs: the report's default profiles first (in their order), then the system's order. */
  profiles: string[];
  /** The seeds the commands that ran them were asked for: the lowest first seed to the highest last one. */
  seedStart: number;
  seeds: number;
}

export function present(store: RunStore, system: AnySystem): Present {
  const lines = store.lines();
  const scenarios = (system.scenarios ?? []).filter((s) => lines.some((l) => l.scenario === s.name));
  const order = [...(system.scenarioReport?.defaultProfiles ?? []), ...system.profiles.map((p) => p.name)];
  const profiles = [...new Set(order)].filter((p) => lines.some((l) => l.profile === p));
  const first = lines.reduce((m, l) => Math.min(m, l.range[0]), Infinity);
  const last = lines.reduce((m, l) => Math.max(m, l.range[1]), -Infinity);
  return { scenarios, profiles, seedStart: first, seeds: last - first + 1 };
}

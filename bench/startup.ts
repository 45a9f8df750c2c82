import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './measure.ts';

const BIN = fileURLToPath(new URL('../bin/hasim.mjs', import.meta.url));

/** The commands measured side by side: bare Node as the floor, then the CLI's cheapest and a typical command. */
const COMMANDS: Array<[string, string[]]> = [
  ['node -e 0', ['-e', '0']],
  ['hasim version', [BIN, 'version']],
  // The seed-000 deployment: the case `hasim run --seed 0` ran before deployments were a swarm dimension.
  ['hasim run --seed 0', [BIN, 'run', '--seed', '0', '--deployment', 'seed-000']],
];

/**
 * CPU time (user + system, ms) of this process's reaped children, from /proc/self/stat (cutime and
 * cstime, in clock ticks of 10 ms). Node has no API for a child's rusage; a child's worker threads
 * and its own children are included once it has been waited for. Undefined off Linux.
 */
function childrenCpuMs(): number | undefined {
  let stat: string;
  try {
    stat = readFileSync('/proc/self/stat', 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the parenthesised command name (which may hold spaces): state is field 3, so
  // cutime (16) and cstime (17) are at 13 and 14 of the rest.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

/**
 * `cli.startup`: the cost of starting the `hasim` command, next to `node -e 0`. Each command runs
 * `repeats` times, the commands taking turns so that a change in the machine's load hits all of
 * them alike. wallMs is the median wall time of one run; cpuMs the mean CPU time of one run (the
 * mean, because the kernel counts CPU time in 10 ms ticks); ratioToNode is cpuMs over that of
 * `node -e 0`. Runs bin/hasim.mjs, so dist/ must be built (`npm run bench` builds it).
 */
export function benchCliStartup(repeats = 10): BenchResult[] {
  // Without the parent's NODE_OPTIONS: the children must start as a user's shell starts them.
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  const run = (args: string[]): { wallMs: number; cpuMs: number | undefined } => {
    const cpu0 = childrenCpuMs();
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    const wallMs = performance.now() - t0;
    const cpu1 = childrenCpuMs();
    if (r.status !== 0) throw new Error(`cli.startup: node ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
    return { wallMs, cpuMs: cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0 };
  };
  // One untimed round: the files are then in the page cache, as for every later run.
  for (const [, args] of COMMANDS) run(args);
  const walls = COMMANDS.map((): number[] => []);
  const cpus = COMMANDS.map((): number[] => []);
  for (let i = 0; i < repeats; i++) {
    COMMANDS.forEach(([, args], c) => {
      const r = run(args);
      walls[c]!.push(r.wallMs);
      if (r.cpuMs !== undefined) cpus[c]!.push(r.cpuMs);
    });
  }
  const cpuMs = cpus.map((xs) => (xs.length === 0 ? undefined : xs.reduce((a, b) => a + b, 0) / xs.length));
  return COMMANDS.map(([name], c) => {
    const sorted = [...walls[c]!].sort((a, b) => a - b);
    const result: BenchResult = { bench: `cli.startup (${name})`, events: 0, wallMs: Math.round(sorted[Math.floor(sorted.length / 2)]!), eventsPerMs: 0 };
    const cpu = cpuMs[c];
    const floor = cpuMs[0];
    if (cpu !== undefined) result['cpuMs'] = Math.round(cpu);
    if (c > 0 && cpu !== undefined && floor !== undefined && floor > 0) result['ratioToNode'] = Math.round((cpu / floor) * 10) / 10;
    return result;
  });
}

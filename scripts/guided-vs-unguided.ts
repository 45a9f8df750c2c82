/**
 * Guided against unguided campaigns, side by side (docs/coverage.md#guided-campaigns): for each
 * budget and campaign (a `--seed-start`), `hasim fuzz` of the as-built profile twice, without and
 * with `--guided`, and the distinct bugs triage found and the statechart transitions the seeds
 * reached in that wall time. The campaigns run one after the other, each on `--workers` threads, so
 * that the two sides of a row meet the same machine.
 *
 *   node --import tsx scripts/guided-vs-unguided.ts [--budgets 1m,2m,5m] [--starts 0,100000,200000]
 *     [--workers 1] [--profile streamspace-v2] [--out DIR] [-- <more hasim fuzz flags>]
 *
 * Prints one JSON line per campaign as it ends, then the table in Markdown.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { main } from '../src/cli/main.ts';

const { values, positionals } = parseArgs({
  options: {
    budgets: { type: 'string', default: '1m,2m,5m' },
    starts: { type: 'string', default: '0,100000,200000' },
    workers: { type: 'string', default: '1' },
    profile: { type: 'string', default: 'streamspace-v2' },
    out: { type: 'string', default: 'guided-vs-unguided' },
  },
  allowPositionals: true,
});

interface Row {
  budget: string;
  start: number;
  guided: boolean;
  seeds: number;
  bugs: number;
  /** Whether triage did everything its bounds allow within the budget. */
  triageComplete: boolean;
  invariants: number;
  transitions: string;
  corpus: number | null;
  mutatedSeeds: number | null;
}

interface Machine {
  transitions: { reached: number; total: number };
}

async function campaign(budget: string, start: number, guided: boolean): Promise<Row> {
  const dir = join(values.out, `${budget}-${start}-${guided ? 'guided' : 'unguided'}`);
  mkdirSync(dir, { recursive: true });
  const coverage = join(dir, 'coverage.json');
  const out: string[] = [];
  await main([
    'fuzz', '--profile', values.profile, '--budget', budget, '--seed-start', String(start), '--workers', values.workers,
    '--out', join(dir, 'findings'), '--coverage', coverage, '--results', join(dir, 'results.jsonl'), '--json',
    ...(guided ? ['--guided'] : []), ...positionals,
  ], (l) => out.push(l), () => undefined);
  const s = JSON.parse(out.join('\n')) as {
    seedsRun: number; bugs: unknown[] | null; triage: { complete: boolean } | null; invariants: unknown[];
    guided?: { corpus: number; mutatedSeeds: number };
  };
  const machines = (JSON.parse(readFileSync(coverage, 'utf8')) as { machines: Machine[] }).machines;
  const reached = machines.reduce((n, m) => n + m.transitions.reached, 0);
  const total = machines.reduce((n, m) => n + m.transitions.total, 0);
  return {
    budget, start, guided, seeds: s.seedsRun, bugs: s.bugs?.length ?? 0, triageComplete: s.triage?.complete ?? false,
    invariants: s.invariants.length, transitions: `${reached}/${total}`,
    corpus: s.guided?.corpus ?? null, mutatedSeeds: s.guided?.mutatedSeeds ?? null,
  };
}

const rows: Row[] = [];
for (const budget of values.budgets.split(',')) {
  for (const start of values.starts.split(',').map(Number)) {
    for (const guided of [false, true]) {
      const row = await campaign(budget, start, guided);
      rows.push(row);
      process.stdout.write(JSON.stringify(row) + '\n');
    }
  }
}

const cell = (r: Row | undefined): string => (r === undefined ? '—' : `${r.bugs}${r.triageComplete ? '' : '*'} bugs, ${r.transitions}, ${r.seeds} seeds`);
process.stdout.write('\n| budget | --seed-start | unguided | guided | corpus (mutated seeds) |\n|---|---|---|---|---|\n');
for (const r of rows.filter((x) => !x.guided)) {
  const g = rows.find((x) => x.guided && x.budget === r.budget && x.start === r.start);
  process.stdout.write(`| ${r.budget} | ${r.start} | ${cell(r)} | ${cell(g)} | ${g?.corpus ?? '—'} (${g?.mutatedSeeds ?? '—'}) |\n`);
}
process.stdout.write('\nbugs: distinct bugs triage found (* triage incomplete at the budget); then transitions reached of all the machines\' and seeds run.\n');

import { join } from 'node:path';
import { streamspace } from '../../../systems/index.ts';
import type { CampaignResult } from '../../campaign/campaign.ts';
import type { BugRow } from '../../campaign/summary.ts';
import type { IndexSource } from '../index-data.ts';

function bug(id: string, invariant: string, seed: number, count: number, kinds: string[], file: string): BugRow {
  return {
    id, signature: `${invariant}|kinds=${kinds.join(',')}|fixes=agent-async-handlers`, invariant, kinds, removedBy: ['agent-async-handlers'], removedTogether: null,
    context: [], explainedBy: ['agent-async-handlers'], count, seeds: [seed], lowestSeed: seed,
    example: { seed, file, message: `cmd-${seed} was lost`, time: 61_000_000, faultsFound: 3, faultsMinimal: kinds.length }, fixes: [{ fix: 'agent-async-handlers', outcome: 'pass' }],
  };
}

/**
 * A campaign index's source over a made-up result of 60 seeds of the deployment swarm: two bugs, one
 * of them with its timeline page (`explain.html` in `dir`). Fast, and every section has content.
 */
export function exampleIndexSource(dir: string): IndexSource {
  const files = [join(dir, 'no-lost-commands-x-seed-3.json'), join(dir, 'no-split-brain-x-seed-7.json')];
  const results = Array.from({ length: 60 }, (_, seed) => ({ seed, outcome: seed % 5 === 3 ? 'no-lost-commands' : seed % 11 === 7 ? 'no-split-brain' : 'pass', hash: 'h' }));
  const count = (outcome: string): number => results.filter((r) => r.outcome === outcome).length;
  const bugs = [bug('a1b2c3', 'no-lost-commands', 3, count('no-lost-commands'), [], files[0]!), bug('d4e5f6', 'no-split-brain', 7, count('no-split-brain'), ['pause', 'partition'], files[1]!)];
  const result: CampaignResult = {
    seedsRun: 60, passed: results.filter((r) => r.outcome === 'pass').length, interrupted: false, budgetExhausted: false, elapsedMs: 95_000, simUs: 60 * 600e6, steps: 0,
    invariants: bugs.map((b) => ({ invariant: b.invariant, runs: b.count, seeds: [b.lowestSeed], example: { seed: b.lowestSeed, file: b.example.file, shrunk: null, message: b.example.message } })),
    selfCheckEvery: 50, selfChecks: 2, mismatches: [], results, bugs, unclassified: [], triage: { runs: 80, shrinks: 2, elapsedMs: 9000, complete: true, deadlineReached: false, unfinished: [] },
  };
  const pages = new Map([[files[0]!, { schedule: [], explainPage: join(dir, 'explain.html') }], [files[1]!, { schedule: [], explainPage: null }]]);
  return {
    header: 'hasim fuzz --profile streamspace-v2', system: streamspace, space: { profile: 'streamspace-v2', deployment: 'swarm' }, digest: 'abcdef',
    range: { start: 0, total: 60, shard: '1/1' }, result, checked: ['no-split-brain', 'no-lost-commands', 'bounded-recovery'], files: pages,
  };
}


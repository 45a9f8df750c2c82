import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { DEFAULT_CONFIG } from '../systems/streamspace/config.ts';
import { main } from './main.ts';

/**
 * Bad input is never a finding: a bad `--config`, `--schedule` or trace file exits 2 with one line
 * on stderr that names the bad value's path, without a stack trace, before any simulation starts
 * (nothing is printed on stdout, where a run reports, and each case has a short timeout).
 */

const DIR = mkdtempSync(join(tmpdir(), 'hasim-bad-input-'));
let files = 0;
function file(content: unknown): string {
  const path = join(DIR, `input-${files++}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const TRACE = new URL('../../traces/all-replicas-deposed.json', import.meta.url);
type Trace = {
  config: Record<string, unknown>;
  schedule: Array<Record<string, unknown>>;
  expectations: Array<{ profile: string; fixes: string[]; config: Record<string, Record<string, unknown>>; outcome: string; hash: string }>;
  [field: string]: unknown;
};
/** A copy of a committed trace file, changed by `change`. */
function trace(change: (t: Trace) => void): string {
  const t = JSON.parse(readFileSync(TRACE, 'utf8')) as Trace;
  change(t);
  return file(t);
}

const crashApi = { kind: 'crash', at: 150_000_000, target: { role: 'api', index: 0 } };
const pauseLeader = { kind: 'pause', at: 160_000_000, target: { role: 'leader' }, durationUs: 5_000_000 };
/** `run --seed 0 --schedule` with these faults. */
const schedule = (...faults: unknown[]): string[] => ['run', '--seed', '0', '--schedule', file(faults)];
/** `run --seed 0 --config` with these overrides. */
const config = (overrides: unknown): string[] => ['run', '--seed', '0', '--config', file(overrides)];
const replay = (change: (t: Trace) => void): string[] => ['replay', trace(change)];

const { hub, ws } = DEFAULT_CONFIG.api;
const apiProbes = DEFAULT_CONFIG.kubernetes.probes.api;

const CASES: Array<[what: string, argv: () => string[], path: string]> = [
  // --config: StreamSpace's overrides
  ['apiReplicas 0', () => config({ topology: { apiReplicas: 0 } }), 'config.topology.apiReplicas: must be ≥ 1'],
  ['agentReplicas 0', () => config({ topology: { agentReplicas: 0 } }), 'config.topology.agentReplicas: must be ≥ 1'],
  ['apiReplicas 1e9', () => config({ topology: { apiReplicas: 1e9 } }), 'config.topology.apiReplicas: must be ≤ 20'],
  ['workerNodes 51', () => config({ topology: { workerNodes: 51 } }), 'config.topology.workerNodes: must be ≤ 50'],
  ['apiReplicas 2.5', () => config({ topology: { apiReplicas: 2.5 } }), 'config.topology.apiReplicas: must be an integer from 1 to 20'],
  ['apiReplicas "2"', () => config({ topology: { apiReplicas: '2' } }), 'config.topology.apiReplicas: must be an integer from 1 to 20'],
  ['startSessionUs min > max', () => config({ agent: { startSessionUs: [120_000_000, 5_000_000] } }), 'config.agent.startSessionUs: must be [min, max] with min ≤ max'],
  ['stopSessionUs min > max', () => config({ agent: { stopSessionUs: [2_000_000, 200_000] } }), 'config.agent.stopSessionUs: must be [min, max] with min ≤ max'],
  ['startSessionUs not a pair', () => config({ agent: { startSessionUs: 5 } }), 'config.agent.startSessionUs: must be [min, max]'],
  ['leaseDurationUs 0', () => config({ election: { leaseDurationUs: 0 } }), 'config.election.leaseDurationUs: must be ≥ 1'],
  ['renewDeadline not under leaseDuration', () => config({ election: { renewDeadlineUs: 15_000_000 } }), 'config.election.renewDeadlineUs: must be less than leaseDurationUs'],
  ['renewDeadline not over jitter × retryPeriod', () => config({ election: { retryPeriodUs: 9_000_000 } }), 'config.election.renewDeadlineUs: must be more than jitterFactor × retryPeriodUs'],
  ['jitterFactor 0', () => config({ election: { jitterFactor: 0 } }), 'config.election.jitterFactor: must be > 0'],
  ['createFraction 1.5', () => config({ workload: { createFraction: 1.5 } }), 'config.workload.createFraction: must be ≤ 1'],
  ['requestIntervalUs 10', () => config({ workload: { requestIntervalUs: 10 } }), 'config.workload.requestIntervalUs: must be 0 (no workload) or at least'],
  ['unknown section', () => config({ nonsense: { x: 1 } }), 'config.nonsense: unknown section'],
  ['unknown field', () => config({ api: { nonsense: 1 } }), 'config.api.nonsense: unknown field'],
  ['section not an object', () => config({ topology: [] }), 'config.topology: must be an object'],
  ['nested object given in part', () => config({ api: { hub: { staleSweepUs: 5_000_000 } } }), 'config.api.hub.staleThresholdUs: missing'],
  ['sendBuffer 0', () => config({ api: { hub: { ...hub, sendBuffer: 0 } } }), 'config.api.hub.sendBuffer: must be ≥ 1'],
  ['pingPeriodUs 0', () => config({ api: { ws: { ...ws, pingPeriodUs: 0 } } }), 'config.api.ws.pingPeriodUs: must be ≥ 100000 µs'],
  ['fix switch "yes"', () => config({ fixes: { fencedEffects: 'yes' } }), 'config.fixes.fencedEffects: must be true or false'],
  ['liveness successThreshold 2', () => config({ kubernetes: { probes: { ...DEFAULT_CONFIG.kubernetes.probes, api: { ...apiProbes, liveness: { ...apiProbes.liveness!, successThreshold: 2 } } } } }),
    'config.kubernetes.probes.api.liveness.successThreshold: must be 1 for a liveness probe'],
  ['empty sharedAgentId', () => config({ topology: { sharedAgentId: '' } }), 'config.topology.sharedAgentId: must be 1 to 235'],
  ['no backoff steps', () => config({ agent: { reconnectBackoffUs: [] } }), 'config.agent.reconnectBackoffUs: must have at least one step'],
  ['negative containerRestartUs', () => config({ kubernetes: { containerRestartUs: -1 } }), 'config.kubernetes.containerRestartUs: must be ≥ 0'],

  // --schedule: a fault schedule of StreamSpace
  ['negative durationUs', () => schedule(crashApi, pauseLeader, { ...pauseLeader, durationUs: -5 }), 'schedule[2].durationUs: must be ≥ 0'],
  ['missing target', () => schedule({ kind: 'crash', at: 150_000_000 }), 'schedule[0].target: missing'],
  ['ppm -2000000', () => schedule({ kind: 'clock-drift', at: 150_000_000, target: { role: 'redis' }, ppm: -2_000_000, durationUs: 1_000_000 }), 'schedule[0].ppm: must be ≥ -999999'],
  ['role "mars"', () => schedule({ kind: 'crash', at: 150_000_000, target: { role: 'mars' } }), 'schedule[0].target.role: unknown role "mars"'],
  ['index -1', () => schedule({ kind: 'crash', at: 150_000_000, target: { role: 'api', index: -1 } }), 'schedule[0].target.index: must be ≥ 0'],
  ['index past maxIndex', () => schedule({ kind: 'crash', at: 150_000_000, target: { role: 'agent', index: 6 } }), 'schedule[0].target.index: must be ≤ 5'],
  ['index on a role of one', () => schedule({ kind: 'crash', at: 150_000_000, target: { role: 'redis', index: 0 } }), 'schedule[0].target.index: only roles'],
  ['no index on an indexed role', () => schedule({ kind: 'crash', at: 150_000_000, target: { role: 'api' } }), 'schedule[0].target.index: missing'],
  ['dropRate 7', () => schedule({ kind: 'link-burst', at: 150_000_000, target: { role: 'redis' }, dropRate: 7, duplicateRate: 0, delayUs: 0, durationUs: 1_000_000 }), 'schedule[0].dropRate: must be ≤ 1'],
  ['kube-api mode "explode"', () => schedule({ kind: 'kube-api', at: 150_000_000, mode: 'explode', extraLatencyUs: 0, durationUs: 1_000_000 }), 'schedule[0].mode: must be one of slow, error, blackhole, got "explode"'],
  ['at 1e13', () => schedule({ ...crashApi, at: 1e13 }), 'schedule[0].at: must be ≤ 86400000000 µs'],
  ['durationUs "long"', () => schedule({ ...pauseLeader, durationUs: 'long' }), 'schedule[0].durationUs: must be an integer from 0 to'],
  ['a window past the horizon', () => schedule({ ...pauseLeader, at: 80_000_000_000, durationUs: 10_000_000_000 }), 'schedule[0]: ends at 90000000000'],
  ['unknown fault kind', () => schedule(crashApi, { kind: 'meteor', at: 150_000_000 }), 'schedule[1].kind: unknown fault kind "meteor"'],
  ['unknown parameter', () => schedule({ ...crashApi, force: true }), 'schedule[0].force: unknown parameter'],
  ['oneWay "yes"', () => schedule({ kind: 'partition', at: 150_000_000, from: { role: 'redis' }, to: { role: 'kube-api' }, oneWay: 'yes', durationUs: 1_000_000 }), 'schedule[0].oneWay: must be true or false'],
  ['missing key', () => schedule({ kind: 'redis-evict', at: 150_000_000 }), 'schedule[0].key: missing'],
  ['fault not an object', () => schedule(crashApi, 5), 'schedule[1]: must be a fault object'],
  ['schedule not an array', () => ['run', '--seed', '0', '--schedule', file({ kind: 'crash' })], 'schedule: must be an array of faults'],

  // trace files
  ['unknown section in the case\'s config', () => replay((t) => void (t.config = { nonsense: {} })), 'config.nonsense: unknown section'],
  ['unknown section in a recorded config', () => replay((t) => void (t.expectations[0]!.config['nonsense'] = {})), 'expectations[0].config.nonsense: unknown section'],
  ['recorded apiReplicas 0', () => replay((t) => void (t.expectations[1]!.config['topology']!['apiReplicas'] = 0)), 'expectations[1].config.topology.apiReplicas: must be ≥ 1'],
  ['recorded election out of order', () => replay((t) => void (t.expectations[0]!.config['election']!['renewDeadlineUs'] = 20_000_000)), 'expectations[0].config.election.renewDeadlineUs: must be less than leaseDurationUs'],
  ['bad hash', () => replay((t) => void (t.expectations[1]!.hash = 'abc')), 'expectations[1].hash: must be 64 hex digits'],
  ['unknown outcome', () => replay((t) => void (t.expectations[0]!.outcome = 'boom')), 'expectations[0].outcome: unknown outcome "boom"'],
  ['recorded config missing', () => replay((t) => void delete (t.expectations[0] as Record<string, unknown>)['config']), 'expectations[0].config: missing'],
  ['negative seed', () => replay((t) => void (t['seed'] = -1)), 'seed: must be ≥ 0'],
  ['a bad fault in the file', () => replay((t) => void (t.schedule[1]!['durationUs'] = -1)), 'schedule[1].durationUs: must be ≥ 0'],
  ['unknown field', () => replay((t) => void (t['bogus'] = 1)), 'bogus: unknown field'],
  ['unknown fix', () => replay((t) => void (t['fixes'] = ['magic'])), 'fixes[0]: unknown fix "magic"'],
  ['unknown invariant', () => replay((t) => void (t['invariants'] = ['no-bugs'])), 'invariants[0]: unknown invariant "no-bugs"'],
  ['no expectations', () => replay((t) => void (t.expectations = [])), 'expectations: must be a non-empty array'],
  ['name missing', () => replay((t) => void delete t['name']), 'name: missing'],
  ['explain: a bad recorded config', () => ['explain', trace((t) => void (t.expectations[0]!.config['workload']!['createFraction'] = 2))], 'expectations[0].config.workload.createFraction: must be ≤ 1'],
];

describe('bad --config, --schedule and trace files: exit 2, one line naming the path, no run', () => {
  // The first call of each command loads the model; the cases themselves must be quick.
  beforeAll(async () => {
    for (const argv of [config({ topology: { apiReplicas: 0 } }), replay((t) => void (t['seed'] = -1)), ['explain', trace((t) => void (t['seed'] = -1))]]) await main(argv, () => undefined, () => undefined);
  }, 60_000);

  test('there are at least 40 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
  });

  test.each(CASES)('%s', { timeout: 3_000 }, async (_what, argv, path) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv(), (l) => out.push(l), (l) => err.push(l));
    expect(code).toBe(2);
    expect(err).toHaveLength(1);
    expect(err[0]).not.toMatch(/\n\s+at /);
    expect(err[0]).not.toContain('\n');
    expect(err[0]).toContain(path);
    // A run reports on stdout: nothing there means none started.
    expect(out).toEqual([]);
  });
});

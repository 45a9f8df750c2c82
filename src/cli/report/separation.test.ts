import { describe, expect, test } from 'vitest';
import { fisherExact, planParameters, separate, type JudgedRun, type Leaf } from './separation.ts';

const SECOND = 1_000_000;

/** Runs over every combination of the given parameter values, each judged by `ok`. */
function grid(axes: Record<string, Leaf[]>, ok: (p: Record<string, Leaf>) => boolean, copies = 1): JudgedRun[] {
  let combos: Array<Record<string, Leaf>> = [{}];
  for (const [name, values] of Object.entries(axes)) combos = combos.flatMap((c) => values.map((v) => ({ ...c, [name]: v })));
  const runs: JudgedRun[] = [];
  for (let k = 0; k < copies; k++) for (const c of combos) runs.push({ ok: ok(c), parameters: new Map(Object.entries(c)) });
  return runs;
}

describe('what separates the runs that failed', () => {
  test('one value of one parameter: the drained node that carries the database', () => {
    const runs = grid({ 'faults[0].target.index': [0, 1, 2], 'config.apiCpu.requestCpuUs': [1000, 2000, 3000] }, (p) => p['faults[0].target.index'] !== 1, 5);
    const found = separate(runs)!;
    expect(found.explained).toBe(1);
    expect(found.rules).toEqual([
      { conditions: [{ parameter: 'faults[0].target.index', op: '=', value: '1' }], held: 0, runs: 15 },
      { conditions: [{ parameter: 'faults[0].target.index', op: '≠', value: '1' }], held: 30, runs: 30 },
    ]);
  });

  test('a conjunction of a category and a threshold, found as one path; times written in seconds', () => {
    const durations = Array.from({ length: 12 }, (_, i) => (10 + 10 * i) * SECOND);
    const runs = grid({ 'faults[0].existing': ['kept', 'cut'], 'faults[0].durationUs': durations }, (p) => !(p['faults[0].existing'] === 'cut' && (p['faults[0].durationUs'] as number) > 30 * SECOND), 2);
    const found = separate(runs)!;
    expect(found.explained).toBe(1);
    const failing = found.rules.filter((r) => r.held === 0);
    expect(failing).toHaveLength(1);
    expect(failing[0]!.conditions).toEqual(expect.arrayContaining([
      { parameter: 'faults[0].existing', op: '=', value: 'cut' },
      { parameter: 'faults[0].durationUs', op: '>', value: '30.000s' },
    ]));
    expect(found.rules.reduce((s, r) => s + r.runs, 0)).toBe(runs.length);
  });

  test('an outcome the plan does not decide gives no rule; one shared by every run gives none either', () => {
    // A fixed pseudo-random outcome, independent of the parameters.
    let x = 12345;
    const coin = (): boolean => ((x = (x * 1103515245 + 12345) % 2147483648) >> 16) % 2 === 0;
    const noisy = grid({ a: [0, 1, 2, 3], b: ['p', 'q', 'r'] }, () => coin(), 30);
    expect(noisy.filter((r) => r.ok).length).toBeGreaterThan(0);
    expect(separate(noisy)).toBeNull();
    expect(separate(grid({ a: [0, 1] }, () => true, 5))).toBeNull();
    expect(separate(grid({ a: [0, 1] }, () => false, 5))).toBeNull();
  });

  test('a parameter only some plans have is tested as present or not', () => {
    const runs: JudgedRun[] = [];
    for (let n = 1; n <= 3; n++) {
      for (let k = 0; k < 10; k++) {
        const parameters = new Map<string, Leaf>([['faults.length', n]]);
        if (n >= 2) parameters.set('faults[1].target.index', k % 3);
        runs.push({ ok: n < 2, parameters });
      }
    }
    const found = separate(runs)!;
    expect(found.explained).toBe(1);
    expect(found.rules.map((r) => [r.conditions.map((c) => `${c.parameter} ${c.op} ${c.value}`).join(' & '), r.held, r.runs])).toEqual([
      ['faults.length = 1', 10, 10],
      ['faults.length ≠ 1', 0, 20],
    ]);
  });

  test('a small side is not split off: each side of a test keeps at least 3 runs and 2% of them', () => {
    const runs = grid({ id: Array.from({ length: 100 }, (_, i) => i) }, (p) => p.id !== 42);
    expect(separate(runs)).toBeNull();
  });
});

describe("a plan's parameters", () => {
  test('faults of the schedule then of the scripted actions, the deployment and the network, flattened; code left out', () => {
    const parameters = planParameters({
      faultAt: 5 * SECOND,
      schedule: [{ kind: 'node-drain', at: 5 * SECOND, target: { role: 'worker-node', index: 1 }, durationUs: 60 * SECOND }],
      actions: [
        { at: 6 * SECOND, what: 'delete a pod', run: () => {}, asFault: { kind: 'delete', at: 6 * SECOND, target: { role: 'api', index: 2 } } },
        { at: 7 * SECOND, what: 'scale', run: () => {} },
      ],
      config: { apiCpu: { requestCpuUs: 2000 }, agent: { reconnectBackoffUs: [2, 4] }, hook: () => 1 },
      network: { link: { latency: { baseUs: 300, jitterUs: 0, tailChance: 0, tailUs: 0 }, dropRate: 0, duplicateRate: 0 } },
      healAt: 90 * SECOND,
    });
    expect(Object.fromEntries(parameters)).toEqual({
      'faults.length': 2,
      'faults[0].kind': 'node-drain',
      'faults[0].at': 5 * SECOND,
      'faults[0].target.role': 'worker-node',
      'faults[0].target.index': 1,
      'faults[0].durationUs': 60 * SECOND,
      'faults[1].kind': 'delete',
      'faults[1].at': 6 * SECOND,
      'faults[1].target.role': 'api',
      'faults[1].target.index': 2,
      'config.apiCpu.requestCpuUs': 2000,
      'config.agent.reconnectBackoffUs[0]': 2,
      'config.agent.reconnectBackoffUs[1]': 4,
      'network.link.latency.baseUs': 300,
      'network.link.latency.jitterUs': 0,
      'network.link.latency.tailChance': 0,
      'network.link.latency.tailUs': 0,
      'network.link.dropRate': 0,
      'network.link.duplicateRate': 0,
    });
  });
});

describe("Fisher's exact test", () => {
  test('two-sided p-values of textbook tables', () => {
    // The lady tasting tea: 3 of 4 cups right.
    expect(fisherExact(3, 1, 1, 3)).toBeCloseTo(0.4857, 4);
    expect(fisherExact(1, 9, 11, 3)).toBeCloseTo(0.002759, 5);
    expect(fisherExact(5, 0, 0, 5)).toBeCloseTo(2 / 252, 6);
    expect(fisherExact(2, 2, 2, 2)).toBeCloseTo(1, 9);
  });
});

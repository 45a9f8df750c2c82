import { describe, expect, test } from 'vitest';
import type { FaultRecord } from '../faults/fault-kind.ts';
import { MS, SECOND } from '../sim-cluster/index.ts';
import { streamspace } from '../systems/index.ts';
import { DEFAULT_MAX_PROBES, narrowFaults, narrowOptionsFor, roundest } from './narrow-faults.ts';

const options = narrowOptionsFor(streamspace);
const START = streamspace.settleUs;

/** A failure test over schedules, counting its calls and recording the schedules it was asked about. */
function scripted(fails: (s: FaultRecord[]) => boolean): { fails: (s: FaultRecord[]) => boolean; asked: string[] } {
  const asked: string[] = [];
  return { asked, fails: (s) => (asked.push(JSON.stringify(s)), fails(s)) };
}

const pause = (at: number, durationUs: number): FaultRecord => ({ kind: 'pause', target: { role: 'leader' }, durationUs, at });
const kubeApi = (at: number, durationUs: number): FaultRecord => ({ kind: 'kube-api', mode: 'blackhole', extraLatencyUs: 5 * SECOND, durationUs, at });

describe('narrowing the faults of a failing schedule', () => {
  // Fails while the pause lasts at least 7.3 s and the kube-api fault comes at least 2 s after it.
  const threshold = (s: FaultRecord[]): boolean => (s[0]!['durationUs'] as number) >= 7_300 * MS && s[1]!.at - s[0]!.at >= 2 * SECOND;
  const found = [pause(START + 41 * SECOND, 24 * SECOND), kubeApi(START + 50 * SECOND, 90 * SECOND)];

  test('times to their earliest, windows and parameters to their target or near the boundary, in a bounded number of runs', () => {
    const t = scripted(threshold);
    const { schedule, steps } = narrowFaults(found, t.fails, options);
    expect(threshold(schedule)).toBe(true);
    // What the failure does not depend on reaches its target in one run: the first fault's time, the second's parameters.
    expect(schedule[0]!.at).toBe(START);
    expect(schedule[1]).toMatchObject({ extraLatencyUs: 0, durationUs: 0, kind: 'kube-api', mode: 'blackhole' });
    // What it depends on stops within a grid step, or 2^-maxProbes of the distance moved, of a value that passes.
    const pauseUs = schedule[0]!['durationUs'] as number;
    expect(pauseUs).toBeGreaterThanOrEqual(7_300 * MS);
    expect(pauseUs - 7_300 * MS).toBeLessThanOrEqual(24 * SECOND / 2 ** DEFAULT_MAX_PROBES + MS);
    const gap = schedule[1]!.at - schedule[0]!.at;
    expect(gap).toBeGreaterThanOrEqual(2 * SECOND);
    expect(gap - 2 * SECOND).toBeLessThanOrEqual(9 * SECOND / 2 ** DEFAULT_MAX_PROBES + MS);
    // Times stay on the millisecond grid from their targets.
    expect([pauseUs % MS, gap % MS]).toEqual([0, 0]);
    // At most 3 + maxProbes runs a field (gap and duration of the pause; gap, latency and duration of the other), never one twice.
    expect(t.asked.length).toBeLessThanOrEqual(5 * (3 + DEFAULT_MAX_PROBES));
    expect(steps).toBeGreaterThan(0);
  });

  test('the same schedule and test give the same runs in the same order', () => {
    const a = scripted(threshold);
    const b = scripted(threshold);
    expect(narrowFaults(found, a.fails, options)).toEqual(narrowFaults(found, b.fails, options));
    expect(a.asked).toEqual(b.asked);
  });

  test('a later field can let an earlier one reach its target: the last round tries the targets again', () => {
    // Fails while the pause lasts at least 5 s, and when it lasts over 6 s, only if it starts 2 s or more after the settle time.
    const fails = (s: FaultRecord[]): boolean => {
      const durationUs = s[0]!['durationUs'] as number;
      return durationUs >= 5 * SECOND && (durationUs <= 6 * SECOND || s[0]!.at >= START + 2 * SECOND);
    };
    const { schedule } = narrowFaults([pause(START + 30 * SECOND, 10 * SECOND)], fails, options);
    // The time stops near START + 2 s while the window is 10 s; the window then shrinks to about 5 s,
    // and the last round moves the time to its target.
    expect(fails(schedule)).toBe(true);
    expect(schedule[0]!.at).toBe(START);
    expect(schedule[0]!['durationUs']).toBeLessThan(5_100 * MS);
    // Without the last round (as if the budget ended there) the time stays where the bisection left it.
    let calls = 0;
    const first = narrowFaults([pause(START + 30 * SECOND, 10 * SECOND)], (x) => (calls++, fails(x)), options, () => calls < 2 * (1 + DEFAULT_MAX_PROBES));
    expect(first.schedule[0]!.at).toBeGreaterThanOrEqual(START + 2 * SECOND);
  });

  test('kinds, targets, modes and the order of faults stay; a gap never goes negative', () => {
    const always = (): boolean => true;
    const faults: FaultRecord[] = [
      { kind: 'partition', from: { role: 'api', index: 1 }, to: { role: 'redis' }, oneWay: true, durationUs: 3 * SECOND, at: START + 5 * SECOND },
      { kind: 'link-burst', target: { role: 'postgres' }, dropRate: 0.4, duplicateRate: 0.1, delayUs: 300 * MS, durationUs: 8 * SECOND, at: START + 9 * SECOND },
    ];
    const { schedule } = narrowFaults(faults, always, options);
    expect(schedule).toEqual([
      { ...faults[0], durationUs: 0, at: START },
      { ...faults[1], dropRate: 0, duplicateRate: 0, delayUs: 0, durationUs: 0, at: START },
    ]);
    // A schedule out of time order keeps its negative gap; one that starts before the settle time keeps its start.
    const early = [pause(START - 1 * SECOND, 1 * SECOND), pause(START - 3 * SECOND, 1 * SECOND)];
    expect(narrowFaults(early, always, options).schedule.map((f) => f.at)).toEqual([START - 1 * SECOND, START - 3 * SECOND]);
  });

  test('number parameters bisect without a grid; a kind it does not know keeps its parameters', () => {
    const drops = (s: FaultRecord[]): boolean => (s[0]!['dropRate'] as number) > 0.3;
    const burst: FaultRecord = { kind: 'link-burst', target: { role: 'postgres' }, dropRate: 0.9, duplicateRate: 0, delayUs: 0, durationUs: 1 * SECOND, at: START };
    const rate = narrowFaults([burst], drops, options).schedule[0]!['dropRate'] as number;
    expect(rate).toBeGreaterThan(0.3);
    expect(rate - 0.3).toBeLessThanOrEqual(0.9 / 2 ** DEFAULT_MAX_PROBES);
    const unknown: FaultRecord = { kind: 'not-a-kind', at: START + 4 * SECOND, durationUs: 5 * SECOND };
    expect(narrowFaults([unknown], () => true, options).schedule).toEqual([{ ...unknown, at: START }]);
  });

  test('the roundest value in reach: the pause that lasts exactly as long as it must', () => {
    expect(roundest(2_996 * MS, 3_120 * MS, MS)).toBe(3 * SECOND);
    expect(roundest(11_820 * MS, 11_916 * MS, MS)).toBe(11_900 * MS);
    expect(roundest(41, 43, 1)).toBe(42);
    expect(roundest(41, 42, 1)).toBeNull();
    // A window that fails from exactly 3 s: bisection alone stops above it, the last probe lands on it.
    const fromThree = (s: FaultRecord[]): boolean => (s[0]!['durationUs'] as number) >= 3 * SECOND;
    expect(narrowFaults([pause(START, 27_345_678)], fromThree, options).schedule[0]!['durationUs']).toBe(3 * SECOND);
  });

  test('the budget stops it with a schedule that still fails', () => {
    let calls = 0;
    const { schedule } = narrowFaults(found, (s) => (calls++, threshold(s)), options, () => calls < 4);
    expect(calls).toBe(4);
    expect(threshold(schedule)).toBe(true);
  });

  test('a test that fails only as found moves nothing', () => {
    const asFound = JSON.stringify(found);
    const t = scripted((s) => JSON.stringify(s) === asFound);
    expect(narrowFaults(found, t.fails, options)).toEqual({ schedule: found, steps: 0 });
    expect(t.asked).not.toContain(asFound);
  });
});

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { SYSTEMS, streamspace } from '../systems/index.ts';
import type { FaultRecord } from '../faults/fault-kind.ts';
import { MS, SECOND } from '../sim-cluster/index.ts';
import type { Verdict } from './run-case.ts';
import { caseForSeed, shrinkSeed } from './seeded-case.ts';
import { readTraceFile } from './trace-file.ts';
import {
  attribute, bugId, explainingFixes, formatRemovers, inlineTriageRunner, kindsOf, removes, RunRefused, ShrinkCut, signatureKey, triage, triageShrink, triageSpace,
  type Bug, type ProbeRequest, type Signature, type TriageRunner,
} from './triage.ts';

const TRACES = fileURLToPath(new URL('../../traces/', import.meta.url));

describe('signatures', () => {
  const sig = (s: Partial<Signature>): Signature => ({ invariant: 'no-lost-commands', kinds: [], removedBy: [], removedTogether: null, ...s });

  test('the key names the invariant, the kinds and what removes it; the id is a digest of the key', () => {
    expect(signatureKey(sig({ kinds: ['pause', 'redis-restart'], removedBy: ['redeliver-unfinished'] }))).toBe('no-lost-commands|kinds=pause,redis-restart|fixes=redeliver-unfinished');
    expect(signatureKey(sig({ removedTogether: ['a', 'b'] }))).toBe('no-lost-commands|kinds=|fixes=a+b');
    expect(signatureKey(sig({}))).toBe('no-lost-commands|kinds=|fixes=none');
    expect(bugId(sig({}))).toMatch(/^[0-9a-f]{6}$/);
    expect(bugId(sig({}))).not.toBe(bugId(sig({ kinds: ['pause'] })));
    expect(formatRemovers(sig({ removedBy: ['a', 'b'] }))).toBe('a, b (each alone)');
    expect(formatRemovers(sig({ removedTogether: ['a', 'b'] }))).toBe('a + b (together)');
    expect(formatRemovers(sig({}))).toBe('no fix');
    expect(kindsOf([{ kind: 'pause', at: 1 }, { kind: 'crash', at: 2 }, { kind: 'pause', at: 3 }] as never)).toEqual(['crash', 'pause']);
  });

  test('a run that still violates the invariant, or fails as a model, does not remove it', () => {
    expect(removes('pass', 'no-lost-commands')).toBe(true);
    expect(removes('no-split-brain', 'no-lost-commands')).toBe(true);
    expect(removes('no-lost-commands', 'no-lost-commands')).toBe(false);
    expect(removes('model-failure', 'no-lost-commands')).toBe(false);
    expect(removes('pass', 'model-failure')).toBe(true);
  });

  test('the fix that later seeds are checked with is the most specific remover', () => {
    const before = [{ signature: sig({ removedBy: ['agent-async-handlers'] }) }] as Bug[];
    const breadth = new Map([['redeliver-unfinished', 4], ['exit-on-lost-leadership', 1], ['fenced-effects', 1]]);
    // Shared with a bug found before loses; then the fix documented to remove the fewest findings; then the system's order.
    expect(explainingFixes(sig({ removedBy: ['agent-async-handlers', 'redeliver-unfinished', 'exit-on-lost-leadership', 'fenced-effects'] }), before, breadth)).toEqual(['exit-on-lost-leadership']);
    expect(explainingFixes(sig({ removedTogether: ['a', 'b'] }), before, breadth)).toEqual(['a', 'b']);
    expect(explainingFixes(sig({}), before, breadth)).toEqual([]);
  });
});

/**
 * docs/findings.md lists each finding on the as-built profile with the fixes that remove it ("removed
 * by"). The counterfactual signature of its trace must name one of them: switched on alone (or in
 * the minimal set, when no single fix removes it) it removes the violation.
 */
describe('signatures of the as-built findings in traces/', () => {
  const doc = readFileSync(fileURLToPath(new URL('../../docs/findings.md', import.meta.url)), 'utf8').split('\n');
  const header = doc.findIndex((l) => l.startsWith('|') && l.includes('removed by'));
  const columns = doc[header]!.split('|').map((c) => c.trim());
  const fixNames = streamspace.fixes.map((f) => f.name);
  const rows: Array<{ name: string; invariant: string; documented: string[] }> = [];
  for (const line of doc.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split('|').map((c) => c.trim());
    const name = /`([^`]+)`/.exec(cells[columns.indexOf('finding (trace)')] ?? '')?.[1];
    if (name === undefined) continue;
    const documented = (cells[columns.indexOf('removed by')] ?? '').match(/[a-z]+(?:-[a-z]+)+/g)?.filter((f) => fixNames.includes(f)) ?? [];
    // An open finding (hardened still fails it) has no remover to check: its trace records the
    // hardened failure, which the traces corpus replays.
    if (cells[columns.indexOf('hardened')] !== 'pass') continue;
    rows.push({ name, invariant: cells[columns.indexOf('invariant')] ?? '', documented });
  }
  // An as-built finding: its invariant is stated plainly, or "(as built)". The others were found on
  // hardened before a fix; their trace is checked too when it carries the other fixes of hardened
  // (the file's `fixes`), since its streamspace-v2 run is then hardened before the fix.
  const asBuilt = rows.flatMap((row) => {
    const path = join(TRACES, `${row.name}.json`);
    if (!existsSync(path)) return [];
    const trace = readTraceFile(path, SYSTEMS);
    const e = trace.expectations.find((x) => x.profile === 'streamspace-v2' && x.outcome !== 'pass');
    const beforeTheFix = (trace.fixes ?? []).length > 0 && row.invariant === `${e?.outcome} (hardened before the fix)`;
    if (e === undefined || !(row.invariant === e.outcome || row.invariant.includes(`${e.outcome} (as built)`) || beforeTheFix)) return [];
    return [{ ...row, trace, invariant: e.outcome }];
  });

  test('the findings table is read', () => {
    expect(asBuilt.length).toBeGreaterThanOrEqual(8);
  });

  test.each(asBuilt.map((a) => [a.name, a] as const))('%s', async (name, { trace, invariant, documented }) => {
    const space = { profile: 'streamspace-v2', config: trace.config, fixes: trace.fixes ?? [] };
    const runner = inlineTriageRunner(streamspace, space);
    // The finding still fails its invariant when only that invariant is checked.
    expect((await runner.probe({ seed: trace.seed, schedule: trace.schedule, fixes: [], invariant })).outcome).toBe(invariant);
    const a = await attribute(streamspace, space, runner, { seed: trace.seed, schedule: trace.schedule, context: [], invariant });
    const found = [...a.signature.removedBy, ...(a.signature.removedTogether ?? [])];
    expect(documented.length, name).toBeGreaterThan(0);
    expect(found.filter((f) => documented.includes(f)), `${name}: ${formatRemovers(a.signature)}; documented: ${documented.join(', ')}`).not.toEqual([]);
    expect(a.signature.kinds).toEqual(kindsOf(trace.schedule));
    // Each fix the space does not already have is tried alone.
    expect(a.single.map((p) => p.fix)).toEqual(fixNames.filter((f) => !space.fixes.includes(f)));
  }, 30_000);
});

describe('triage', () => {
  /**
   * A scripted runner over real seeds of the as-built space: seed s fails its invariant unless every
   * fix of `cures(s)` is on; the seeds `needsFault` says so fail only while their schedule holds the
   * first fault of their own, the others with any schedule (so their minimal case has no fault). Runs
   * settle after a number of event-loop turns that depends on the request, so that they finish in
   * another order than they started.
   */
  const space = { profile: 'streamspace-v2' };
  const firstFault = (s: number): string | null => {
    const f = caseForSeed(streamspace, space, s).schedule[0];
    return f === undefined ? null : JSON.stringify(f);
  };
  function scripted(cures: (seed: number) => string[], needsFault: (seed: number) => boolean, delay: (seed: number) => number): TriageRunner {
    const wait = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
    };
    return {
      concurrency: 3,
      probe: async (p) => {
        await wait(delay(p.seed + p.fixes.length + (p.schedule?.length ?? 0)));
        const cured = cures(p.seed).every((f) => p.fixes.includes(f));
        const fault = firstFault(p.seed);
        const present = !cured && (p.schedule === null || !needsFault(p.seed) || p.schedule.some((f) => JSON.stringify(f) === fault));
        const outcome = present ? p.invariant : 'pass';
        const verdict = { outcome, hash: '', violation: present ? { invariant: outcome, time: 1, message: 'scripted' } : null } as unknown as Verdict;
        return { outcome, hash: '', ...(p.verdict === true ? { verdict } : {}) };
      },
    };
  }

  /** `runner`, recording every run it is asked for as (seed, fixes, schedule). */
  function logged(runner: TriageRunner): { runner: TriageRunner; probes: string[] } {
    const probes: string[] = [];
    return {
      probes,
      runner: { ...runner, probe: (p) => {
        probes.push(`${p.seed}|${p.fixes.join(',')}|${JSON.stringify(p.schedule)}${p.hash === false ? '' : '|hashed'}`);
        return runner.probe(p);
      } },
    };
  }

  // Seeds 0-29 fail no-lost-commands: the even ones with a fault-free bug agent-async-handlers removes;
  // the odd ones besides it with a bug of their first fault, removed by guarded-status-writes; seeds
  // 5, 15 and 25 also with one that needs two fixes together. Seeds 30-34 fail bounded-recovery from
  // their first fault, removed by nothing. (Seeds whose schedule is empty need no fault.)
  const cures = (s: number): string[] => {
    if (s >= 30) return ['never-a-fix'];
    return ['agent-async-handlers', ...(s % 2 === 1 ? ['guarded-status-writes'] : []), ...(s % 10 === 5 ? ['agent-idempotent', 'frame-per-message'] : [])];
  };
  const needsFault = (s: number): boolean => (s % 2 === 1 || s >= 30) && firstFault(s) !== null;
  const kindOf = (s: number): string => (needsFault(s) ? (JSON.parse(firstFault(s)!) as { kind: string }).kind : '');
  // The bounded-recovery seeds after 30 hold seed 30's fault kind among others: counted for its bug, which no fix removes.
  const seeds = Array.from({ length: 35 }, (_, s) => ({
    seed: s, invariant: s >= 30 ? 'bounded-recovery' : 'no-lost-commands',
    kinds: s > 30 ? [...new Set([kindOf(30), 'pause'].filter((k) => k !== ''))].sort() : kindsOf(caseForSeed(streamspace, space, s).schedule),
  }));
  const shape = (r: Awaited<ReturnType<typeof triage>>) => r.bugs.map((b) => ({ key: b.key, context: b.context, seeds: b.seeds, schedule: b.example.case.schedule }));

  test('bugs are told apart by what removes them, each counted once, the same whatever order runs finish in', async () => {
    const one = logged({ ...scripted(cures, needsFault, () => 1), concurrency: 1 });
    const three = logged(scripted(cures, needsFault, (s) => (s * 7919) % 11));
    const a = await triage(streamspace, space, seeds, one.runner);
    const b = await triage(streamspace, space, [...seeds].reverse(), three.runner);
    expect(shape(b)).toEqual(shape(a));
    // No run is made twice: a shrink runs each schedule once without the trace hash (and the shrunk
    // case once more with it, for its verdict), a signature each set of fixes once. Before shrinks delta-debugged and kept
    // their verdicts, triage made 315 runs here.
    for (const x of [one, three]) expect(new Set(x.probes).size).toBe(x.probes.length);
    expect(a.runs).toBe(one.probes.length);
    expect(a.runs).toBeLessThan(315);
    expect(a.unclassified).toEqual([]);
    const lowestOdd = seeds.find((s) => s.seed % 2 === 1)!.seed;
    expect(a.bugs.map((x) => [x.signature.invariant, formatRemovers(x.signature), x.signature.kinds.join(','), x.context.join(','), x.seeds[0]])).toEqual([
      ['bounded-recovery', 'no fix', kindOf(30), '', 30],
      ['no-lost-commands', 'agent-async-handlers', '', '', 0],
      ['no-lost-commands', 'guarded-status-writes', kindOf(lowestOdd), 'agent-async-handlers', lowestOdd],
      ['no-lost-commands', 'agent-idempotent + frame-per-message (together)', kindOf(5), 'agent-async-handlers,guarded-status-writes', 5],
    ]);
    expect(a.bugs.map((x) => x.seeds.length)).toEqual([5, 15, 12, 3]);
    // Every failing seed is counted for exactly one bug; a minimal case keeps only what its bug needs.
    expect(a.bugs.flatMap((x) => x.seeds).sort((x, y) => x - y)).toEqual(seeds.map((s) => s.seed));
    expect(a.bugs[1]!.example.case.schedule).toEqual([]);
    expect(a.bugs[2]!.example.case.schedule.map((f) => JSON.stringify(f))).toEqual([firstFault(lowestOdd)]);
  });

  test('--max-bugs leaves the seeds it does not reach unclassified; a stop returns what was found', async () => {
    const capped = await triage(streamspace, space, seeds, scripted(cures, needsFault, () => 1), { maxBugs: 1 });
    expect(capped.bugs.map((b) => b.seeds[0])).toEqual([30, 0]);
    expect(capped.unclassified).toEqual([{ invariant: 'no-lost-commands', seeds: seeds.filter((s) => s.seed < 30 && s.seed % 2 === 1).map((s) => s.seed) }]);
    const stop = new AbortController();
    const stopped = await triage(streamspace, space, seeds, scripted(cures, needsFault, () => 1), { signal: stop.signal, onBug: () => stop.abort() });
    expect(stopped.interrupted).toBe(true);
    expect(stopped.bugs.length).toBeGreaterThan(0);
    expect(stopped.bugs.flatMap((b) => b.seeds).length + stopped.unclassified.flatMap((u) => u.seeds).length).toBe(seeds.length);
  });

  test('a deadline reached at run k: no run starts after it, what was found is part of the whole result, the rest is reported unfinished', async () => {
    const whole = await triage(streamspace, space, seeds, scripted(cures, needsFault, () => 1));
    expect(whole).toMatchObject({ complete: true, deadlineReached: false, unfinished: [] });
    const bugOf = (b: Bug) => ({ key: b.key, context: b.context, schedule: b.example.case.schedule, hash: b.example.verdict.hash });
    const stages = new Set<string>();
    // The deadline is a function of the runs made so far, so where it falls does not depend on the machine.
    // Deadlines before the last run (one at or after it may let triage finish).
    for (let k = 0; k < whole.runs; k += 7) {
      let made = 0;
      const cut = await triage(streamspace, space, seeds, scripted(cures, needsFault, () => 1), {
        onRun: (n) => { made = n; },
        deadlineReached: () => made >= k,
      });
      // Runs already started when it was reached finish (at most twice the concurrency of 3).
      expect(cut.runs).toBeLessThanOrEqual(k + 6);
      expect(cut).toMatchObject({ complete: false, deadlineReached: true, interrupted: false });
      // Every bug reported is one of the whole result's, minimal and with the same signature; its seeds are some of its seeds.
      for (const b of cut.bugs) {
        const w = whole.bugs.find((x) => x.key === b.key)!;
        expect(bugOf(b)).toEqual(bugOf(w));
        expect(b.seeds.every((x) => w.seeds.includes(x))).toBe(true);
      }
      // Every failing seed is counted for a bug or left unclassified, never lost; a round cut short is a seed left.
      const unclassified = cut.unclassified.flatMap((u) => u.seeds);
      expect([...cut.bugs.flatMap((b) => b.seeds), ...unclassified].sort((x, y) => x - y)).toEqual(seeds.map((x) => x.seed));
      for (const u of cut.unfinished) {
        expect(unclassified).toContain(u.seed);
        stages.add(u.stage);
      }
      if (k === 0) expect(cut.bugs).toEqual([]);
    }
    expect([...stages].sort()).toEqual(['shrink', 'signature']);
    // A deadline that is never reached changes nothing.
    const late = await triage(streamspace, space, seeds, scripted(cures, needsFault, () => 1), { deadlineReached: () => false });
    expect(shape(late)).toEqual(shape(whole));
    expect(late.runs).toBe(whole.runs);
  });
});

describe('triage shrinks', () => {
  /**
   * Seed 45 of the as-built space draws 8 faults; a scripted runner says the invariant fails while the
   * schedule holds its third and its sixth fault as drawn. It counts the schedules it is asked to run.
   */
  const space = { profile: 'streamspace-v2' };
  const seed = 45;
  const faults = caseForSeed(streamspace, space, seed).schedule;
  const needed = [faults[2]!, faults[5]!];
  const fails = (schedule: readonly FaultRecord[]): boolean => needed.every((n) => schedule.some((f) => JSON.stringify(f) === JSON.stringify(n)));
  const request = { seed, fixes: [], invariant: 'no-lost-commands' };
  function counting(concurrency: number, turns: (p: ProbeRequest) => number, failing = fails): { runner: TriageRunner; probed: string[]; hashed: boolean[] } {
    const probed: string[] = [];
    const hashed: boolean[] = [];
    return {
      probed,
      hashed,
      runner: {
        concurrency,
        probe: async (p) => {
          probed.push(JSON.stringify(p.schedule));
          hashed.push(p.hash !== false);
          for (let i = 0; i < turns(p); i++) await new Promise((r) => setImmediate(r));
          const outcome = failing(p.schedule!) ? p.invariant : 'pass';
          const verdict = { outcome, hash: '', violation: outcome === 'pass' ? null : { invariant: outcome, time: 1, message: 'scripted' } } as unknown as Verdict;
          return { outcome, hash: '', ...(p.verdict === true ? { verdict } : {}) };
        },
      },
    };
  }

  test('delta debugging first, each schedule run once, the same shrink and counts at any concurrency', async () => {
    expect(faults).toHaveLength(8);
    const one = counting(1, () => 0);
    const s = await triageShrink(streamspace, space, one.runner, request);
    expect(s.case.schedule).toEqual(needed);
    expect(s).toMatchObject({ faultsFound: 8, faultsMinimal: 2 });
    // 1-minimal.
    for (let i = 0; i < needed.length; i++) expect(fails(needed.filter((_, j) => j !== i))).toBe(false);
    // One at a time, the probes are the runs the shrink reports, none twice, then the shrunk case
    // once more for its verdict with the trace hash (the others without). fast-check's shrinker from
    // the 8 faults, then the 1-minimal pass, took 1,015 (fast-check's budget of 1,000 runs spent).
    const runs = s.ddminRuns! + s.shrinkRuns + s.minimizeRuns;
    expect(one.probed).toHaveLength(runs + 1);
    expect(new Set(one.probed).size).toBe(runs);
    expect(one.probed.at(-1)).toBe(JSON.stringify(s.case.schedule));
    // The fault-free schedule first, with the hash (the result whenever it fails).
    expect(one.probed[0]).toBe('[]');
    expect(one.hashed).toEqual([true, ...Array(runs - 1).fill(false), true]);
    expect(runs).toBeLessThan(100);
    for (const concurrency of [2, 3]) {
      const many = counting(concurrency, (p) => (p.schedule!.length * 7 + JSON.stringify(p.schedule).length) % 5);
      expect(await triageShrink(streamspace, space, many.runner, request)).toEqual(s);
      // More runs at once adds only those started ahead of a turn that a failing run before them made unnecessary.
      expect(new Set(many.probed).size).toBe(many.probed.length - 1);
      expect(many.probed.length).toBeGreaterThanOrEqual(runs);
      expect(many.probed.length).toBeLessThan(runs + 20);
    }
  });

  test('the narrowing moves times and windows, the same at any concurrency', async () => {
    // Fails while the schedule holds a pause of 3 s or more and a fault at least 20 s after it.
    const spread = (schedule: readonly FaultRecord[]): boolean => schedule.some((f) => f.kind === 'pause'
      && (f['durationUs'] as number) >= 3 * SECOND && schedule.some((g) => g.at - f.at >= 20 * SECOND));
    expect(spread(faults)).toBe(true);
    const one = counting(1, () => 0, spread);
    const s = await triageShrink(streamspace, space, one.runner, request);
    expect(s.case.schedule).toHaveLength(2);
    expect(s.shrinkSteps).toBeGreaterThan(0);
    const [first, last] = s.case.schedule;
    expect(first!.at).toBe(streamspace.settleUs);
    expect(last!.at - first!.at).toBeGreaterThanOrEqual(20 * SECOND);
    expect(last!.at - first!.at).toBeLessThan(21 * SECOND);
    expect(first!['durationUs']).toBeGreaterThanOrEqual(3 * SECOND);
    expect(first!['durationUs']).toBeLessThan(3_500 * MS);
    expect(one.probed).toHaveLength(s.ddminRuns! + s.shrinkRuns + s.minimizeRuns + 1);
    for (const concurrency of [2, 3]) {
      const many = counting(concurrency, (p) => JSON.stringify(p.schedule).length % 4, spread);
      expect(await triageShrink(streamspace, space, many.runner, request)).toEqual(s);
    }
  });

  test('the budget bounds delta debugging and the narrowing as in shrinkSeed; the 1-minimal pass still runs', async () => {
    for (const concurrency of [1, 3]) {
      const s = await triageShrink(streamspace, space, counting(concurrency, (p) => p.schedule!.length % 3).runner, request, 5);
      expect(s.ddminRuns! + s.shrinkRuns).toBe(5);
      expect(fails(s.case.schedule)).toBe(true);
      for (let i = 0; i < s.case.schedule.length; i++) expect(fails(s.case.schedule.filter((_, j) => j !== i))).toBe(false);
    }
  });

  test('on the model: the shrink shrinkSeed makes of the same case', async () => {
    // README's counterexample: seed 10 of the seed-000 deployment as built, 5 faults, no-split-brain.
    const deployed = { profile: 'streamspace-v2', deployment: 'seed-000' };
    const invariant = 'no-split-brain';
    const expected = shrinkSeed(streamspace, triageSpace(deployed, [], invariant), 10, invariant);
    expect(expected.faultsMinimal).toBeLessThan(expected.faultsFound);
    // Two runs at once (one at a time is the scripted test's: the same shrink).
    const s = await triageShrink(streamspace, deployed, { ...inlineTriageRunner(streamspace, deployed), concurrency: 2 }, { seed: 10, fixes: [], invariant });
    expect(s).toEqual(expected);
  }, 60_000);

  test('a deadline during the shrink cuts it short at any concurrency, with how far it got', async () => {
    for (const concurrency of [1, 3]) {
      let made = 0;
      const inner = counting(concurrency, () => 1).runner;
      const refusing: TriageRunner = { concurrency, probe: async (p) => {
        if (made++ >= 12) throw new RunRefused();
        return inner.probe(p);
      } };
      const cut = await triageShrink(streamspace, space, refusing, request).then(() => null, (e: unknown) => e);
      expect(cut).toBeInstanceOf(ShrinkCut);
      expect(cut).toMatchObject({ faultsFound: 8, minimal: false });
      expect((cut as ShrinkCut).faultsSoFar).toBeGreaterThanOrEqual(2);
      expect((cut as ShrinkCut).faultsSoFar).toBeLessThan(8);
    }
  });
});

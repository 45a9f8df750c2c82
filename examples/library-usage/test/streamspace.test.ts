import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { caseOf, runCase, SECOND, streamspace, type Micros, type TraceEvent, type Violation } from 'hasim';
import { testSeeds, testTraceFiles } from 'hasim/vitest';
import { PROMPT_DISPATCH_US, promptDispatch } from '../src/prompt-dispatch.ts';

// The bundled system with one more invariant: everything else (profiles, faults, the recovery
// check) is the system's own, so every case of its case space can be run against the extra check.
const withPromptDispatch: typeof streamspace = {
  ...streamspace,
  invariants: (config) => [...streamspace.invariants(config), promptDispatch],
};

describe('the bundled StreamSpace system', () => {
  // Seeds 0..19 of the hardened profile's case space: each a cluster run under a seeded fault schedule.
  testSeeds('hardened holds on 20 seeds', streamspace, { profile: 'hardened' }, { seeds: 20 });

  // The counterexamples shipped with the package replay bit for bit from the installed copy.
  const packageDir = dirname(createRequire(import.meta.url).resolve('hasim/package.json'));
  testTraceFiles(join(packageDir, 'traces'));
});

describe('prompt-dispatch, a user-written invariant', () => {
  // Seeds the first property does not run, so that the two together cover thirty cases.
  testSeeds('hardened holds with prompt-dispatch on seeds 20..29', withPromptDispatch, { profile: 'hardened' }, { start: 20, seeds: 10 });

  test('fault-free hardened runs pass every invariant, prompt-dispatch included', () => {
    for (let seed = 0; seed < 3; seed++) {
      const verdict = runCase(withPromptDispatch, caseOf(withPromptDispatch, 'hardened', seed, []));
      expect(verdict.outcome, `seed ${seed}: ${verdict.violation?.message}`).toBe('pass');
    }
  });

  // The as-built agent runs one handler at a time on its reader, so a command waits behind a
  // session start of up to two minutes even when nothing is wrong. The design fix that runs each
  // handler on its own is what makes dispatch prompt.
  test('fires on the as-built profile without any fault, and the agent-async-handlers fix silences it', () => {
    const only = { invariants: [promptDispatch.id] };
    const asBuilt = runCase(withPromptDispatch, caseOf(withPromptDispatch, 'streamspace-v2', 0, [], only));
    expect(asBuilt.outcome).toBe('prompt-dispatch');
    expect(asBuilt.violation?.message).toMatch(/waited [\d.]+s before agent-\d+ started it/);
    const fixed = runCase(withPromptDispatch, caseOf(withPromptDispatch, 'streamspace-v2', 0, [], { ...only, fixes: ['agent-async-handlers'] }));
    expect(fixed.outcome, fixed.violation?.message).toBe('pass');
  });

  describe('on synthetic traces', () => {
    const RECOVERED: Micros = 100 * SECOND;
    const event = (t: Micros, p: string, k: string, d: Record<string, unknown> = {}): TraceEvent => ({ t, p, k, d });
    const recovered = event(RECOVERED, 'recovery', 'recovery.healthy');
    const accept = (t: Micros, command: string) => event(t, 'postgres', 'db.command.insert', { command, agent: 'agent-x', client: 'api-0' });
    const start = (t: Micros, command: string, replica = 'agent-0') => event(t, replica, 'agent.execute', { command, agent: 'agent-x', transitions: 1, electorLeads: true });
    const settle = (t: Micros, command: string, to: string) => event(t, 'postgres', 'db.command.status', { command, to, by: 'ws.failed' });

    /** What the harness does: the view absorbs each event before the monitor sees it; the end check last. */
    function judge(events: readonly TraceEvent[], endAt: Micros): Violation[] {
      const view = streamspace.createView();
      const found: Violation[] = [];
      for (const e of events) {
        view.apply(e);
        const v = promptDispatch.onEvent?.(e, view) ?? null;
        if (v !== null) found.push(v);
      }
      const atEnd = promptDispatch.atEnd?.(view, { healAt: 0, boundUs: 0, endAt }) ?? null;
      return atEnd === null ? found : [...found, atEnd];
    }

    test('a command started within the limit passes; one started after it is a violation at its start', () => {
      const prompt = RECOVERED + SECOND;
      const late = RECOVERED + 2 * SECOND;
      const found = judge([
        recovered,
        accept(prompt, 'cmd-1'), start(prompt + PROMPT_DISPATCH_US, 'cmd-1'),
        accept(late, 'cmd-2'), start(late + PROMPT_DISPATCH_US + 1, 'cmd-2', 'agent-1'),
      ], RECOVERED + 60 * SECOND);
      expect(found.map((v) => [v.invariant, v.time, v.evidence[0]?.p])).toEqual([['prompt-dispatch', late + PROMPT_DISPATCH_US + 1, 'agent-1']]);
      expect(found[0]!.message).toContain('cmd-2');
    });

    test('only the first execution counts: a retry much later is redelivery', () => {
      const at = RECOVERED + SECOND;
      expect(judge([recovered, accept(at, 'cmd-1'), start(at + 10_000, 'cmd-1'), start(at + 30 * SECOND, 'cmd-1', 'agent-1')], at + 60 * SECOND)).toEqual([]);
    });

    test('commands accepted before the cluster recovered are not judged', () => {
      const early = RECOVERED - 30 * SECOND;
      expect(judge([accept(early, 'cmd-1'), recovered, start(RECOVERED + SECOND, 'cmd-1')], RECOVERED + 60 * SECOND)).toEqual([]);
      expect(judge([accept(early, 'cmd-1'), start(early + 20 * SECOND, 'cmd-1')], RECOVERED + 60 * SECOND)).toEqual([]);
    });

    test('a command that never starts is a violation at the end of the run, once its limit has passed', () => {
      const at = RECOVERED + SECOND;
      const events = [recovered, accept(at, 'cmd-1')];
      expect(judge(events, at + PROMPT_DISPATCH_US - 1)).toEqual([]);
      const found = judge(events, at + 60 * SECOND);
      expect(found.map((v) => [v.invariant, v.time])).toEqual([['prompt-dispatch', at + 60 * SECOND]]);
      expect(found[0]!.message).toContain('never started; it is still pending');
    });

    test('a command refused without running (recorded failed) is an answer, not a wait', () => {
      const at = RECOVERED + SECOND;
      expect(judge([recovered, accept(at, 'cmd-1'), settle(at + 5_000, 'cmd-1', 'failed')], at + 60 * SECOND)).toEqual([]);
    });
  });
});

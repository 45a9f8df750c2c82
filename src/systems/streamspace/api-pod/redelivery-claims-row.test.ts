import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { caseOfExpectation } from '../../../harness/replay.ts';
import { runCase, type Case } from '../../../harness/run-case.ts';
import { readTraceFile } from '../../../harness/trace-file.ts';
import type { StreamSpaceConfig } from '../config.ts';
import { streamspace } from '../system.ts';

/**
 * Design fix `redelivery-claims-row`, on the case that found the race (traces/redelivery-sends-failed-row.json):
 * api-1's first dispatch of cmd-152, queued while isolation faults kept the agent away, marks the
 * row failed in the millisecond after the redeliver-unfinished reconciler picked the row up again;
 * the queued redelivery then sends it anyway. The case is run with the configuration the file
 * recorded for `hardened`, with and without the fix, so the test does not depend on what the
 * profile holds today.
 */
describe('design fix redelivery-claims-row', () => {
  const file = fileURLToPath(new URL('../../../../traces/redelivery-sends-failed-row.json', import.meta.url));
  const trace = readTraceFile(file, [streamspace]);
  const hardened = trace.expectations.find((e) => e.profile === 'hardened')!;
  const withFix = caseOfExpectation(streamspace, trace, hardened) as Case<StreamSpaceConfig>;
  const without: Case<StreamSpaceConfig> = {
    ...withFix,
    fixes: withFix.fixes.filter((f) => f !== 'redelivery-claims-row'),
    config: { ...withFix.config, fixes: { ...withFix.config.fixes, redeliveryClaimsRow: false } },
  };
  const lifeOf = (events: readonly { k: string; d?: Record<string, unknown> }[], command: string) =>
    events.filter((e) => e.d?.['command'] === command).map((e) => e.k);

  test('the recorded hardened configuration has the fix, and the run passes: the redelivery re-reads the failed row and drops itself', () => {
    expect(withFix.config.fixes.redeliveryClaimsRow).toBe(true);
    const verdict = runCase(streamspace, withFix, { keepEvents: true });
    expect(verdict.outcome).toBe('pass');
    const life = lifeOf(verdict.events!, 'cmd-152');
    expect(life).toContain('dispatcher.redelivery-dropped');
    expect(life).not.toContain('agent.execute');
  });

  test('without it, the stale first dispatch fails the row and the redelivery still delivers it: executed, recorded failed', () => {
    const verdict = runCase(streamspace, without, { keepEvents: true });
    expect(verdict.outcome).toBe('no-lost-commands');
    expect(verdict.violation!.message).toMatch(/^cmd-152 .* was executed successfully but is recorded failed \(by dispatcher\.fail\)$/);
    const life = lifeOf(verdict.events!, 'cmd-152');
    // The redelivery was queued before the stale failure committed, and sent after it.
    const queued = life.lastIndexOf('dispatcher.queued');
    const failed = life.indexOf('dispatcher.failed');
    expect(queued).toBeGreaterThan(-1);
    expect(failed).toBeGreaterThan(queued);
    expect(life.indexOf('hub.send')).toBeGreaterThan(failed);
  });
});

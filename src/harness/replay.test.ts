import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { SYSTEMS, streamspace } from '../systems/index.ts';
import { main } from '../cli/main.ts';
import { replayTrace, updateTrace } from './replay.ts';
import { formatTraceFile, readTraceFile, TRACE_VERSION, validateTraceFile, type TraceFile } from './trace-file.ts';

const TRACE = fileURLToPath(new URL('../../traces/lost-command-during-long-execution.json', import.meta.url));
const REMOVED = ['agent-async-handlers', 'redeliver-unfinished'];
/** The same finding as traces/stale-unregister-deletes-live-mapping.json, as format version 3 recorded it. */
const VERSION_3 = fileURLToPath(new URL('./fixtures/version-3-trace.json', import.meta.url));

/**
 * The saved file as this build records it. The saved one may have been recorded before fixes added to
 * `hardened` since (they leave its hashes as they are; `hasim replay --update` re-records it): the
 * tests below describe drift from the profile as defined now, so they start from today's recording.
 */
let recordedNowOnce: TraceFile | undefined;
function recordedNow(): TraceFile {
  recordedNowOnce ??= updateTrace(streamspace, readTraceFile(TRACE, SYSTEMS)).trace;
  return structuredClone(recordedNowOnce);
}

/**
 * The file as an older build would have recorded it, when `hardened` did not yet have the two fixes
 * that remove this finding: the expectation's recorded fixes and configuration lack them.
 */
function recordedBeforeTheFixes(): TraceFile {
  const trace = recordedNow();
  const hardened = trace.expectations.find((e) => e.profile === 'hardened')!;
  const config = structuredClone(hardened.config) as { fixes: Record<string, boolean> };
  config.fixes['agentAsyncHandlers'] = false;
  config.fixes['redeliverUnfinished'] = false;
  const older = { ...hardened, fixes: hardened.fixes!.filter((f) => !REMOVED.includes(f)), config, outcome: 'no-lost-commands', hash: '0'.repeat(64) };
  return { ...trace, expectations: trace.expectations.map((e) => (e === hardened ? older : e)) };
}

describe('self-contained trace files', () => {
  test('a file replays the configuration it recorded, not the profile as defined now, and says how they differ', () => {
    const trace = recordedBeforeTheFixes();
    const [asBuilt, hardened] = replayTrace(streamspace, trace);
    expect(asBuilt!.drift).toBeNull();
    expect(hardened!.case.fixes).not.toContain('agent-async-handlers');
    // Without the two fixes the recorded case still loses the command, although `hardened` now passes it.
    expect(hardened!.verdict.outcome).toBe('no-lost-commands');
    expect(hardened!.drift).toBe('profile hardened now adds fixes agent-async-handlers, redeliver-unfinished since this file was recorded');
  });

  test('updateTrace re-records the profile as defined now and reports every change', () => {
    const { trace, updates } = updateTrace(streamspace, recordedBeforeTheFixes());
    expect(updates[0]!.changes).toEqual([]);
    expect(updates[1]!.changes[0]).toMatch(/now adds fixes agent-async-handlers, redeliver-unfinished/);
    expect(updates[1]!.changes).toContain('outcome no-lost-commands → pass');
    expect(updates[1]!.changes.some((c) => c.startsWith('hash 000000000000… → '))).toBe(true);
    const again = validateTraceFile(JSON.parse(formatTraceFile(trace)), 'updated', SYSTEMS);
    for (const r of replayTrace(streamspace, again)) {
      expect(r.outcomeMatches && r.hashMatches).toBe(true);
      expect(r.drift).toBeNull();
    }
  });

  test('a version-2 file (no recorded configuration, the interned encoding) is upgraded to the current version and encoding', () => {
    const v3 = readTraceFile(VERSION_3, SYSTEMS);
    const v2 = { ...v3, version: 2, expectations: v3.expectations.map(({ profile, outcome, hash }) => ({ profile, outcome, hash })) };
    const { trace, updates } = updateTrace(streamspace, v2);
    expect(trace.version).toBe(TRACE_VERSION);
    // The same case as recorded by this build: the corpus holds it in the current version.
    const current = readTraceFile(fileURLToPath(new URL('../../traces/stale-unregister-deletes-live-mapping.json', import.meta.url)), SYSTEMS);
    expect(current.version).toBe(TRACE_VERSION);
    expect(trace.expectations).toEqual(current.expectations);
    for (const u of updates) {
      expect(u.changes).toHaveLength(2);
      expect(u.changes[0]).toMatch(/^records the resolved configuration/);
      expect(u.changes[1]).toMatch(/^hash .* \(re-encoded: the file's hashes were taken with the interned encoding of its format version 2\)$/);
    }
  });

  test('recorded fixes that contradict the recorded configuration are rejected', () => {
    const trace = readTraceFile(TRACE, SYSTEMS);
    const bad = { ...trace, expectations: [{ ...trace.expectations[1]!, fixes: ['fenced-effects'] }] };
    expect(() => validateTraceFile(bad, 'bad.json', SYSTEMS)).toThrow(/expectations\[0\]\.fixes: \["fenced-effects"\] do not match the recorded configuration/);
  });
});

describe('hasim replay --update', () => {
  const cli = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, (l) => out.push(l), (l) => err.push(l));
    return { code, out, err };
  };

  test('rewrites each file and prints per file what changed; the rewritten file replays clean', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hasim-update-'));
    const stale = join(dir, 'stale.json');
    const current = join(dir, 'current.json');
    writeFileSync(stale, formatTraceFile(recordedBeforeTheFixes()));
    const currentText = formatTraceFile(recordedNow());
    writeFileSync(current, currentText);
    expect((await cli('replay', stale)).code).toBe(1);
    const r = await cli('replay', '--update', stale, current);
    expect(r.code).toBe(0);
    expect(r.out[0]).toBe(`${stale}: updated`);
    expect(r.out).toContain('  hardened: outcome no-lost-commands → pass');
    expect(r.out).toContain(`${current}: unchanged`);
    expect(readFileSync(current, 'utf8')).toBe(currentText);
    const replay = await cli('replay', stale, current);
    expect(replay.code).toBe(0);
    expect(replay.out.filter((l) => l.startsWith('[ok]'))).toHaveLength(4);
  });

  test('a bad file among several is bad input: exit 2 before anything is rewritten', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hasim-update-'));
    const good = join(dir, 'good.json');
    writeFileSync(good, formatTraceFile(recordedBeforeTheFixes()));
    const before = readFileSync(good, 'utf8');
    const r = await cli('replay', '--update', good, join(dir, 'missing.json'));
    expect(r.code).toBe(2);
    expect(r.err).toHaveLength(1);
    expect(readFileSync(good, 'utf8')).toBe(before);
  });
});

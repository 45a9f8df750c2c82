import { test, expect } from 'vitest';
import { findViolation } from '../src/faults/find.ts';
import { saveFinding } from '../src/faults/save-finding.ts';
import { formatFailure } from '../src/invariants/report.ts';

/**
 * `npm run fuzz`: a long swarm campaign over every fault kind. Knobs (environment):
 * HASIM_FUZZ_PROFILE (default hardened, the profile that must pass), HASIM_FUZZ_RUNS (default 2000),
 * HASIM_FUZZ_SEED (fast-check seed, default 1), HASIM_FUZZ_OUT (default .fuzz-out).
 * A violation is shrunk, written to HASIM_FUZZ_OUT as a trace file, and fails the test with the
 * compact report and the replay command.
 */
const profile = process.env['HASIM_FUZZ_PROFILE'] ?? 'hardened';
const numRuns = Number(process.env['HASIM_FUZZ_RUNS'] ?? 2000);
const fcSeed = Number(process.env['HASIM_FUZZ_SEED'] ?? 1);
const out = process.env['HASIM_FUZZ_OUT'] ?? '.fuzz-out';

test(`swarm campaign: ${numRuns} runs of ${profile}, every fault kind`, () => {
  const finding = findViolation({ profile, numRuns, fcSeed, swarm: true });
  if (finding === null) return;
  const file = saveFinding(finding, out, `found by npm run fuzz (profile ${profile}, fast-check seed ${fcSeed}); explain the mechanism before adding it to traces/`);
  const report = formatFailure(finding.verdict, finding.case, file);
  console.log(report);
  expect.fail(report);
});

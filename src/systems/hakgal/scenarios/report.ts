import type { ScenarioReport } from '../../../index.ts';

/** How `hasim report --system hakgal` presents seed 001's claims. */
export const HAKGAL_REPORT: ScenarioReport = {
  file: 'hakgal-seed-001-claims',
  title: 'Seed 001 (HAK_GAL v2.3.3 pod-death chaos test): the claims, rerun',
  introduction:
    'Each claim is quoted from the seed report "HAK_GAL v2.3.3: Chaos Test Results - Pod Death Resilience". Its three tests are run twice: '
    + 'as written (seed 0 is the test\'s own procedure: the cache of one process is cleared and the same process, holding the same HMAC key, reads the session back), '
    + 'and as a real pod death (the pod is deleted and the user lands on another pod). Two situations the seed never tried follow: two pods serving one session at once, '
    + 'and local midnight with clocks ±2 s apart; then a user idle past the TTL. `as-built` is the manager as shipped, `hardened` has every named fix (docs/hakgal.md).',
  definitions: [
    'A session is preserved when the first request a user sends after the fault is served from the same session, with at least the tx_count_1h and trajectory it had acknowledged.',
    'Lost increments are transfers acknowledged as executed that the newest session blob in Redis does not count at the end of the run.',
  ],
  defaultProfiles: ['as-built', 'hardened'],
  profileLabel: (p) => (p === 'as-built' ? 'as built' : p),
};

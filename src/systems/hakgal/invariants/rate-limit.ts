import type { Monitor, Violation } from '../../../index.ts';
import { hakgalEvents } from '../events.ts';
import { identityKey, type HakgalView } from '../view.ts';

/**
 * FinancialToolGuard's promise (spec §1: block a transfer below 1.0 once tx_count_1h > limit),
 * judged on the transfers pods executed: a session lets through at most limit + 1 micro-transfers
 * (the check passes while the count is at most the limit).
 */
export function rateLimitSafety(limit: number): Monitor<HakgalView> {
  return {
    id: 'rate-limit-safety',
    definition:
      `At most ${limit + 1} micro-transfers (amount < 1.0) are executed per user per session lifetime, counted on the hk.transfer `
      + `effects of every pod, whatever each pod's own count said (FinancialToolGuard blocks them once tx_count_1h > ${limit}).`,
    onEvent(e, view): Violation | null {
      const d = hakgalEvents.details(e, 'hk.transfer');
      if (d === undefined || !d.micro) return null;
      const { tenant, user } = d;
      const l = view.identities.get(identityKey(tenant, user));
      if (l === undefined || l.microExecuted <= limit + 1) return null;
      return {
        invariant: 'rate-limit-safety', time: e.t, evidence: [e],
        message: `${e.p} executed micro-transfer ${l.microExecuted} of ${tenant}/${user} in one session lifetime (limit ${limit} + 1)`,
      };
    },
  };
}

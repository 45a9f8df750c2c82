import { MINUTE, SECOND, type Claim, type MetricDefinition, type Micros, type ScenarioPlan, type ScenarioSpec, type ScriptedAction, type Variation } from '../../../index.ts';
import type { HakgalCluster } from '../cluster.ts';
import { DAY, type HakgalConfig, type Identity } from '../config.ts';
import type { HakgalOverrides } from '../profiles.ts';
import type { HakgalView } from '../view.ts';
import { extraSessions, lostIncrements, survival } from './measure.ts';

type Scenario = ScenarioSpec<HakgalConfig, HakgalCluster, HakgalView>;

const METRICS: MetricDefinition[] = [
  { id: 'preserved', unit: 'fraction', definition: 'Of the users answered before the fault, the share whose first request sent after it was served from the same session with its acknowledged tx_count_1h and trajectory.' },
  { id: 'freshSessions', unit: 'count', definition: 'Users whose first request after the fault was served from a new empty session.' },
  { id: 'txAfter', unit: 'count', definition: 'tx_count_1h of the first session served after the fault (the seed\'s "tx_count_1h=5" check), for the first user.' },
  { id: 'trajectoryAfter', unit: 'count', definition: 'Trajectory vectors in the first session served after the fault (the seed\'s "10 vectors preserved"), for the first user.' },
  { id: 'txLost', unit: 'count', definition: 'Of the tx_count_1h the first user had acknowledged before the fault, how much the first session served after it lacks.' },
  { id: 'trajectoryLost', unit: 'count', definition: 'Of the trajectory vectors the first user had acknowledged before the fault, how many the first session served after it lacks.' },
  { id: 'lostIncrements', unit: 'count', definition: 'Transfers acknowledged as executed that the newest session blob in Redis does not count, at the end of the run, summed over users.' },
  { id: 'extraSessions', unit: 'count', definition: 'Sessions pods served a user from beyond its first, summed over users (1 session per user: 0).' },
];

/** The seed's "Pod-1 dies (simulated by clearing in-memory cache)": clear_cache() on pod 0, nothing else. */
const clearCache = (at: Micros): ScriptedAction<HakgalCluster, HakgalView> => ({
  at, what: 'clear_cache() on hakgal-0 (the seed\'s simulated pod death: same process, same key)',
  run: (cluster) => cluster.managers.get('hakgal-0')?.clearCache(),
});

const users = (n: number): Identity[] => Array.from({ length: n }, (_, i) => ({ tenant: 'acme', user: `user-${i}`, tabs: 1 }));

interface Procedure {
  name: string;
  summary: string;
  procedure: string;
  claims: Claim[];
  config: HakgalOverrides;
  /** The fault (real pod death) or the action (the seed's clear_cache), at `faultAt`. */
  death: 'clear-cache' | 'delete-pod' | 'none';
  faultAt: Micros;
  /** Sessions after the fault are judged on requests sent this long after it. Default 0. */
  settleAfterUs?: Micros;
  healAt?: Micros;
}

/** Seed 0 is the procedure; other seeds shift the fault by up to 2 s and draw the network's latency. */
function scenario(p: Procedure): Scenario {
  return {
    name: p.name, report: '001', summary: p.summary, procedure: p.procedure, claims: p.claims, metrics: METRICS,
    plan(v: Variation): ScenarioPlan<HakgalCluster, HakgalView> {
      const at = p.faultAt + v.offset(2 * SECOND);
      const network = v.network();
      return {
        config: p.config, faultAt: at,
        schedule: p.death === 'delete-pod' ? [{ kind: 'delete', at, target: { role: 'pod', index: 0 } }] : [],
        ...(p.death === 'clear-cache' ? { actions: [clearCache(at)] } : {}),
        ...(network === undefined ? {} : { network }),
        ...(p.healAt === undefined ? {} : { healAt: p.healAt }),
      };
    },
    measure({ instance, events, faultAt }) {
      const s = survival(events, faultAt, faultAt + (p.settleAfterUs ?? 0));
      return {
        preserved: s.users === 0 ? null : s.preserved / s.users, freshSessions: s.fresh, txAfter: s.firstTx, trajectoryAfter: s.firstTrajectory, txLost: s.txLost, trajectoryLost: s.trajectoryLost,
        lostIncrements: lostIncrements(instance, events), extraSessions: extraSessions(events),
      };
    },
  };
}

const SURVIVES: Claim = { text: 'Session state recovered from Redis: 100% recovery rate', metric: 'preserved', atLeast: 1 };

/** One user on pod 0 (pinned), transfers of 1.0 or more: the guard never blocks, every one counts. */
const SINGLE: HakgalOverrides = {
  topology: { pods: 2 },
  workload: { identities: [{ tenant: 'acme', user: 'alice', tabs: 1 }], microPercent: 0, transferPercent: 100, routing: 'pinned' },
};
/** 100 users on pod 0, a dozen requests each (about half before the fault): the seed's "state in each session", then its check. */
const HUNDRED: HakgalOverrides = { topology: { pods: 2 }, workload: { identities: users(100), routing: 'pinned', microPercent: 0, transferPercent: 50, requestsPerTab: 12 } };
const TRAJECTORY: HakgalOverrides = { topology: { pods: 2 }, workload: { identities: [{ tenant: 'acme', user: 'alice', tabs: 1 }], microPercent: 0, transferPercent: 0, routing: 'pinned' } };

const PAIRS: Array<{ base: string; test: string; config: HakgalOverrides; faultAt: Micros; claims: Claim[] }> = [
  {
    base: 'r001-single-session', test: 'Test 1 (test_session_state_survives_pod_death): a session with tx_count_1h=5', config: SINGLE, faultAt: 7 * SECOND,
    claims: [SURVIVES, { text: 'Verified state preserved (tx_count_1h=5)', metric: 'txLost', atMost: 0 }, { text: 'No data loss', metric: 'lostIncrements', atMost: 0 }],
  },
  {
    base: 'r001-100-sessions', test: 'Test 2 (test_multiple_sessions_survive_pod_death): 100 sessions with state', config: HUNDRED, faultAt: 6 * SECOND,
    claims: [{ text: '100/100 sessions recovered (100% recovery rate)', metric: 'preserved', atLeast: 1 }, { text: 'No data loss detected', metric: 'lostIncrements', atMost: 0 }],
  },
  {
    base: 'r001-trajectory', test: 'Test 3 (test_session_trajectory_survives_pod_death): a trajectory buffer of 10 vectors', config: TRAJECTORY, faultAt: 12 * SECOND,
    claims: [SURVIVES, { text: 'Trajectory buffer size: 10 vectors (preserved)', metric: 'trajectoryLost', atMost: 0 }],
  },
];

const AS_WRITTEN = 'As the seed\'s test does it: the pod\'s cache is cleared (clear_cache()) and the user goes on in the same process, which still holds the key the ids were computed with (the test\'s "Pod-2" is a second manager sharing one CryptoUtils). Seed 0 is this procedure; it cannot fail.';
const REAL_DEATH = 'The same user and state, but pod 0 really dies: it is deleted and replaced, the user\'s connection breaks and the Service sends it to pod 1 ("User lands on Pod-2"). As built each process draws its own key, so the ids differ.';

export const HAKGAL_SCENARIOS: Scenario[] = [
  ...PAIRS.flatMap((p) => [
    scenario({ name: `${p.base}-as-written`, summary: `${p.test}, pod death as the test simulates it`, procedure: AS_WRITTEN, claims: p.claims, config: p.config, death: 'clear-cache', faultAt: p.faultAt }),
    scenario({ name: `${p.base}-pod-death`, summary: `${p.test}, pod death as a real deletion`, procedure: REAL_DEATH, claims: p.claims, config: p.config, death: 'delete-pod', faultAt: p.faultAt }),
  ]),
  scenario({
    name: 'r001-two-pods', summary: 'one user, two tabs pinned to two pods at once (spec §1: concurrent requests for one session on two pods)',
    procedure: 'One user with two tabs, tab 0 on pod 0 and tab 1 on pod 1, each sending transfers and chat turns; no fault. The seed never runs two pods at once.',
    claims: [{ text: 'No data loss: zero lost updates', metric: 'lostIncrements', atMost: 0 }, { text: 'One session per user', metric: 'extraSessions', atMost: 0 }],
    config: { topology: { pods: 2 }, workload: { identities: [{ tenant: 'globex', user: 'carol', tabs: 2 }], routing: 'pinned' } },
    death: 'none', faultAt: 10 * SECOND,
  }),
  scenario({
    name: 'r001-midnight-skew', summary: '20 users across local midnight, pod clocks ±2 s apart (spec §1: daily salt on each pod\'s local date)',
    procedure: 'The run starts at 23:59:30 local time on clocks that differ by up to ±2 s (NTP at its worst); 20 users keep working through midnight, each tab on a pod the Service picks. '
      + 'The "fault" is midnight itself: state is taken at 28 s (before any clock reaches midnight) and compared on requests sent from 32 s (after every clock has passed it).',
    claims: [{ text: 'Session remains valid (no token expiry)', metric: 'preserved', atLeast: 1 }, { text: 'No data loss', metric: 'lostIncrements', atMost: 0 }],
    config: { topology: { pods: 2 }, clock: { startTimeOfDayUs: DAY - 30 * SECOND, ntpOffsetUs: 2 * SECOND }, workload: { identities: users(20) } },
    death: 'none', faultAt: 28 * SECOND, settleAfterUs: 4 * SECOND,
  }),
  scenario({
    name: 'r001-idle-past-ttl', summary: 'a user idle for 25 minutes with a 10-minute TTL (spec §1: cache never invalidated, no TTL)',
    procedure: 'The TTL is configured to 600 s ("TTL: 3600 seconds - configurable") and the run starts at noon (no midnight in it). One user sends three requests from one tab, then opens a second tab 25 minutes later on the same pod; the session expired in Redis meanwhile.',
    claims: [{ text: 'Sessions expire after TTL. Expired sessions cannot be recovered.', metric: 'preserved', atMost: 0 }],
    config: {
      topology: { pods: 1 }, session: { ttlSeconds: 600 }, clock: { startTimeOfDayUs: DAY / 2 },
      workload: { identities: [{ tenant: 'acme', user: 'alice', tabs: 2 }], requestsPerTab: 3, tabStaggerUs: 25 * MINUTE, routing: 'pinned' },
    },
    death: 'none', faultAt: 20 * MINUTE, healAt: 27 * MINUTE,
  }),
];

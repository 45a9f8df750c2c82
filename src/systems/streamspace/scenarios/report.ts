import type { ScenarioReport } from '../../../contract/scenario.ts';
import { HAPPENS } from './common.ts';
import { SAMPLE_PERIOD_US } from '../invariants/routing-availability.ts';
import { DEFAULT_TARGET } from '../invariants/request-availability.ts';

/** `hasim report` for StreamSpace: its seed reports 000, 002, 003 and 004 rerun as seeded scenarios. */
export const STREAMSPACE_REPORT: ScenarioReport = {
  file: 'streamspace-seed-reports',
  title: 'The StreamSpace seed reports, rerun as seeded simulations',
  introduction: 'Each claim of seed reports 000 (combined HA chaos testing), 002 (horizontal scalability guide), 003 (cross-pod command routing) and 004 (1,000 users, autoscaling and chaos) is checked in every run of the '
    + 'scenario that reproduces it; the tables give the share of runs in which it held, as built (the StreamSpace v2 code at commit 15f3690) and with every design fix (`hardened`), '
    + 'and the command that replays the first run in which it did not.',
  definitions: [
    'Availability is the fraction of simulated time, from a scenario\'s fault to the end of its run, in which a command issued on any ready API pod '
    + '(every pod the Service would send a request to) would be delivered to the agent\'s current WebSocket connection. It is judged from the cluster\'s state every '
    + `${SAMPLE_PERIOD_US / 1000} ms of simulated time, following SendCommandToAgent: a pod whose hub holds the agent's current connection delivers locally; `
    + 'a pod holding a stale entry for the agent delivers nothing; any other pod delivers only if it runs the Redis hub, Redis is up, agent:<id>:connected is "true", '
    + 'agent:<id>:pod names the pod holding the connection and that pod is subscribed to its channel. A paused pod delivers nothing. The run ends at the heal + the recovery '
    + 'bound B + the longest command + 10 s (as `hasim replay` judges runs), so the window is about 7-14 minutes.',
    'Request availability (report 004) is what users saw: of the requests the load generator\'s users sent from the load\'s start to its stop, the fraction answered 2xx '
    + '(a 401, a 5xx, a refused or reset connection and a client timeout all count as failures). The RTO of a fault is the time from the fault to the first instant after which '
    + `every 10 s window of requests keeps an availability of at least ${100 * DEFAULT_TARGET}% to the load's stop; a window in which no request was sent counts as below it `
    + '(within the load users always send, so every one of them was waiting on an answer: the service stalled, even if the answers came in the end). Report 004\'s own targets contradict each other: '
    + '99.9% of its 30-minute test is 1.8 s of outage in all, while each of its five chaos events was allowed an RTO of up to 30 s; '
    + 'the run figures `request-outage-budget` and `request-budget-exceeded` (`hasim run`) compare the two in every run.',
  ],
  defaultProfiles: ['streamspace-v2', 'hardened'],
  profileLabel: (profile) => (profile === 'streamspace-v2' ? 'as built' : profile),
  happens: HAPPENS,
};

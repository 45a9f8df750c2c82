import { RpcClient, SECOND, type ProcessBehaviour, type ProcessContext, type ServiceEndpoints } from '../../index.ts';
import type { HakgalConfig } from './config.ts';
import { hakgalEvents } from './events.ts';
import type { PodReply, PodRequest } from './pod.ts';

/** When the first requests leave: the pods have started and connected. */
const WORKLOAD_START_US = 1 * SECOND;
/** A tab that finds no ready pod tries again after this long. */
const NO_POD_RETRY_US = 1 * SECOND;

/**
 * The users (spec §1 workload): every identity's tabs run a closed loop, one request at a time per
 * tab, a think time uniform in [½, 1½] × `thinkUs` between (integer draws, portable across engines). A tab's connection goes to a pod picked by the Service
 * when it connects (kube-proxy balances connections, not requests) and stays there until it
 * breaks, so two tabs of one user may work on one session on two pods at once. What the users
 * see is traced: `user.request` when a request leaves, `user.ack` when its answer arrives,
 * `user.error` when it fails or times out.
 */
export function users(ctx: ProcessContext, config: HakgalConfig, service: ServiceEndpoints): ProcessBehaviour {
  const { workload } = config;
  const rng = ctx.random('workload');
  const pods = Array.from({ length: config.topology.pods }, (_, i) => `hakgal-${i}`);

  workload.identities.forEach((identity, i) => {
    for (let tab = 0; tab < identity.tabs; tab++) {
      let client: { pod: string; rpc: RpcClient } | null = null;
      let sent = 0;
      const connect = (): { pod: string; rpc: RpcClient } | null => {
        // `pinned`: tab i to pod i while it is in the Service, else wherever the Service sends it.
        const own = pods[tab % pods.length]!;
        const pod = workload.routing === 'pinned' && service.isReady(own) ? own : service.pick(rng);
        if (pod === null) return null;
        const rpc = new RpcClient(ctx, { target: pod, requestTimeoutUs: workload.requestTimeoutUs, onDisconnect: () => forget(rpc) });
        return { pod, rpc };
      };
      const forget = (rpc: RpcClient): void => {
        if (client?.rpc === rpc) client = null;
      };
      const next = (): void => {
        if (workload.requestsPerTab > 0 && sent >= workload.requestsPerTab) return;
        ctx.setTimer(rng.int(Math.floor(workload.thinkUs / 2), Math.floor(workload.thinkUs * 1.5)), request, 'think');
      };
      const request = (): void => {
        client ??= connect();
        if (client === null) return void ctx.setTimer(NO_POD_RETRY_US, request, 'no-pod');
        const roll = rng.int(0, 99);
        const op: PodRequest['op'] = roll < workload.microPercent + workload.transferPercent ? 'transfer' : 'chat';
        const r: PodRequest = { req: `${i}.${tab}.${++sent}`, tenant: identity.tenant, user: identity.user, op, micro: roll < workload.microPercent };
        hakgalEvents.record(ctx, 'user.request', { req: r.req, tenant: r.tenant, user: r.user, pod: client.pod, op: r.op, micro: r.micro });
        const { rpc } = client;
        rpc.call<PodReply>(r, (res) => {
          if (!res.ok) {
            ctx.record('user.error', { req: r.req, error: res.error });
            // A timed-out connection is dropped: the next request dials through the Service again.
            rpc.close();
            forget(rpc);
          } else if (res.value.status !== 200) {
            ctx.record('user.error', { req: r.req, error: `${res.value.status} ${res.value.reason}` });
          } else {
            const a = res.value;
            hakgalEvents.record(ctx, 'user.ack', { req: r.req, sid: a.sid, tx: a.tx, trajectory: a.trajectory, executed: a.executed, blocked: a.blocked });
          }
          next();
        });
      };
      ctx.setTimer(WORKLOAD_START_US + tab * workload.tabStaggerUs + rng.int(0, workload.thinkUs), request, 'first-request');
    }
  });
  return {};
}

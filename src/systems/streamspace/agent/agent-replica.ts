import type { BootFn } from '../../../sim-cluster/index.ts';
import { RpcClient } from '../net/rpc.ts';
import { leaseName, type AgentConfig, type ElectionConfig, type FixesConfig } from '../config.ts';
import { startLeaderElector, type LeaderElector, type LeadershipTerm } from '../kube/leader-elector.ts';
import { K8sAgent, type ApiService, type Platform } from './k8s-agent.ts';

export interface AgentReplicaOptions {
  agentId: string;
  agent: AgentConfig;
  election: ElectionConfig;
  /** ENABLE_HA: elect a leader on a Kubernetes Lease before running the agent (§8). */
  ha: boolean;
  service: ApiService;
  platform: Platform;
  /** Process name of the Kubernetes API server. */
  kubeApi: string;
  fixes: FixesConfig;
}

/**
 * One k8s-agent replica process (spec §8, agents/k8s-agent/main.go:326-402).
 * With HA: the Lease `streamspace-agent-<AgentID>` with identity POD_NAME; OnStartedLeading starts
 * the agent, OnStoppedLeading closes its stopChan; the elector is **never re-run** after it returns,
 * so a replica that lost leadership is idle until its process restarts. Command execution is never
 * gated on still being leader.
 * Without HA: the agent runs at once, and a failed first Connect is fatal (the container restarts).
 * SIGTERM: cancel the elector (release the Lease), close stopChan if the agent runs (a second close,
 * when OnStoppedLeading already closed it, panics: the process dies at once), sleep 2 s, exit.
 */
export function agentReplica(options: AgentReplicaOptions): BootFn {
  return (ctx) => {
    let agent: K8sAgent | null = null;
    let agentRunning = false;
    let stopChanClosed = false;
    let elector: LeaderElector | null = null;
    let startedTerm: LeadershipTerm | null = null;
    let shuttingDown = false;

    /** close(agent.stopChan) if the agent runs; a second close panics and the process dies. Returns false then. */
    const closeStopChan = (): boolean => {
      if (!agentRunning || agent === null) return true;
      if (stopChanClosed) {
        ctx.record('agent.panic', { why: 'close of closed channel' });
        ctx.exit();
        return false;
      }
      stopChanClosed = true;
      agent.stop();
      return true;
    };

    const makeAgent = (onRunFailed?: () => void): K8sAgent =>
      new K8sAgent(ctx, options.agentId, options.agent, options.service, options.platform, () =>
        startedTerm === null ? null : { lease: startedTerm.lease, transitions: startedTerm.transitions, electorLeads: elector?.isLeader() ?? false, fencingToken: elector?.fencingToken() ?? null },
      { writerSurvivesErrors: options.fixes.writerSurvivesErrors, asyncHandlers: options.fixes.agentAsyncHandlers, retryConnect: options.fixes.agentRetryConnect, idempotent: options.fixes.agentIdempotent, fencedEffects: options.fixes.fencedEffects },
      onRunFailed);

    if (!options.ha) {
      agent = makeAgent(() => {
        ctx.record('agent.fatal', { agent: options.agentId });
        ctx.exit();
      });
      agentRunning = true;
      agent.run();
    } else {
      const api = new RpcClient(ctx, { target: options.kubeApi });
      elector = startLeaderElector(ctx, api, {
        leaseName: leaseName(options.agentId),
        identity: ctx.name,
        leaseDurationUs: options.election.leaseDurationUs,
        renewDeadlineUs: options.election.renewDeadlineUs,
        retryPeriodUs: options.election.retryPeriodUs,
        jitterFactor: options.election.jitterFactor,
        releaseOnCancel: options.election.releaseOnCancel,
      }, {
        onStartedLeading(term) {
          startedTerm = term;
          agent = makeAgent();
          agentRunning = true;
          agent.run();
        },
        onStoppedLeading() {
          // agentRunning is read without synchronisation and never reset (main.go:365-374). On the
          // signal path main has usually closed stopChan already: this second close panics.
          if (!closeStopChan() || !options.fixes.exitOnLostLeadership || shuttingDown) return;
          // Design fix: exit so that the kubelet restarts the container and it campaigns again.
          ctx.record('agent.exit-on-lost-leadership', { agent: options.agentId });
          ctx.exit();
        },
      });
    }

    return {
      onSignal(signal) {
        if (signal !== 'SIGTERM') return;
        ctx.record('agent.sigterm', { agent: options.agentId });
        shuttingDown = true;
        elector?.cancel();
        if (closeStopChan()) ctx.setTimer(options.agent.exitDelayUs, () => ctx.exit(), 'agent.exit');
      },
    };
  };
}

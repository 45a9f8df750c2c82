import type { ProcessContext } from '../../../sim-cluster/index.ts';
import type { AgentMessage } from '../wire.ts';
import { podChannel, type AgentHub } from './agent-hub.ts';
import type { PubSubPort } from './ports.ts';

/**
 * listenRedisCommands (spec §2.3, agent_hub.go:690-768): subscribes to the pod's own channel. If the
 * first confirmation fails it returns **for good** (no retry). Each message is forwarded to the
 * local connection's Send; a message for an agent that is not local, or whose Send is full, is
 * logged and **dropped**. The command row stays `sent`. `onConfirm` comes once, for the first Receive:
 * a failure closes the PubSub here, and after a confirmation the PubSub reconnects and resubscribes
 * by itself without reporting it (redis/pubsub-machine.ts).
 */
export function startRedisListener(ctx: ProcessContext, hub: AgentHub, pubsub: PubSubPort): void {
  const channel = podChannel(hub.podName);
  const subscription = pubsub.subscribe(channel, {
    onConfirm(r) {
      if (!r.ok) {
        ctx.record('listener.exit', { channel, why: r.message });
        subscription.close();
        return;
      }
      ctx.record('listener.subscribed', { channel });
    },
    onMessage(payload) {
      const { agentId, message } = JSON.parse(payload) as { agentId: string; message: AgentMessage };
      const command = message.type === 'command' ? message.commandId : '';
      hub.withLocalConnection(agentId, (conn) => {
        if (conn === undefined) return ctx.record('listener.drop', { command, agent: agentId, why: 'not-local' });
        if (!conn.offer(message)) return ctx.record('listener.drop', { command, agent: agentId, why: 'send-full' });
        ctx.record('listener.forward', { command, agent: agentId, conn: conn.id });
      });
    },
  });
}

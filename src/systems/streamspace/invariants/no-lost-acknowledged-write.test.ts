import { describe, expect, test } from 'vitest';
import { SECOND, type TraceEvent } from '../../../sim-cluster/index.ts';
import { caseOf, execute } from '../../../harness/run-case.ts';
import { NAMED_DEPLOYMENTS } from '../deployments.ts';
import type { ConfigOverrides } from '../config.ts';
import { streamspace } from '../system.ts';
import { ClusterView } from './cluster-view.ts';
import { noLostAcknowledgedWrite } from './no-lost-acknowledged-write.ts';

const ack = (t: number, wid: string, stmt = 'producer.insert', command: string | null = 'cmd-1', server = 'postgres-0'): TraceEvent => ({ t, p: 'api-0', k: 'sql.ack', d: { wid, stmt, command, server } });
const lost = (t: number, wids: string[], reason = 'promotion'): TraceEvent => ({ t, p: 'postgres-0', k: 'pg.lost-writes', d: { member: 'postgres-0', promoted: 'postgres-1', reason, wids } });
const insert = (t: number, command: string, wid: string): TraceEvent => ({ t, p: 'postgres-0', k: 'db.command.insert', d: { command, agent: 'a', action: 'start_session', client: 'api-0', wid } });
const status = (t: number, command: string, from: string, to: string, by: string, wid: string): TraceEvent => ({ t, p: 'postgres-0', k: 'db.command.status', d: { command, agent: 'a', from, to, by, client: 'api-0', wid } });

/** Feeds events to a view and the monitor, as the harness does: the view first. */
function judge(events: TraceEvent[]): { view: ClusterView; violations: string[] } {
  const view = new ClusterView();
  const violations: string[] = [];
  for (const e of events) {
    view.apply(e);
    if (!noLostAcknowledgedWrite.kinds!.includes(e.k)) continue;
    const v = noLostAcknowledgedWrite.onEvent!(e, view);
    if (v !== null) violations.push(v.message);
  }
  return { view, violations };
}

describe('no-lost-acknowledged-write', () => {
  test('an acknowledged write a failover loses is a violation, in either order; a lost write nobody was told about is not', () => {
    expect(judge([ack(1, 'api-0#1/1'), lost(2, ['api-0#1/1'])]).violations).toEqual([
      'write api-0#1/1 (producer.insert of cmd-1), acknowledged to api-0 at 0.000s, is lost: postgres-0 had it, postgres-1 was promoted without it at 0.000s',
    ]);
    // An isolated old primary answers after the promotion: the acknowledgement comes second.
    expect(judge([lost(1 * SECOND, ['api-0#1/2']), ack(2 * SECOND, 'api-0#1/2', 'ws.ack')]).violations).toEqual([
      'write api-0#1/2 (ws.ack of cmd-1), acknowledged to api-0 at 2.000s, was acknowledged after it had been lost: postgres-0 had it, postgres-1 was promoted without it at 1.000s',
    ]);
    expect(judge([ack(1, 'api-0#1/1'), lost(2, ['api-0#1/9'], 'rewind')]).violations).toEqual([]);
  });

  test('a write lib/pq ran again on the new primary, after its first copy committed on the old one, is lost only if the copy that was acknowledged is', () => {
    // The old primary's copy is lost at the promotion; the retry on postgres-1 is what api-0 was told about.
    expect(judge([lost(1, ['api-0#1/3']), ack(2, 'api-0#1/3', 'dispatcher.sent', 'cmd-1', 'postgres-1')]).violations).toEqual([]);
    expect(judge([ack(1, 'api-0#1/3', 'dispatcher.sent', 'cmd-1', 'postgres-1'), lost(2, ['api-0#1/3'], 'rewind')]).violations).toEqual([]);
    // The view keeps the row's status as the surviving copy wrote it.
    const { view } = judge([
      insert(1, 'cmd-1', 'w1'), status(2, 'cmd-1', 'pending', 'sent', 'dispatcher.sent', 'w2'),
      { ...status(3, 'cmd-1', 'pending', 'sent', 'dispatcher.sent', 'w2'), p: 'postgres-1' },
      lost(4, ['w2']),
    ]);
    expect(view.commands.get('cmd-1')).toMatchObject({ status: 'sent', statusBy: 'dispatcher.sent' });
  });

  test('the view takes lost writes back: a row whose INSERT was lost is gone, a lost status write leaves the status before it', () => {
    const { view } = judge([
      insert(1, 'cmd-1', 'w1'), status(2, 'cmd-1', 'pending', 'sent', 'dispatcher.sent', 'w2'), status(3, 'cmd-1', 'sent', 'ack', 'ws.ack', 'w3'),
      insert(4, 'cmd-2', 'w4'),
      lost(5, ['w3', 'w4']),
    ]);
    expect(view.commands.get('cmd-1')).toMatchObject({ status: 'sent', statusBy: 'dispatcher.sent' });
    expect(view.commands.has('cmd-2')).toBe(false);
  });

  test('write ids stay unique across an API pod\'s restarts (the pod\'s counter starts over; the incarnation tells them apart)', () => {
    const overrides = NAMED_DEPLOYMENTS.find((d) => d.name === 'r004-patroni-async')!.overrides as ConfigOverrides;
    const x = execute(streamspace, caseOf(streamspace, 'hardened', 3, [{ kind: 'crash', at: 150 * SECOND, target: { role: 'api', index: 0 } }], { overrides }), { keepEvents: true });
    const wids = x.verdict.events!.filter((e) => e.k === 'sql.ack').map((e) => e.d!['wid'] as string);
    expect(new Set(wids).size).toBe(wids.length);
    expect(wids.some((w) => w.startsWith('api-0#2/'))).toBe(true);
    expect(x.verdict.outcome).toBe('pass');
  });
});

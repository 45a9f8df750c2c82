import { describe, expect, test } from 'vitest';
import { DEFAULT_NETWORK_OPTIONS, type CloseReason, type ConnectionEnd, type LinkOptions } from './network.ts';
import { Simulation } from './simulation.ts';
import { MS, SECOND } from './time.ts';

/** The default link, with its jitter and tail: deliveries depend on the random draws. */
const DEFAULT_LINK: LinkOptions = DEFAULT_NETWORK_OPTIONS.link;
const FIXED: LinkOptions = { latency: { baseUs: 1 * MS, jitterUs: 0, tailChance: 0, tailUs: 0 }, dropRate: 0, duplicateRate: 0 };

interface Log {
  received: Array<[number, unknown]>;
  closes: Array<[number, string, CloseReason]>;
  opened: number[];
}

/**
 * Two nodes: `server` on node s (records what it receives, keeps accepted ends in `accepted`),
 * `client` on node c (its connection end is returned through `clientEnd()`).
 */
function pair(link: LinkOptions = FIXED, seed = 1) {
  const sim = new Simulation({ seed, network: { link } });
  sim.addNode('s');
  sim.addNode('c');
  const server: Log = { received: [], closes: [], opened: [] };
  const client: Log = { received: [], closes: [], opened: [] };
  const accepted: ConnectionEnd[] = [];
  let end: ConnectionEnd | null = null;
  sim.addProcess({
    name: 'server', node: 's', boot: () => ({
      onAccept(conn) {
        accepted.push(conn);
        conn.onMessage = (m) => server.received.push([sim.now, m]);
        conn.onClose = (r) => server.closes.push([sim.now, conn.id, r]);
      },
      onDatagram: (_from, m) => server.received.push([sim.now, m]),
    }),
  });
  sim.addProcess({ name: 'client', node: 'c', boot: () => ({ onDatagram: (_f, m) => client.received.push([sim.now, m]) }) });
  sim.run({ until: 0 });
  const clientCtx = () => {
    const ctx = sim.process('client').ctx;
    if (ctx === null) throw new Error('client not running');
    return ctx;
  };
  const dial = (timeoutUs?: number): ConnectionEnd => {
    end = clientCtx().connect('server', {
      onOpen: () => client.opened.push(sim.now),
      onMessage: (m) => client.received.push([sim.now, m]),
      onClose: (r) => client.closes.push([sim.now, end!.id, r]),
    }, timeoutUs === undefined ? {} : { timeoutUs });
    return end;
  };
  return { sim, server, client, accepted, dial, clientCtx };
}

describe('datagrams', () => {
  test('arrive after the link latency; loss and duplication rates are within tolerance', () => {
    const link: LinkOptions = { latency: { baseUs: 100, jitterUs: 400, tailChance: 0, tailUs: 0 }, dropRate: 0.2, duplicateRate: 0.1 };
    const { sim, server, clientCtx } = pair(link);
    const n = 20_000;
    for (let i = 0; i < n; i++) clientCtx().sendDatagram('server', i);
    sim.run();
    for (const [t] of server.received) {
      expect(t).toBeGreaterThanOrEqual(100);
      expect(t).toBeLessThanOrEqual(500);
    }
    const distinct = new Set(server.received.map(([, m]) => m)).size;
    const dups = server.received.length - distinct;
    // Expected: 16,000 delivered, 1,600 duplicated. Tolerances are ~5 standard deviations.
    expect(distinct).toBeGreaterThan(16_000 - 300);
    expect(distinct).toBeLessThan(16_000 + 300);
    expect(dups).toBeGreaterThan(1_600 - 200);
    expect(dups).toBeLessThan(1_600 + 200);
  });

  test('a symmetric partition drops both ways; heal restores', () => {
    const { sim, server, client, clientCtx } = pair();
    sim.network.partition(['s'], ['c']);
    clientCtx().sendDatagram('server', 'lost');
    sim.process('server').ctx!.sendDatagram('client', 'lost too');
    sim.run({ until: SECOND });
    sim.network.heal(['s'], ['c']);
    clientCtx().sendDatagram('server', 'after heal');
    sim.run();
    expect(server.received.map(([, m]) => m)).toEqual(['after heal']);
    expect(client.received).toEqual([]);
  });

  test('an asymmetric partition cuts one direction only', () => {
    const { sim, server, client, clientCtx } = pair();
    sim.network.partition(['c'], ['s'], true);
    clientCtx().sendDatagram('server', 'c->s');
    sim.process('server').ctx!.sendDatagram('client', 's->c');
    sim.run();
    expect(server.received).toEqual([]);
    expect(client.received.map(([, m]) => m)).toEqual(['s->c']);
  });

  test('a datagram in flight when the partition starts is dropped', () => {
    const { sim, server, clientCtx } = pair();
    clientCtx().sendDatagram('server', 'x');
    sim.at(500, () => sim.network.isolate('s'));
    sim.run();
    expect(server.received).toEqual([]);
  });
});

describe('connections', () => {
  test('handshake, ordered delivery despite jitter, graceful close', () => {
    const jittery: LinkOptions = { latency: { baseUs: 100, jitterUs: 5 * MS, tailChance: 0.2, tailUs: 50 * MS }, dropRate: 0, duplicateRate: 0 };
    const { sim, server, client, accepted, dial } = pair(jittery);
    const end = dial();
    sim.run();
    expect(client.opened.length).toBe(1);
    for (let i = 0; i < 500; i++) end.send(i);
    end.close();
    sim.run();
    expect(server.received.map(([, m]) => m)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(server.closes.map(([, , r]) => r)).toEqual(['closed']);
    expect(accepted[0]!.state).toBe('half-closed'); // FIN received; the server has not closed its side
    expect(end.send('late')).toBe(false);
  });

  test('an end lets go of its handlers once none can run again: closed, or half-closed by the peer\'s FIN', () => {
    const { sim, server, client, accepted, dial } = pair();
    const end = dial();
    sim.run();
    end.send('x');
    end.close();
    sim.run();
    expect(server.received.map(([, m]) => m)).toEqual(['x']);
    expect(server.closes.map(([, , r]) => r)).toEqual(['closed']);
    const served = accepted[0]!;
    expect(served.state).toBe('half-closed');
    for (const e of [end, served]) expect([e.onOpen, e.onMessage, e.onClose]).toEqual([undefined, undefined, undefined]);
    // A write on the half-closed end still leaves; the RST it draws fails nothing the owner sees.
    expect(served.send('late')).toBe(true);
    sim.run();
    expect(served.state).toBe('closed');
    expect(client.closes).toEqual([]);
  });

  test('a connection reset by the network still tells its owner (onClose runs before the end lets go of it)', () => {
    const { sim, client, dial } = pair();
    const end = dial();
    sim.run();
    sim.crash('server');
    end.send('to a dead peer');
    sim.run();
    expect(client.closes.map(([, , r]) => r)).toEqual(['reset']);
    expect(end.onClose).toBeUndefined();
  });

  test('loss on a connection delays segments (retransmission) but never loses or reorders them', () => {
    const lossy: LinkOptions = { ...FIXED, dropRate: 0.3 };
    const { sim, server, dial } = pair(lossy);
    const end = dial();
    sim.run();
    for (let i = 0; i < 200; i++) end.send(i);
    sim.run();
    expect(server.received.map(([, m]) => m)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(server.received.at(-1)![0]).toBeGreaterThan(200 * MS); // some segments waited for an RTO
  });

  test('partition: data is held (sender unaware, receiver half-open) and delivered in order after heal', () => {
    const { sim, server, client, dial } = pair();
    const end = dial();
    sim.run();
    end.send('before');
    sim.run();
    sim.network.partition(['s'], ['c']);
    end.send('during-1');
    end.send('during-2');
    sim.run({ until: 30 * SECOND });
    expect(server.received.map(([, m]) => m)).toEqual(['before']);
    expect(server.closes).toEqual([]);
    expect(client.closes).toEqual([]);
    sim.network.heal(['s'], ['c']);
    end.send('after');
    sim.run();
    expect(server.received.map(([, m]) => m)).toEqual(['before', 'during-1', 'during-2', 'after']);
    expect(server.received[1]![0]).toBeGreaterThanOrEqual(30 * SECOND);
  });

  test('data held past the TCP user timeout fails the sender with timeout; the receiver stays half-open', () => {
    const sim0 = pair();
    const { sim, server, client, accepted, dial } = sim0;
    const end = dial();
    sim.run();
    const t0 = sim.now;
    sim.network.isolate('s');
    end.send('doomed');
    sim.run({ until: t0 + 1000 * SECOND });
    expect(client.closes).toEqual([[t0 + sim.network.options.tcpUserTimeoutUs, end.id, 'timeout']]);
    expect(server.closes).toEqual([]);
    expect(accepted[0]!.state).toBe('open');
  });

  test('process crash on a live host: the peer gets reset', () => {
    const { sim, client, dial } = pair();
    dial();
    sim.run();
    sim.crash('server');
    sim.run();
    expect(client.closes.map(([, , r]) => r)).toEqual(['reset']);
  });

  test('node death: the peer hears nothing (half-open) until it writes, and gets reset once the host is back', () => {
    const { sim, client, dial } = pair();
    const end = dial();
    sim.run();
    sim.failNode('s');
    sim.run({ until: 100 * SECOND });
    expect(client.closes).toEqual([]);
    expect(end.isOpen).toBe(true);
    end.send('into the void');
    sim.run({ until: 200 * SECOND });
    expect(client.closes).toEqual([]);
    sim.recoverNode('s'); // host back, process not restarted: the kernel answers RST
    sim.run();
    expect(client.closes.map(([, , r]) => r)).toEqual(['reset']);
  });

  test('a paused receiver buffers data and reads it on resume; the sender notices nothing', () => {
    const { sim, server, client, dial } = pair();
    const end = dial();
    sim.run();
    sim.pause('server');
    end.send(1);
    end.send(2);
    sim.run({ until: 20 * SECOND });
    expect(server.received).toEqual([]);
    sim.resume('server');
    sim.run();
    expect(server.received).toEqual([[20 * SECOND, 1], [20 * SECOND, 2]]);
    expect(client.closes).toEqual([]);
  });

  test('connect to a host with nothing running is refused; to an unreachable host it times out', () => {
    const { sim, client, dial } = pair();
    sim.crash('server');
    dial();
    sim.run();
    expect(client.closes.map(([, , r]) => r)).toEqual(['refused']);
    sim.start('server');
    sim.network.isolate('s');
    const t0 = sim.now;
    dial(5 * SECOND);
    sim.run();
    expect(client.closes[1]).toEqual([t0 + 5 * SECOND, 'c1', 'connect-timeout']);
  });

  test('a SYN retried across a short partition connects once it heals', () => {
    const { sim, client, dial } = pair();
    sim.network.isolate('s');
    dial(30 * SECOND);
    sim.at(2500 * MS, () => sim.network.rejoin('s'));
    sim.run();
    // SYN retries at 1 s and 3 s (Linux doubling): the one at 3 s gets through.
    expect(client.opened).toEqual([3 * SECOND + 2 * MS]);
  });

  test('keepalive detects a silent peer after idle + probes x interval', () => {
    const { sim, accepted, server, dial } = pair();
    dial();
    sim.run();
    accepted[0]!.enableKeepAlive({ idleUs: 15 * SECOND, intervalUs: 15 * SECOND, probes: 9 });
    const t0 = sim.now;
    sim.failNode('c');
    sim.run({ until: t0 + 1000 * SECOND });
    // Probes at idle (15 s) then every 15 s; the 9th unanswered one closes the end.
    expect(server.closes).toEqual([[t0 + 15 * SECOND + 8 * 15 * SECOND, accepted[0]!.id, 'keepalive']]);
  });
});

describe('half-close (FIN received)', () => {
  test('the first write after the peer closed still leaves; the peer answers RST and later writes fail', () => {
    const { sim, accepted, client, dial } = pair();
    const end = dial();
    sim.run();
    accepted[0]!.close();
    sim.run();
    expect(client.closes.map(([, , r]) => r)).toEqual(['closed']);
    expect(end.state).toBe('half-closed');
    expect(end.send('after FIN')).toBe(true);
    sim.run();
    expect(end.state).toBe('closed');
    expect(end.send('after RST')).toBe(false);
    expect(client.closes).toHaveLength(1); // the owner heard once, at FIN
  });
});

describe('TCP retransmission', () => {
  test('a segment lost during a burst is retried against the link as it is then: after the burst it gets through at the next RTO, and nothing overtakes it', () => {
    const { sim, server, dial } = pair();
    const end = dial();
    sim.run();
    sim.network.setLink('c', 's', { ...FIXED, dropRate: 1 });
    const t0 = sim.now;
    end.send('first');
    end.send('second');
    sim.at(t0 + 1 * SECOND, () => sim.network.resetLink('c', 's'));
    sim.run();
    // Losses at t0, t0+0.2 s, t0+0.6 s (RTO 200, 400, 800 ms); the retry at t0+1.4 s meets a clean link.
    expect(server.received).toEqual([[t0 + 1400 * MS + 1 * MS, 'first'], [t0 + 1400 * MS + 1 * MS, 'second']]);
  });

  test('the RTO doubles up to its cap, and a segment lost 15 times fails the connection', () => {
    const { sim, client, dial } = pair();
    const end = dial();
    sim.run();
    sim.network.setLink('c', 's', { ...FIXED, dropRate: 1 });
    const t0 = sim.now;
    end.send('doomed');
    sim.run();
    // 200 ms x (1 + 2 + ... + 2^9) = 204.6 s, then five more at the 120 s cap: the 16th loss fails it.
    let total = 0;
    for (let i = 0; i < 15; i++) total += Math.min(200 * MS * 2 ** i, 120 * SECOND);
    expect(client.closes).toEqual([[t0 + total, end.id, 'timeout']]);
  });
});

describe('process cuts (a NetworkPolicy between pods)', () => {
  /** `pair()` plus `neighbour`, a third process on the server's node that records its datagrams. */
  function trio() {
    const p = pair();
    const neighbour: Array<[number, unknown]> = [];
    p.sim.addProcess({ name: 'neighbour', node: 's', boot: () => ({ onDatagram: (_f, m) => neighbour.push([p.sim.now, m]) }) });
    p.sim.run({ until: 0 });
    return { ...p, neighbour };
  }

  test('a cut between two processes on one node drops both ways; the node\'s other links are untouched; heal restores', () => {
    const { sim, server, client, clientCtx, neighbour } = trio();
    sim.network.cutProcesses(['server'], ['neighbour']);
    sim.process('neighbour').ctx!.sendDatagram('server', 'n->s');
    sim.process('server').ctx!.sendDatagram('neighbour', 's->n');
    clientCtx().sendDatagram('server', 'c->s');
    clientCtx().sendDatagram('neighbour', 'c->n');
    sim.process('server').ctx!.sendDatagram('client', 's->c');
    sim.run({ until: SECOND });
    expect(server.received.map(([, m]) => m)).toEqual(['c->s']);
    expect(neighbour.map(([, m]) => m)).toEqual(['c->n']);
    expect(client.received.map(([, m]) => m)).toEqual(['s->c']);
    sim.network.healProcesses(['server'], ['neighbour']);
    sim.process('neighbour').ctx!.sendDatagram('server', 'after heal');
    sim.run();
    expect(server.received.map(([, m]) => m)).toEqual(['c->s', 'after heal']);
  });

  test('a one-way cut blocks only from → to, and cuts nest', () => {
    const { sim, server, client, clientCtx } = trio();
    sim.network.cutProcesses(['client'], ['server'], true);
    sim.network.cutProcesses(['client'], ['server'], true);
    clientCtx().sendDatagram('server', 'c->s');
    sim.process('server').ctx!.sendDatagram('client', 's->c');
    sim.run({ until: SECOND });
    sim.network.healProcesses(['client'], ['server'], true);
    clientCtx().sendDatagram('server', 'still cut');
    sim.run({ until: 2 * SECOND });
    sim.network.healProcesses(['client'], ['server'], true);
    clientCtx().sendDatagram('server', 'open');
    sim.run();
    expect(server.received.map(([, m]) => m)).toEqual(['open']);
    expect(client.received.map(([, m]) => m)).toEqual(['s->c']);
    expect(() => sim.network.healProcesses(['client'], ['server'], true)).toThrow(/which no process cut blocks/);
  });

  test('a cut holds connection data like a partition (both ends unaware) and delivers it in order after heal', () => {
    const { sim, server, client, dial } = trio();
    const end = dial();
    sim.run();
    sim.network.cutProcesses(['client'], ['server']);
    end.send('during');
    sim.run({ until: sim.now + 30 * SECOND });
    expect(server.received).toEqual([]);
    expect([server.closes, client.closes]).toEqual([[], []]);
    sim.network.healProcesses(['client'], ['server']);
    end.send('after');
    sim.run();
    expect(server.received.map(([, m]) => m)).toEqual(['during', 'after']);
  });

  test('a dial across a cut gets no answer and times out (dropped, not refused)', () => {
    const { sim, client, dial } = trio();
    sim.network.cutProcesses(['client'], ['server']);
    const end = dial(5 * SECOND);
    sim.run();
    expect(client.closes).toEqual([[5 * SECOND, end.id, 'connect-timeout']]);
  });

  test('an isolated process reaches nobody and nobody reaches it, including a process added later; its node is untouched', () => {
    const { sim, server, clientCtx, neighbour } = trio();
    sim.network.isolateProcess('server');
    clientCtx().sendDatagram('server', 'c->s');
    clientCtx().sendDatagram('neighbour', 'c->n');
    const late: unknown[] = [];
    sim.addProcess({ name: 'late', node: 'c', boot: () => ({ onDatagram: (_f, m) => late.push(m) }) });
    sim.run({ until: 0 });
    sim.process('late').ctx!.sendDatagram('server', 'late->s');
    sim.process('server').ctx!.sendDatagram('late', 's->late');
    sim.run({ until: SECOND });
    expect(server.received).toEqual([]);
    expect(late).toEqual([]);
    expect(neighbour.map(([, m]) => m)).toEqual(['c->n']);
    sim.network.rejoinProcess('server');
    clientCtx().sendDatagram('server', 'rejoined');
    sim.run();
    expect(server.received.map(([, m]) => m)).toEqual(['rejoined']);
    expect(() => sim.network.rejoinProcess('server')).toThrow(/which no isolation cuts/);
  });

  test('healAll removes process cuts and isolations too', () => {
    const { sim, server, clientCtx, neighbour } = trio();
    sim.network.isolateProcess('server');
    sim.network.cutProcesses(['client'], ['neighbour']);
    sim.network.healAll();
    clientCtx().sendDatagram('server', 'a');
    clientCtx().sendDatagram('neighbour', 'b');
    sim.run();
    expect(server.received.map(([, m]) => m)).toEqual(['a']);
    expect(neighbour.map(([, m]) => m)).toEqual(['b']);
  });

  test('cuts are traced and deterministic: the same cuts give the same trace hash', () => {
    const hashOf = (): { hash: string; kinds: string[] } => {
      const { sim, dial } = trio();
      const kinds: string[] = [];
      sim.trace.subscribe((e) => void (e.k.startsWith('net.process') && kinds.push(e.k)));
      const end = dial();
      sim.run();
      sim.network.cutProcesses(['client'], ['server'], true);
      sim.network.isolateProcess('neighbour');
      for (let i = 0; i < 10; i++) end.send(i);
      sim.run({ until: sim.now + SECOND });
      sim.network.healProcesses(['client'], ['server'], true);
      sim.network.rejoinProcess('neighbour');
      sim.run();
      return { hash: sim.trace.hash(), kinds };
    };
    const a = hashOf();
    expect(a).toEqual(hashOf());
    expect(a.kinds).toEqual(['net.process-cut', 'net.process-isolate', 'net.process-heal', 'net.process-rejoin']);
  });
});

describe('egress rules (an egress NetworkPolicy)', () => {
  /** Selects the client and any process whose name starts with `late` (a pod selector). */
  const selected = (p: { name: string }): boolean => p.name === 'client' || p.name.startsWith('late');

  test('kept: a selected process cannot dial the target (the SYN is dropped: it times out), its established connection keeps flowing', () => {
    const { sim, server, client, accepted, dial } = pair();
    const established = dial();
    sim.run();
    sim.network.addEgressRule({ from: selected, to: new Set(['server']), existing: 'kept' });
    established.send('old conn');
    accepted[0]!.send('reply');
    const fresh = dial(5 * SECOND);
    const t0 = sim.now;
    sim.run();
    expect(server.received.map(([, m]) => m)).toEqual(['old conn']);
    expect(client.received.map(([, m]) => m)).toEqual(['reply']);
    expect(client.closes).toEqual([[t0 + 5 * SECOND, fresh.id, 'connect-timeout']]);
    expect(accepted).toHaveLength(1);
  });

  test('a process added while the rule is installed is selected too; one the rule does not select dials as before; datagrams are dropped', () => {
    const { sim, server, clientCtx } = pair();
    sim.network.addEgressRule({ from: selected, to: new Set(['server']), existing: 'kept' });
    const outcomes: Record<string, string> = {};
    for (const name of ['late-1', 'other']) {
      sim.addProcess({
        name, node: 'c', boot: (ctx) => {
          ctx.connect('server', { onOpen: () => void (outcomes[name] = 'open'), onClose: (r) => void (outcomes[name] = r) }, { timeoutUs: 5 * SECOND });
          return {};
        },
      });
    }
    clientCtx().sendDatagram('server', 'dropped');
    sim.run();
    expect(outcomes).toEqual({ 'late-1': 'connect-timeout', other: 'open' });
    expect(server.received).toEqual([]);
  });

  test('cut: established connections stall both ways, their ends unaware; removing the rule delivers the held data in order', () => {
    const { sim, server, client, accepted, dial } = pair();
    const end = dial();
    sim.run();
    const rule = sim.network.addEgressRule({ from: selected, to: new Set(['server']), existing: 'cut' });
    end.send('a');
    accepted[0]!.send('b');
    sim.run({ until: sim.now + 30 * SECOND });
    expect([server.received, client.received, server.closes, client.closes]).toEqual([[], [], [], []]);
    sim.network.removeEgressRule(rule);
    end.send('c');
    sim.run();
    expect(server.received.map(([, m]) => m)).toEqual(['a', 'c']);
    expect(client.received.map(([, m]) => m)).toEqual(['b']);
  });

  test('a dial in progress connects at its next SYN once the rule is removed', () => {
    const { sim, client, dial } = pair();
    const rule = sim.network.addEgressRule({ from: selected, to: new Set(['server']), existing: 'kept' });
    dial(30 * SECOND);
    sim.run({ until: 2500 * MS });
    sim.network.removeEgressRule(rule);
    sim.run();
    // SYNs at 0, 1 s, 3 s (Linux backoff): the one at 3 s gets through.
    expect(client.opened).toEqual([3 * SECOND + 2 * MS]);
  });

  test('healAll removes every rule; removing one already removed does nothing; rules are traced', () => {
    const { sim, server, clientCtx } = pair();
    const kinds: string[] = [];
    sim.trace.subscribe((e) => void (e.k.startsWith('net.egress') && kinds.push(e.k)));
    const kept = sim.network.addEgressRule({ from: selected, to: new Set(['server']), existing: 'kept' });
    const cut = sim.network.addEgressRule({ from: selected, to: new Set(['server']), existing: 'cut' });
    sim.network.removeEgressRule(kept);
    sim.network.healAll();
    sim.network.removeEgressRule(cut);
    clientCtx().sendDatagram('server', 'through');
    sim.run();
    expect(server.received.map(([, m]) => m)).toEqual(['through']);
    expect(kinds).toEqual(['net.egress-deny', 'net.egress-deny', 'net.egress-allow']);
  });

  test('a rule that selects nothing changes no delivery and no random draw', () => {
    const times = (withRule: boolean): number[] => {
      const { sim, server, dial, clientCtx } = pair(DEFAULT_LINK, 3);
      if (withRule) sim.network.addEgressRule({ from: () => false, to: new Set(['server']), existing: 'cut' });
      const end = dial();
      sim.run();
      for (let i = 0; i < 50; i++) {
        end.send(i);
        clientCtx().sendDatagram('server', -i);
      }
      sim.run();
      return server.received.map(([t]) => t);
    };
    expect(times(true)).toEqual(times(false));
  });
});

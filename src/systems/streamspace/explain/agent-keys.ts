import { formatTime, type Micros, type TraceEvent } from '../../../sim-cluster/index.ts';
import { REDIS } from '../cluster/cluster.ts';
import { diagnostics, events } from '../events.ts';

/** `agent:<id>:pod` or `agent:<id>:connected`: the keys the hub writes at register and deletes at unregister. */
export const AGENT_KEY = /^agent:(.+):(pod|connected)$/;

/** Why a key is not in Redis: how it went, and the register SET that failed to bring it back since. */
interface Missing {
  since: Micros;
  how: string;
  failedSet: { t: Micros; pod: string; conn: string | null; error: string } | null;
}

type KeyState = { present: true; value: string } | { present: false; missing: Missing };

/** What one API pod's hub loop is doing: a register or an unregister, from `handling` to `idle`. */
interface Handling {
  register: { agent: string; conn: string } | null;
  unregister: { agent: string; conn: string } | null;
}

/** Who sent a DEL: a hub unregistering the agent, or one that had given up on its request already. */
interface Issuer {
  pod: string;
  conn: string;
  /** When the pod's hub got an error back for this request and went on (the request arrived later). */
  gaveUp: { t: Micros; error: string } | null;
}

/** A run of failures to route to an agent for want of one key: the first is told, the rest counted. */
export interface FailureRun {
  key: string;
  count: number;
}

/**
 * The agent keys in Redis as the trace tells them, with why a missing one is missing, and what each
 * API pod's hub loop is handling. Redis records a DEL without saying who sent it; the hub loop
 * holds one register or unregister at a time, from its `handling` state to `idle` (agent-hub.ts:
 * the write lock is held across the DB and Redis calls), and only `handleUnregister` deletes agent
 * keys, so a DEL of an agent's keys comes from a pod whose hub is unregistering that agent then.
 */
export class AgentKeys {
  private readonly keys = new Map<string, KeyState>();
  private readonly handling = new Map<string, Handling>();
  /** Since when Redis is down, while it is: every key is missing then. */
  private down: Missing | null = null;
  /** Redis restored a snapshot whose content the trace does not hold: keys not written since are unknown. */
  private restoredAt: Micros | null = null;
  /** API pods running without Redis (single-pod mode): their routing never reads a key. */
  private readonly withoutRedis = new Set<string>();
  /** Per missing key, the run of routing failures it caused since it went missing. */
  private readonly runs = new Map<Missing, FailureRun>();
  /** The absence of keys never written, one per key, so that their failures form one run. */
  private readonly never = new Map<string, Missing>();
  /**
   * Per agent, the unregister DELs whose sender got a timeout or a lost connection back: Redis may
   * still apply them later (a request held up in the network), after the hub went on. One leaves
   * the list when a DEL is known to be it; one applied without removing anything (unrecorded)
   * stays, which can only widen the candidates of a later DEL, never drop its sender.
   */
  private readonly abandoned = new Map<string, Issuer[]>();

  /** Takes in one event; call after describing it, since descriptions tell the state before it. */
  apply(e: TraceEvent): void {
    const state = diagnostics.details(e, 'actor.state');
    if (state !== undefined) {
      if (state.actor !== 'hub') return;
      if (state.state === 'handling') this.handling.set(e.p, { register: null, unregister: null });
      else this.handling.delete(e.p);
      return;
    }
    const registered = events.details(e, 'hub.register');
    if (registered !== undefined) {
      const h = this.handling.get(e.p);
      if (h !== undefined) h.register = { agent: registered.agent, conn: registered.conn };
      return;
    }
    const unregistered = events.details(e, 'hub.unregister');
    if (unregistered !== undefined) {
      const h = this.handling.get(e.p);
      if (h !== undefined) h.unregister = { agent: unregistered.agent, conn: unregistered.conn };
      return;
    }
    const set = diagnostics.details(e, 'redis.set');
    if (set !== undefined) {
      if (AGENT_KEY.test(set.key)) this.keys.set(set.key, { present: true, value: set.value });
      return;
    }
    const del = diagnostics.details(e, 'redis.del');
    if (del !== undefined) {
      const issuers = this.issuersOf(del.keys);
      // A late request is applied once: a later DEL is not that one's (when it is known which it was).
      const agent = this.agentOf(del.keys);
      const late = issuers.length === 1 ? issuers[0]! : null;
      if (late?.gaveUp && agent !== undefined) this.abandoned.set(agent, (this.abandoned.get(agent) ?? []).filter((i) => i !== late));
      const by = issuers.length === 0 ? 'a DEL' : `${issuers.map((i) => i.pod).join(' or ')}'s DEL`;
      for (const key of del.keys) this.lose(key, e.t, `${by} at ${formatTime(e.t)}`);
      return;
    }
    const expired = diagnostics.details(e, 'redis.expired');
    if (expired !== undefined) return this.lose(expired.key, e.t, `its expiry at ${formatTime(e.t)}`);
    const evicted = diagnostics.details(e, 'redis.evicted');
    if (evicted !== undefined) return this.lose(evicted.key, e.t, `its eviction at ${formatTime(e.t)}`);
    const failed = diagnostics.details(e, 'hub.redis-error');
    if (failed !== undefined) {
      const agent = AGENT_KEY.exec(failed.key)?.[1];
      const unregister = this.handling.get(e.p)?.unregister;
      if (failed.op !== 'set' && failed.error !== 'server' && unregister && unregister.agent === agent) this.abandon(e.p, unregister, e.t, failed.error);
      if (failed.op !== 'set' || agent === undefined) return;
      const key = this.keys.get(failed.key) ?? (this.restoredAt === null ? { present: false, missing: this.neverWritten(failed.key) } : undefined);
      if (key === undefined || key.present) return;
      // A new absence from here on: the failures after it are told as the failed SET's.
      const failedSet = { t: e.t, pod: e.p, conn: this.handling.get(e.p)?.register?.conn ?? null, error: failed.error };
      this.keys.set(failed.key, { present: false, missing: { ...key.missing, failedSet } });
      return;
    }
    const started = diagnostics.details(e, 'redis.start');
    if (started !== undefined) {
      const down = this.down;
      this.down = null;
      if (started.fromSnapshot && started.keys > 0) {
        this.restoredAt = e.t;
        this.keys.clear();
        return;
      }
      // The keys lost when Redis went down stay lost: they are missing since then, for this reason.
      for (const [key, state] of this.keys) {
        if (!state.present && down !== null && state.missing.since === down.since) {
          this.keys.set(key, { present: false, missing: { ...state.missing, how: `Redis restarted empty at ${formatTime(e.t)}` } });
        }
      }
      return;
    }
    const mode = diagnostics.details(e, 'api.redis-mode');
    if (mode !== undefined) {
      if (!mode.enabled) this.withoutRedis.add(e.p);
      return;
    }
    if (e.k === 'proc.crash' || e.k === 'proc.exit' || e.k === 'proc.start') {
      // An unregister cut short may have a DEL on its way still.
      const unregister = this.handling.get(e.p)?.unregister;
      if (unregister !== undefined && unregister !== null) this.abandon(e.p, unregister, e.t, 'its process ended');
      this.handling.delete(e.p);
      if (e.p !== REDIS || e.k === 'proc.start' || this.down !== null) return;
      // Every key goes with the process; a snapshot may bring some back (`redis.start` says).
      this.down = { since: e.t, how: `Redis went down at ${formatTime(e.t)}`, failedSet: null };
      for (const key of this.keys.keys()) this.lose(key, e.t, this.down.how);
    }
  }

  private lose(key: string, t: Micros, how: string): void {
    if (!AGENT_KEY.test(key)) return;
    const was = this.keys.get(key);
    if (was !== undefined && !was.present) return;
    this.keys.set(key, { present: false, missing: { since: t, how, failedSet: null } });
  }

  private abandon(pod: string, unregister: { agent: string; conn: string }, t: Micros, error: string): void {
    let list = this.abandoned.get(unregister.agent);
    if (list === undefined) this.abandoned.set(unregister.agent, (list = []));
    list.push({ pod, conn: unregister.conn, gaveUp: { t, error } });
  }

  /** The agent whose keys `keys` are (one DEL names one agent's keys). */
  private agentOf(keys: readonly string[]): string | undefined {
    for (const key of keys) {
      const agent = AGENT_KEY.exec(key)?.[1];
      if (agent !== undefined) return agent;
    }
    return undefined;
  }

  /**
   * Who sent a DEL of `keys`: the pods whose hub is unregistering that agent now, or, when none is,
   * the unregisters that gave up on a DEL of that agent's keys with a timeout or a lost connection
   * (only an unregister deletes agent keys, so it is one of those).
   */
  private issuersOf(keys: readonly string[]): Issuer[] {
    const agent = this.agentOf(keys);
    const out: Issuer[] = [];
    for (const [pod, h] of this.handling) if (h.unregister !== null && h.unregister.agent === agent) out.push({ pod, conn: h.unregister.conn, gaveUp: null });
    if (out.length > 0 || agent === undefined) return out;
    return this.abandoned.get(agent) ?? [];
  }

  /**
   * A DEL of agent keys as a sentence: who sent it (the pod unregistering that agent, and the
   * connection it was unregistering) and, for `agent:<id>:pod`, whom the key named then. `holders`
   * gives the API pods whose hub holds the agent now and on which connection.
   */
  describeDel(keys: readonly string[], holders: (agent: string) => { pod: string; conn: string }[]): string {
    const issuers = this.issuersOf(keys);
    const sender = (i: Issuer): string => `${i.pod} unregistering ${i.conn}${i.gaveUp === null ? '' : `, applied after ${i.pod} had given up on it at ${formatTime(i.gaveUp.t)} (${i.gaveUp.error})`}`;
    const who = issuers.length === 0 ? 'no hub was unregistering the agent then' : `sent by ${issuers.map(sender).join(', or by ')}`;
    const named: string[] = [];
    for (const key of keys) {
      const agent = AGENT_KEY.exec(key);
      if (agent === null || agent[2] !== 'pod') continue;
      const value = this.valueOf(key);
      if (value === undefined) {
        named.push(`the key's value is not in the trace (Redis restored a snapshot at ${formatTime(this.restoredAt ?? 0)})`);
        continue;
      }
      if (value === null) continue;
      const issuerPods = issuers.map((i) => i.pod);
      if (issuerPods.includes(value)) {
        named.push(issuerPods.length === 1 ? `the key named ${value} itself` : `the key named ${value}, one of them`);
        continue;
      }
      const live = holders(agent[1]!).find((h) => h.pod === value);
      named.push(`the key named ${value}${issuerPods.length > 0 ? `, not ${issuerPods.join(' or ')}` : ''}${live === undefined ? '' : `, whose hub holds the agent's connection ${live.conn}: the live mapping is gone`}`);
    }
    return [who, ...named].join('; ');
  }

  /** A SET of the hub's register that Redis did not acknowledge, as a sentence, with what the key holds now. */
  describeFailedSet(pod: string, key: string, error: string): string {
    const conn = this.handling.get(pod)?.register?.conn;
    const head = `${pod} failed to write ${key} at the register${conn === undefined ? '' : ` of ${conn}`} (${error})`;
    const agent = AGENT_KEY.exec(key);
    const value = this.valueOf(key);
    if (agent === null || value === undefined) return head;
    if (this.down !== null) return `${head}: Redis has been down since ${formatTime(this.down.since)}`;
    if (value === null) {
      return agent[2] === 'pod'
        ? `${head}: Redis has no ${key}, so no other pod can route ${agent[1]}'s commands until a register writes it again`
        : `${head}: Redis has no ${key}, so every other pod takes ${agent[1]} for not connected until a register writes it again`;
    }
    if (agent[2] === 'pod' && value !== pod) return `${head}: Redis still names ${value}, not ${pod}`;
    return `${head}, yet Redis holds it (the SET was applied; its reply was lost)`;
  }

  /** A DEL or compare-and-delete of the hub's unregister that Redis did not acknowledge, as a sentence. */
  describeFailedDel(pod: string, key: string, error: string): string {
    const conn = this.handling.get(pod)?.unregister?.conn;
    const value = this.valueOf(key);
    const holds = value === null ? ': the key is gone anyway' : value === undefined ? '' : `: the key stays${AGENT_KEY.exec(key)?.[2] === 'pod' ? ` (it names ${value})` : ''}`;
    return `${pod} failed to delete ${key} at the unregister${conn === undefined ? '' : ` of ${conn}`} (${error})${holds}`;
  }

  /** Whether `pod`'s hub uses Redis (not in single-pod mode). */
  usesRedis(pod: string): boolean {
    return !this.withoutRedis.has(pod);
  }

  /**
   * Why `key` was missing for a routing read made on `pod` at or after `from`: null when it was not
   * missing all along since then (written meanwhile, or its value unknown), or when the pod does
   * not use Redis. The failure run it belongs to is counted.
   */
  missingFor(pod: string, key: string, from: Micros): { why: string; run: FailureRun; first: boolean } | null {
    if (!this.usesRedis(pod)) return null;
    if (this.down !== null) return this.down.since <= from ? this.count(this.down, key, `Redis has been down since ${formatTime(this.down.since)}`) : null;
    const state = this.keys.get(key);
    if (state === undefined) {
      if (this.restoredAt !== null) return null;
      return this.count(this.neverWritten(key), key, `${key} was never written`);
    }
    if (state.present || state.missing.since > from) return null;
    return this.count(state.missing, key, whyMissing(key, state.missing));
  }

  /** Why `key` is missing now, or null when it is there (or the trace cannot tell). */
  missingNow(key: string): string | null {
    if (this.down !== null) return `Redis has been down since ${formatTime(this.down.since)}`;
    const state = this.keys.get(key);
    if (state === undefined) return this.restoredAt === null ? `${key} was never written` : null;
    return state.present ? null : whyMissing(key, state.missing);
  }

  private neverWritten(key: string): Missing {
    let m = this.never.get(key);
    if (m === undefined) this.never.set(key, (m = { since: 0, how: 'never written', failedSet: null }));
    return m;
  }

  private count(m: Missing, key: string, why: string): { why: string; run: FailureRun; first: boolean } {
    let run = this.runs.get(m);
    const first = run === undefined;
    if (run === undefined) this.runs.set(m, (run = { key, count: 0 }));
    run.count++;
    return { why, run, first };
  }

  /** The value of an agent key now: null when it is missing, undefined when the trace cannot tell. */
  private valueOf(key: string): string | null | undefined {
    if (this.down !== null) return null;
    const state = this.keys.get(key);
    if (state === undefined) return this.restoredAt === null ? null : undefined;
    return state.present ? state.value : null;
  }
}

/** `agent:x:pod missing since api-0's DEL at 142.002s`, or, after a register failed to write it back, that SET first. */
function whyMissing(key: string, m: Missing): string {
  if (m.failedSet === null) return `${key} missing since ${m.how}`;
  const f = m.failedSet;
  return `no ${key} since ${f.pod}'s SET at the register${f.conn === null ? '' : ` of ${f.conn}`} failed at ${formatTime(f.t)} (${f.error}; before that: ${m.how})`;
}

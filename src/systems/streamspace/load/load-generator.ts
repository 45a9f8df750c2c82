import type { BootFn, Micros } from '../../../sim-cluster/index.ts';
import { SECOND } from '../../../sim-cluster/index.ts';
import { RpcClient, type RpcResult } from '../net/rpc.ts';
import type { LoadConfig } from '../config.ts';
import type { HttpRequest, HttpResponse, Token } from '../wire.ts';
import { loadEvents } from './events.ts';
import { RequestLog, succeeded, type LoadOp, type RequestStatus } from './request-log.ts';

/** What the load generator needs of the cluster. */
export interface LoadTargets {
  /** The ready API pods, in the order they became ready (the ingress's upstreams). */
  endpoints(): readonly string[];
  /** The agent ids a new session may be placed on. */
  agentIds(): readonly string[];
  /**
   * True time (µs), for the log and the per-second summaries: they are the measuring instrument,
   * not the users' view, so a clock fault on the ingress node does not bend them.
   */
  now(): Micros;
}

/** What faults and scenarios may do to the load while it runs (the `load-spike` fault). */
export interface LoadControl {
  /** Adds `users` users, started at `spawnRatePerSecond` (Locust's web UI raising the user count). */
  spike(users: number, spawnRatePerSecond: number): void;
  /** Stops the users `spike` added (Locust lowering the count stops users at once). */
  endSpike(): void;
}

/** The load generator's state that outlives its process: the request log. */
export class LoadRecord {
  readonly log = new RequestLog();
  /** Set by the running generator; null while it is down or the load is off. */
  control: LoadControl | null = null;
}

interface User {
  id: number;
  token: Token | null;
  /** The session the user runs (a StreamSpace session: a desktop), with its agent id. */
  session: { id: string; agentId: string } | null;
  /** Stopped users send nothing more; an answer in flight is still logged. */
  active: boolean;
  /** Whether the user came with a spike. */
  spiked: boolean;
}

/** A 401 means the request's token was refused by the session check. */
const UNAUTHORIZED = 401;
/** The ingress's answers (Traefik): no ready upstream, a refused or reset upstream connection. */
const NO_UPSTREAM = 503;
const BAD_GATEWAY = 502;

/**
 * Users of StreamSpace's API, as seed 004 ran them with Locust (spec seeds-001-004 §2 "Locust
 * load"): `users` users started at `spawnRatePerSecond`, each logging in once (`on_start`) and then
 * looping over weighted tasks with `wait_time = between(a, b)` between them. A closed system: a user
 * sends its next request only after the answer and a think time, so throughput is N / (Z + R).
 * In `open` mode requests arrive as a Poisson process whatever the answers (each by a random user
 * of the pool), which shows the latency a stuck API really has: closed users stuck on one request
 * send nothing, so their missing requests are never counted slow (coordinated omission).
 *
 * Requests go through the ingress (the process runs on the ingress node): each request goes to the
 * next ready API pod, round robin, as Traefik's weighted round robin does with equal weights (the
 * seed's k3d cluster runs Traefik); there is one keep-alive connection per pod, shared by the
 * requests to it. No ready pod is a 503; a refused, reset or broken upstream connection a 502,
 * and the ingress does not retry (Traefik's default: no retry middleware). A request unanswered
 * within `requestTimeoutUs` is a failure with status 0, as Locust reports a client timeout.
 *
 * Tasks (weights in `taskWeights`): list the user's sessions (`GET /sessions`); create a session on
 * a random agent id when the user has none, else list; delete the user's session when it has one,
 * else list; log out, then try the old token once (a stale browser tab: its answer must be a 401,
 * or revocation is broken), then log in again. After a 401 the user logs in again
 * (`reloginOnUnauthorized`), as the UI sends a user back to the login page.
 *
 * Records: every request in the `RequestLog`; per second of completions one `load.second` event
 * (counts by outcome); `load.login` per login; `load.lost-session` when a token the user holds and
 * never logged out is refused (401) while its TTL runs; `load.revoked-accepted` when a logged-out
 * token is accepted.
 */
export function loadGenerator(config: LoadConfig, targets: LoadTargets, record: LoadRecord): BootFn {
  return (ctx) => {
    const rng = ctx.random('load');
    const users: User[] = [];
    const upstreams = new Map<string, RpcClient>();
    let roundRobin = 0;
    let nextRequestId = 0;
    let stopped = false;
    const second = new SecondSummary();
    const totalWeight = config.taskWeights.list + config.taskWeights.create + config.taskWeights.delete + config.taskWeights.logout;

    const upstream = (pod: string): RpcClient => {
      let client = upstreams.get(pod);
      if (client === undefined) {
        client = new RpcClient(ctx, {
          target: pod, connectTimeoutUs: config.requestTimeoutUs, requestTimeoutUs: config.requestTimeoutUs, timeoutIncludesDial: true, timeouts: 'per-connection',
        });
        upstreams.set(pod, client);
      }
      return client;
    };

    const recorder: Recorder = (kind, details) => ctx.record(kind, details);

    /** A request sent at `sentAt` is over: it is logged and counted, then `done` runs. */
    const finish = (sentAt: Micros, op: LoadOp, done: Done, status: RequestStatus, response: HttpResponse | null): void => {
      const now = targets.now();
      record.log.add(sentAt, now - sentAt, status, op);
      second.count(now, status, recorder);
      done(status, response);
    };

    /**
     * Sends one request through the ingress; `done` gets the status and the body. Every request
     * goes through here, so it makes one closure, the reply's, and no named one (a name costs a
     * property definition per closure where names are kept).
     */
    const send = (op: LoadOp, request: HttpRequest, done: Done): void => {
      const sentAt = targets.now();
      const pods = targets.endpoints();
      if (pods.length === 0) return finish(sentAt, op, done, NO_UPSTREAM, null);
      const pod = pods[roundRobin++ % pods.length]!;
      upstream(pod).call<HttpResponse>(request, (r: RpcResult<HttpResponse>) => {
        if (r.ok) return finish(sentAt, op, done, r.value.status, r.value);
        if (r.error === 'connection') upstreams.delete(pod);
        finish(sentAt, op, done, r.error === 'timeout' ? 0 : BAD_GATEWAY, null);
      });
    };

    const think = (): Micros => rng.int(config.thinkUs[0], config.thinkUs[1]);

    /** The user's next step after `delayUs`, unless it or the load has stopped. */
    const schedule = (user: User, delayUs: Micros, step: (user: User) => void): void => {
      if (!user.active || stopped) return;
      ctx.setTimer(delayUs, () => {
        if (user.active && !stopped) step(user);
      }, 'load.user');
    };

    const login = (user: User, then: (user: User) => void): void => {
      send('login', { op: 'login', user: user.id }, (status, response) => {
        if (succeeded(status) && response?.token !== undefined) {
          user.token = response.token;
          loadEvents.record(ctx, 'load.login', { user: user.id, jti: response.token.jti });
          return then(user);
        }
        // A failed login is retried after a think time, as a user retries the form.
        schedule(user, think(), (u) => login(u, then));
      });
    };

    /** The answer to an authenticated request: a 401 on a live token is a lost session. */
    const authenticated = (user: User, token: Token, status: RequestStatus): boolean => {
      if (status !== UNAUTHORIZED) return true;
      if (user.token === token) {
        loadEvents.record(ctx, 'load.lost-session', { user: user.id, jti: token.jti });
        if (config.reloginOnUnauthorized) user.token = null;
      }
      return false;
    };

    const task = (user: User): void => {
      const token = user.token;
      if (token === null) return login(user, (u) => schedule(u, think(), task));
      let pick = rng.int(0, totalWeight - 1);
      const w = config.taskWeights;
      const kind = pick < w.list ? 'list' : (pick -= w.list) < w.create ? 'create' : (pick -= w.create) < w.delete ? 'delete' : 'logout';
      if (kind === 'logout') return logout(user, token);
      if (kind === 'create' && user.session === null) {
        const agents = targets.agentIds();
        if (agents.length > 0) {
          const n = nextRequestId++;
          const session = { id: `user-session-${n}`, agentId: rng.pick(agents) };
          const request: HttpRequest = { op: 'create-session', sessionId: session.id, agentId: session.agentId, requestId: `user-cmd-${n}`, token };
          return send('create', request, (status) => {
            if (authenticated(user, token, status) && succeeded(status)) user.session = session;
            schedule(user, think(), task);
          });
        }
      }
      if (kind === 'delete' && user.session !== null) {
        const session = user.session;
        const request: HttpRequest = { op: 'delete-session', sessionId: session.id, agentId: session.agentId, requestId: `user-cmd-${nextRequestId++}`, token };
        return send('delete', request, (status) => {
          if (authenticated(user, token, status) && succeeded(status)) user.session = null;
          schedule(user, think(), task);
        });
      }
      send('list', { op: 'list-sessions', token }, (status) => {
        authenticated(user, token, status);
        schedule(user, think(), task);
      });
    };

    /**
     * Logs out, probes the old token once, then logs in again. The token is no longer the user's
     * once the logout is answered, whatever the answer: a logout whose answer was lost may still
     * have deleted the session, so a later 401 on it would be no lost session.
     */
    const logout = (user: User, token: Token): void => {
      send('logout', { op: 'logout', token }, (status) => {
        authenticated(user, token, status);
        user.token = null;
        if (!succeeded(status)) return schedule(user, think(), task);
        send('revoked-probe', { op: 'list-sessions', token }, (probe) => {
          if (succeeded(probe)) loadEvents.record(ctx, 'load.revoked-accepted', { user: user.id, jti: token.jti });
          schedule(user, think(), task);
        });
      });
    };

    /** A new user logs in; in closed mode it then runs its tasks, in open mode arrivals use it. */
    const startUser = (spiked: boolean): void => {
      const user: User = { id: users.length, token: null, session: null, active: true, spiked };
      users.push(user);
      login(user, (u) => {
        if (config.mode === 'closed') schedule(u, think(), task);
      });
    };

    /** Starts `count` users, one every 1/rate s; `alive` is checked before each start. */
    const spawn = (count: number, ratePerSecond: number, spiked: boolean, alive: () => boolean): void => {
      const every = Math.max(1, Math.round(SECOND / ratePerSecond));
      let started = 0;
      const one = (): void => {
        if (stopped || !alive() || started >= count) return;
        started++;
        startUser(spiked);
        ctx.setTimer(every, one, 'load.spawn');
      };
      one();
    };

    const openArrivals = (): void => {
      const gap = (): Micros => Math.max(1, Math.round(-Math.log(1 - rng.next()) * (SECOND / config.arrivalsPerSecond)));
      const arrive = (): void => {
        if (stopped) return;
        const ready = users.filter((u) => u.token !== null);
        if (ready.length > 0) {
          const user = rng.pick(ready);
          const token = user.token!;
          send('list', { op: 'list-sessions', token }, (status) => void authenticated(user, token, status));
        }
        ctx.setTimer(gap(), arrive, 'load.arrival');
      };
      ctx.setTimer(gap(), arrive, 'load.arrival');
    };

    let spikeEpoch = 0;
    record.control = {
      spike(count, ratePerSecond) {
        const epoch = ++spikeEpoch;
        loadEvents.record(ctx, 'load.spike', { users: count, spawnRate: ratePerSecond });
        spawn(count, ratePerSecond, true, () => epoch === spikeEpoch);
      },
      endSpike() {
        spikeEpoch++;
        let stoppedUsers = 0;
        for (const u of users) {
          if (u.spiked && u.active) {
            u.active = false;
            stoppedUsers++;
          }
        }
        loadEvents.record(ctx, 'load.spike-end', { users: stoppedUsers });
      },
    };

    ctx.setTimer(config.startUs, () => {
      loadEvents.record(ctx, 'load.start', { mode: config.mode === 'open' ? 'open' : 'closed', users: config.users, spawnRate: config.spawnRatePerSecond });
      if (config.mode === 'open') {
        // The pool logs in at the spawn rate; arrivals start with it and use whoever is logged in.
        spawn(config.users, config.spawnRatePerSecond, false, () => true);
        openArrivals();
      } else {
        spawn(config.users, config.spawnRatePerSecond, false, () => true);
      }
      if (config.runUs !== null) {
        ctx.setTimer(config.runUs, () => {
          stopped = true;
          loadEvents.record(ctx, 'load.stop', { users: users.length });
        }, 'load.stop');
      }
    }, 'load.start');
    return {};
  };
}

type Recorder = (kind: string, details: Record<string, unknown>) => void;

/** What a request's sender does with its outcome. */
type Done = (status: RequestStatus, response: HttpResponse | null) => void;

/**
 * One `load.second` trace event per second of completions: the trace hash covers every request's
 * outcome through these counts, at a few hundred events per simulated minute whatever the load.
 * A second's summary is written when the first request of a later second completes.
 */
class SecondSummary {
  private current = -1;
  private n = 0;
  private ok = 0;
  private unauthorized = 0;
  private serverErrors = 0;
  private noAnswer = 0;

  count(now: Micros, status: RequestStatus, record: Recorder): void {
    const s = Math.floor(now / SECOND);
    if (s !== this.current) {
      this.flush(record);
      this.current = s;
    }
    this.n++;
    if (succeeded(status)) this.ok++;
    else if (status === UNAUTHORIZED) this.unauthorized++;
    else if (status === 0) this.noAnswer++;
    else if (status >= 500) this.serverErrors++;
  }

  private flush(record: Recorder): void {
    if (this.n === 0) return;
    loadEvents.record({ record }, 'load.second', {
      second: this.current, requests: this.n, ok: this.ok, unauthorized: this.unauthorized, serverErrors: this.serverErrors, noAnswer: this.noAnswer,
    });
    this.n = this.ok = this.unauthorized = this.serverErrors = this.noAnswer = 0;
  }
}

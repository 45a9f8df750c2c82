import type { CloseReason, ConnectionEnd, ProcessContext, TimerHandle } from '../../../sim-cluster/index.ts';
import { SECOND, type Micros } from '../../../sim-cluster/index.ts';
import { compileMachine, Statechart } from '../../../sim-cluster/statechart/index.ts';
import { rpcConnectionMachine, type ConnectionComponent, type ConnectionEvent } from './rpc-connection-machine.ts';

/**
 * Request/response over one simulated connection: how the model's clients talk to Redis,
 * PostgreSQL and the Kubernetes API server. The failure modes are the ones real clients have:
 * - `connection`: the connection could not be made or broke while the request was in flight;
 * - `timeout`: no reply within the request timeout. **The server may still apply the request**
 *   (its reply is ignored when it comes late): the outcome is unknown, as with a real timeout;
 * - `server`: the server answered with an error (a PostgreSQL write error, a 409 Conflict...).
 */
export type RpcErrorKind = 'connection' | 'timeout' | 'server';

export type RpcResult<T> = { ok: true; value: T } | { ok: false; error: RpcErrorKind; message: string };

/** Wire messages. `push` is server-initiated (Redis pub/sub messages). */
export type RpcWire =
  | { kind: 'req'; id: number; body: unknown }
  | { kind: 'res'; id: number; result: RpcResult<unknown> }
  | { kind: 'push'; body: unknown };

/**
 * Where a client's connections go: a process name, or a function asked at every dial, as a
 * Kubernetes Service is resolved per connection (kube-proxy picks an endpoint when a connection
 * opens; connections already open stay where they are). A name no process has is refused at once,
 * as a Service without endpoints is (kube-proxy rejects).
 */
export type DialTarget = string | (() => string);

export interface RpcClientOptions {
  /** The server: a process name, or a resolver asked at each dial (`DialTarget`). */
  target: DialTarget;
  /** Dial timeout (go-redis: 5 s; database/sql and client-go: the dialer's 30 s). Default 5 s. */
  connectTimeoutUs?: Micros;
  /** Default per-request timeout (go-redis read timeout 3 s). Default 3 s. */
  requestTimeoutUs?: Micros;
  /**
   * Whether the request timeout runs from the call, dial included (Go's http.Client.Timeout), or
   * only once the request is written (go-redis's and lib/pq's read timeouts, the dial having its
   * own). Default false.
   */
  timeoutIncludesDial?: boolean;
  /**
   * How request timeouts are kept. `per-call` (the default): a timer per request, cancelled by its
   * reply. `per-connection`: one timer, at the earliest deadline of the requests in flight, which
   * expires every request due by then and moves on to the next deadline; a reply cancels nothing.
   * The same outcomes at a fraction of the cost for a client with many requests in flight under a
   * long timeout (thousands of 30-150 s timers in the event queue under seed 004's load), with one
   * difference, for a process paused across several deadlines: on resume, the per-call timers run
   * interleaved with the replies that came due during the pause, in due order, while here a
   * deadline after the first runs after all of them (a reply that arrived during the pause, after
   * that deadline, is then accepted where a per-call timer would have failed the request first).
   * New clients of the seed-004 load use it; the older clients keep `per-call`, so their runs stay
   * as they were.
   */
  timeouts?: 'per-call' | 'per-connection';
  /** Server-initiated messages on this client's connection (pub/sub). */
  onPush?: (body: unknown) => void;
  /** The connection closed (after failing every request in flight). */
  onDisconnect?: (reason: CloseReason) => void;
  /** The connection (re)opened. */
  onConnect?: () => void;
}

interface Pending {
  /** The client that made it: its timeout timer calls back through here instead of a closure. */
  readonly client: RpcClient;
  id: number;
  onResult: (r: RpcResult<unknown>) => void;
  /** Whether its timeout runs (from the call, or from the send once dialled). */
  armed: boolean;
  /** `per-call`: its own timer. */
  timer: TimerHandle | undefined;
  timeoutUs: Micros;
  /** `per-connection`: when it times out (local monotonic µs), once armed. */
  deadline: Micros;
}

/**
 * The requests in flight of one client, by id. Ids are handed out in increasing order and every
 * one is added, so a ring indexed by id finds a request in O(1) and iterates in id order (the order
 * a Map keyed by id would give), without the allocation and rehashing a Map costs when requests
 * come and go thousands of times a second. The ring spans the ids from the oldest request still in
 * flight to the newest; it grows when that span outgrows it.
 */
class PendingTable {
  private slots: Array<Pending | undefined> = new Array<Pending | undefined>(8).fill(undefined);
  private mask = 7;
  /** The oldest id that may still be in flight; every id below it is gone. */
  private low = 1;
  /** One past the newest id added. */
  private high = 1;
  size = 0;

  /** Adds the request with the next id (`entry.id` must be one past the last one added). */
  add(entry: Pending): void {
    if (this.size === 0) this.low = entry.id;
    if (entry.id - this.low >= this.slots.length) this.grow(entry.id - this.low + 1);
    this.slots[entry.id & this.mask] = entry;
    this.high = entry.id + 1;
    this.size++;
  }

  get(id: number): Pending | undefined {
    if (id < this.low || id >= this.high) return undefined;
    const entry = this.slots[id & this.mask];
    return entry !== undefined && entry.id === id ? entry : undefined;
  }

  delete(id: number): boolean {
    if (this.get(id) === undefined) return false;
    this.slots[id & this.mask] = undefined;
    this.size--;
    if (id === this.low) {
      // Move past the answered ids to the oldest one still in flight.
      while (this.low < this.high && this.slots[this.low & this.mask] === undefined) this.low++;
    }
    return true;
  }

  /** The request in flight with the smallest id at least `id`, for iterating in id order. */
  nextFrom(id: number): Pending | undefined {
    for (let i = Math.max(id, this.low); i < this.high; i++) {
      const entry = this.slots[i & this.mask];
      if (entry !== undefined && entry.id === i) return entry;
    }
    return undefined;
  }

  /** Removes every request; returns them in id order. */
  clear(): Pending[] {
    const all: Pending[] = [];
    for (let i = this.low; i < this.high; i++) {
      const entry = this.slots[i & this.mask];
      if (entry !== undefined && entry.id === i) {
        all.push(entry);
        this.slots[i & this.mask] = undefined;
      }
    }
    this.low = this.high;
    this.size = 0;
    return all;
  }

  private grow(span: number): void {
    let capacity = this.slots.length * 2;
    while (capacity < span) capacity *= 2;
    const slots = new Array<Pending | undefined>(capacity).fill(undefined);
    for (let i = this.low; i < this.high; i++) {
      const entry = this.slots[i & this.mask];
      if (entry !== undefined && entry.id === i) slots[i & (capacity - 1)] = entry;
    }
    this.slots = slots;
    this.mask = capacity - 1;
  }
}

/** The connection's statechart (rpc-connection-machine.ts), compiled once: a machine the stepper cannot run fails here, at load time. */
const CONNECTION = compileMachine(rpcConnectionMachine);

/** The events without data, made once. */
const DIAL: ConnectionEvent = { type: 'DIAL' };
const OPENED: ConnectionEvent = { type: 'OPENED' };
const CLOSE: ConnectionEvent = { type: 'CLOSE' };

/**
 * A client with one connection, dialled lazily on the first call and redialled on the next call
 * after it breaks (as go-redis's pool and database/sql do). Calls made while dialling wait for the
 * dial; if it fails they fail with `connection`.
 *
 * The connection's modes are the statechart of rpc-connection-machine.ts, run by the kernel's
 * compiled stepper with this object as its context, and stepped on connection events only (dial,
 * open, end, close): requests, their replies and their timeouts stay here, off the statechart.
 */
export class RpcClient implements ConnectionComponent {
  private readonly mode: Statechart<RpcClient, ConnectionEvent, TimerHandle>;
  private conn: ConnectionEnd | null = null;
  private nextId = 1;
  private readonly pending = new PendingTable();
  /** Requests waiting for the dial to complete. */
  private waiting: Array<{ id: number; body: unknown }> = [];
  private readonly connectTimeoutUs: Micros;
  private readonly requestTimeoutUs: Micros;
  /** `per-connection`: the shared timer and the deadline it is armed for. */
  private deadlineTimer: TimerHandle | undefined;
  private deadlineAt = Number.POSITIVE_INFINITY;
  /** The process the current (or last) connection was dialled to. */
  private dialled: string;
  /**
   * What the last step has for the callers, told once it has ended (`step`): the requests it failed
   * with their message, whether the connection opened, why it ended.
   */
  private failed: Pending[] | null = null;
  private failedMessage = '';
  private opened = false;
  private disconnected: CloseReason | null = null;

  constructor(
    private readonly ctx: ProcessContext,
    private readonly options: RpcClientOptions,
  ) {
    this.connectTimeoutUs = options.connectTimeoutUs ?? 5 * SECOND;
    this.requestTimeoutUs = options.requestTimeoutUs ?? 3 * SECOND;
    this.dialled = typeof options.target === 'string' ? options.target : '';
    this.mode = new Statechart<RpcClient, ConnectionEvent, TimerHandle>(CONNECTION, this, ctx);
    this.mode.start();
  }

  get connected(): boolean {
    return this.conn !== null && this.conn.isOpen;
  }

  /** The process the current connection goes to (the last one dialled; '' before any dial with a resolver). */
  get peer(): string {
    return this.dialled;
  }

  call<T>(body: unknown, onResult: (r: RpcResult<T>) => void, timeoutUs: Micros = this.requestTimeoutUs): void {
    const id = this.nextId++;
    const entry: Pending = { client: this, id, onResult: onResult as (r: RpcResult<unknown>) => void, armed: false, timer: undefined, timeoutUs, deadline: 0 };
    this.pending.add(entry);
    if (this.options.timeoutIncludesDial) this.armTimeout(entry);
    if (this.conn !== null && this.conn.isOpen) this.send(id, body);
    else {
      this.waiting.push({ id, body });
      // No connection: the statechart's `idle` dials (only then: a call while dialling just waits).
      if (this.conn === null) this.mode.send(DIAL);
    }
  }

  private send(id: number, body: unknown): void {
    const entry = this.pending.get(id);
    if (entry === undefined) return;
    if (!entry.armed) this.armTimeout(entry);
    this.conn!.send({ kind: 'req', id, body } satisfies RpcWire);
  }

  private armTimeout(entry: Pending): void {
    entry.armed = true;
    if (this.options.timeouts === 'per-connection') {
      entry.deadline = this.ctx.monotonic() + entry.timeoutUs;
      if (entry.deadline < this.deadlineAt) this.armDeadline(entry.deadline);
      return;
    }
    entry.timer = this.ctx.setTimerCall(entry.timeoutUs, RpcClient.expirePending, entry, 'rpc-timeout');
  }

  /** A `per-call` request timeout fired: one function for every request, so arming a timeout makes no closure. */
  private static readonly expirePending = (entry: Pending): void => entry.client.expire(entry);

  private expire(entry: Pending): void {
    const id = entry.id;
    if (!this.pending.delete(id)) return;
    if (this.waiting.length > 0) this.waiting = this.waiting.filter((w) => w.id !== id);
    entry.onResult({ ok: false, error: 'timeout', message: `no reply from ${this.dialled} within ${entry.timeoutUs} µs` });
  }

  /** `per-connection`: (re)arms the shared timer for `at`. */
  private armDeadline(at: Micros): void {
    this.ctx.cancelTimer(this.deadlineTimer);
    this.deadlineAt = at;
    this.deadlineTimer = this.ctx.setTimer(Math.max(0, at - this.ctx.monotonic()), () => {
      const due = this.deadlineAt;
      this.deadlineTimer = undefined;
      this.deadlineAt = Number.POSITIVE_INFINITY;
      let next = Number.POSITIVE_INFINITY;
      // In id order; requests an expiry's callback makes are visited too.
      for (let entry = this.pending.nextFrom(0); entry !== undefined; entry = this.pending.nextFrom(entry.id + 1)) {
        if (!entry.armed) continue;
        if (entry.deadline <= due) this.expire(entry);
        else if (entry.deadline < next) next = entry.deadline;
      }
      // An expiry's callback may have made calls that armed the timer already.
      if (next < this.deadlineAt) this.armDeadline(next);
    }, 'rpc-timeout');
  }

  /** Closes the connection; requests in flight fail with `connection`. Without a connection (`idle`), nothing. */
  close(): void {
    this.step(CLOSE);
  }

  /**
   * Steps the statechart, then tells the callers what the step did, in the order the actions did it:
   * the failed requests (each timer cancelled, then its callback, in id order), then `onConnect` or
   * `onDisconnect`. After the step, so that a caller calling again from its callback dials at once
   * rather than once the step has ended.
   */
  private step(event: ConnectionEvent): void {
    this.mode.send(event);
    const failed = this.failed;
    if (failed !== null) {
      this.failed = null;
      const message = this.failedMessage;
      for (const e of failed) {
        this.ctx.cancelTimer(e.timer);
        e.onResult({ ok: false, error: 'connection', message });
      }
    }
    if (this.opened) {
      this.opened = false;
      this.options.onConnect?.();
    }
    const reason = this.disconnected;
    if (reason !== null) {
      this.disconnected = null;
      this.options.onDisconnect?.(reason);
    }
  }

  dial(): void {
    const target = this.options.target;
    if (typeof target !== 'string') this.dialled = target();
    const conn = this.ctx.connect(this.dialled, {
      onOpen: () => this.step(OPENED),
      onMessage: (raw) => {
        const msg = raw as RpcWire;
        if (msg.kind === 'push') {
          this.options.onPush?.(msg.body);
          return;
        }
        if (msg.kind !== 'res') return;
        const entry = this.pending.get(msg.id);
        if (entry === undefined) return; // timed out already: a late reply is dropped
        this.pending.delete(msg.id);
        this.ctx.cancelTimer(entry.timer);
        entry.onResult(msg.result);
      },
      onClose: (reason) => {
        // A connection this client let go of (closed, or replaced) answers nothing.
        if (this.conn === conn) this.step({ type: 'DISCONNECTED', reason });
      },
    }, { timeoutUs: this.connectTimeoutUs });
    this.conn = conn;
  }

  sendWaiting(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) this.send(w.id, w.body);
  }

  reportConnected(): void {
    this.opened = true;
  }

  closeConnection(): void {
    const conn = this.conn!;
    this.conn = null;
    conn.close();
  }

  forgetConnection(): void {
    this.conn = null;
  }

  disconnectedMessage(reason: CloseReason): string {
    return `connection to ${this.dialled} ${reason}`;
  }

  failRequests(message: string): void {
    this.failed = this.pending.clear();
    this.failedMessage = message;
    this.waiting = [];
    this.ctx.cancelTimer(this.deadlineTimer);
    this.deadlineTimer = undefined;
    this.deadlineAt = Number.POSITIVE_INFINITY;
  }

  reportDisconnected(reason: CloseReason): void {
    this.disconnected = reason;
  }
}

/** Handles one request; `reply` may be called later (service time) or never (a hung server). */
export type RpcHandler = (body: unknown, reply: (result: RpcResult<unknown>) => void, conn: ConnectionEnd) => void;

export interface ServeOptions {
  /**
   * The server's own cleanup when the connection ends, for any reason (`CloseReason`), the peer's
   * FIN included (a Redis client's subscriptions, a Sentinel's subscribers). Default: none.
   */
  onClose?: (reason: CloseReason) => void;
}

/**
 * Serves requests on an accepted connection. Replies on a closed connection are dropped.
 *
 * When the peer closes its side (FIN), the server closes its own once every request it has taken
 * has been answered, as the servers modelled do on reading EOF: Go's net/http (the API pods, the
 * Kubernetes API server) closes the connection when its read loop sees EOF after the handler
 * returned (net/http/server.go `conn.serve`: the next `readRequest` fails, `c.close()`); redis-server
 * frees the client (networking.c `readQueryFromClient`: a 0-byte read, `freeClientAsync`); a
 * PostgreSQL backend exits at its next read of the socket (postgres.c `SocketBackend`: EOF,
 * `proc_exit`). Left half-closed, every HTTP request would leave an end behind for the rest of the run.
 */
export function serveRpc(conn: ConnectionEnd, handler: RpcHandler, options: ServeOptions = {}): void {
  // Requests taken and not yet answered, and whether the peer's FIN has come: the end closes when both say so.
  let inFlight = 0;
  let peerClosed = false;
  conn.onMessage = (raw) => {
    const msg = raw as RpcWire;
    if (msg.kind !== 'req') return;
    inFlight++;
    let answered = false;
    handler(msg.body, (result) => {
      if (answered) return;
      answered = true;
      if (conn.isOpen) conn.send({ kind: 'res', id: msg.id, result } satisfies RpcWire);
      if (--inFlight === 0 && peerClosed) conn.close();
    }, conn);
  };
  conn.onClose = (reason) => {
    options.onClose?.(reason);
    if (reason !== 'closed') return;
    peerClosed = true;
    if (inFlight === 0) conn.close();
  };
}

/** Sends a server-initiated message on a served connection. Returns false if it is closed. */
export function pushRpc(conn: ConnectionEnd, body: unknown): boolean {
  return conn.send({ kind: 'push', body } satisfies RpcWire);
}

export function ok<T>(value: T): RpcResult<T> {
  return { ok: true, value };
}

export function serverError(message: string): RpcResult<never> {
  return { ok: false, error: 'server', message };
}

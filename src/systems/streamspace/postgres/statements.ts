import type { Micros } from '../../../sim-cluster/index.ts';
import type { NewCommand } from './tables.ts';

/**
 * The statements API pods send to the PostgreSQL server: the request bodies of the RPC layer
 * (`src/systems/streamspace/net/rpc.ts`). `stmt` names the call site in StreamSpace; it is also the `by` /
 * `statement` field of the server's trace events, so a checker can tell who wrote what. `at` is
 * the calling pod's `time.Now()` bound as a parameter (see the timestamp note in tables.ts).
 */
export type Statement = StatementBody & {
  /**
   * The write's id, `<client process>#<incarnation>/<n>`, given by a pooled client (postgres/client.ts with
   * `pool`) to every write: WAL records keep the statement, so a write the primary acknowledged and
   * a failover lost can be named on both sides (`sql.ack`, `pg.lost-writes`). Absent on the single
   * PostgreSQL's clients, whose runs stay as they were.
   */
  readonly wid?: string;
};

type StatementBody =
  | { stmt: 'producer.insert'; row: NewCommand; at: Micros }
  | { stmt: 'dispatcher.sent'; commandId: string; at: Micros; guarded: boolean }
  | { stmt: 'dispatcher.fail'; commandId: string; error: string; guarded: boolean }
  | { stmt: 'ws.ack'; commandId: string; agentId: string; at: Micros; guarded: boolean }
  | { stmt: 'ws.complete'; commandId: string; agentId: string; at: Micros; guarded: boolean }
  | { stmt: 'ws.failed'; commandId: string; agentId: string; error: string; guarded: boolean }
  | { stmt: 'dispatcher.scan-pending' }
  /** Design fix `redeliver-unfinished`: unfinished rows not updated for `staleUs` (database clock). */
  | { stmt: 'reconciler.scan-unfinished'; staleUs: Micros }
  /** Design fix `redelivery-claims-row`: a redelivery's claim of its row just before it sends. */
  | { stmt: 'redelivery.claim'; commandId: string; at: Micros }
  | { stmt: 'http.register'; agentId: string; at: Micros }
  | { stmt: 'hub.register'; agentId: string; at: Micros }
  | { stmt: 'hub.unregister'; agentId: string; at: Micros }
  | { stmt: 'hub.heartbeat'; agentId: string; at: Micros }
  | { stmt: 'ws.capacity'; agentId: string; capacity: number; at: Micros }
  | { stmt: 'ws.agent-lookup'; agentId: string }
  /**
   * The users' reads (seed 004's load; the model keeps no users or sessions tables: every user
   * exists and is active, and the answers carry nothing the model uses). Each is one indexed SELECT:
   * UserDB.VerifyPassword by username and GetUserGroups at login (auth/handlers.go:236-262),
   * GetUser in AuthMiddleware for every authenticated request (middleware.go:258), and the
   * ListSessions handler's query of the user's sessions.
   */
  | { stmt: 'auth.verify-password'; user: number }
  | { stmt: 'auth.user-groups'; user: number }
  | { stmt: 'auth.get-user'; user: number }
  | { stmt: 'sessions.list'; user: number }
  /**
   * Design fix `sessions-in-postgres`: the SessionStore's calls as `user_sessions` statements
   * (tables.ts). `auth.session-user` is AuthMiddleware's GetUser with the session check joined in;
   * it answers whether the user has that live session. The lifetime is the token's (24 h).
   */
  | { stmt: 'auth.session-insert'; jti: string; user: number; ttlUs: Micros }
  | { stmt: 'auth.session-user'; jti: string; user: number }
  | { stmt: 'auth.session-delete'; jti: string }
  | { stmt: 'auth.sessions-clear' };

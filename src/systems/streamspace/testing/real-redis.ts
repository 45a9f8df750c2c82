import { spawnSync } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * What the tests that check the Redis model against a real `redis-server` share: the binary to
 * start, a free loopback port for it, whether it answers, and a poll for a condition. These run
 * real processes on real time, outside any simulation.
 */

/** `HASIM_REDIS_SERVER`, else Debian's `/usr/bin/redis-server` when it runs, else `redis-server` on the PATH. */
export const REDIS_BIN = process.env.HASIM_REDIS_SERVER ?? (spawnSync('/usr/bin/redis-server', ['--version']).status === 0 ? '/usr/bin/redis-server' : 'redis-server');

/** Polls `cond` every `pollMs` until it holds; throws after `timeoutMs` of wall time. */
export async function waitFor(cond: () => Promise<boolean>, timeoutMs: number, pollMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(pollMs);
  }
}

/** Whether a Redis on the loopback `port` answers an inline PING with +PONG. */
export function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ port, host: '127.0.0.1' });
    sock.once('error', () => resolve(false));
    sock.once('data', (d) => {
      sock.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    sock.once('connect', () => sock.write('PING\r\n'));
  });
}

/** A loopback port no one listens on now (the kernel's pick for port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

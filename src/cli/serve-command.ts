import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, relative, resolve, sep } from 'node:path';
import { parseCount, parseFlags, UsageError } from './args.ts';
import { escapeHtml } from './html-escape.ts';

export { SERVE_HELP } from './help.ts';

/** Loopback only: the pages are a developer's findings, not something to publish on a network. */
const HOST = '127.0.0.1';
const DEFAULT_PORT = 8080;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  // JSON Lines and JUnit read best as text in a browser tab.
  '.jsonl': 'text/plain; charset=utf-8',
  '.xml': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** A directory without an index.html: a plain list of its entries. */
function listing(dir: string, urlPath: string): string {
  const entries = readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? `${e.name}/` : e.name)).sort();
  const items = entries.map((name) => `<li><a href="${escapeHtml(encodeURIComponent(name.replace(/\/$/, '')) + (name.endsWith('/') ? '/' : ''))}">${escapeHtml(name)}</a></li>`);
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(urlPath)}</title></head><body><h1>${escapeHtml(urlPath)}</h1><ul>${items.join('')}</ul></body></html>\n`;
}

/**
 * A static file server for one directory on 127.0.0.1: GET and HEAD only, nothing outside the
 * directory (a path that resolves outside it is 404, as is a missing file), a directory serves its
 * index.html or a listing. Resolves once it listens; `port` 0 takes a free port.
 */
export function startServer(dir: string, port: number): Promise<{ server: Server; url: string }> {
  const root = resolve(dir);
  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    let urlPath: string;
    try {
      urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    const path = resolve(root, `.${urlPath}`);
    const inside = relative(root, path);
    if (inside.startsWith('..') || inside.startsWith(sep) || !existsSync(path)) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    let file = path;
    if (statSync(path).isDirectory()) {
      if (!urlPath.endsWith('/')) {
        res.writeHead(301, { location: `${urlPath}/` }).end();
        return;
      }
      file = join(path, 'index.html');
      if (!existsSync(file)) {
        res.writeHead(200, { 'content-type': TYPES['.html']! }).end(req.method === 'HEAD' ? undefined : listing(path, urlPath));
        return;
      }
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(port, HOST, () => {
      const { port: bound } = server.address() as AddressInfo;
      done({ server, url: `http://${HOST}:${bound}/` });
    });
  });
}

/** `hasim serve DIR`: serves a findings directory (or any directory of pages) until Ctrl-C. */
export async function serveCommand(argv: string[], out: (line: string) => void, signal?: EventTarget): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    port: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (positionals.length !== 1) throw new UsageError('serve: expected exactly one directory');
  const dir = positionals[0]!;
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`serve: no such directory: ${dir}`);
  const port = values.port === undefined ? DEFAULT_PORT : parseCount('port', values.port);
  if (port > 65535) throw new UsageError(`--port: must be at most 65535, got ${port}`);
  let started;
  try {
    started = await startServer(dir, port);
  } catch (error) {
    throw new UsageError(`serve: cannot listen on ${HOST}:${port} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  out(values.json ? JSON.stringify({ dir, url: started.url }) : `serving ${dir} at ${started.url} (Ctrl-C stops)`);
  await new Promise<void>((done) => {
    if (signal !== undefined) signal.addEventListener('abort', () => done(), { once: true });
    else {
      process.once('SIGINT', () => done());
      process.once('SIGTERM', () => done());
    }
  });
  // A browser keeps its connections open; close them, or close() would wait for them.
  started.server.closeAllConnections();
  await new Promise<void>((done) => started.server.close(() => done()));
  return 0;
}

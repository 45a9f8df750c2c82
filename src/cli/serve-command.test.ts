import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { main } from './main.ts';
import { serveCommand, startServer } from './serve-command.ts';

/** A raw GET (fetch would normalise `..` out of the path before sending it). */
function get(url: string, path: string, method = 'GET'): Promise<{ status: number; type: string | undefined; body: string; location: string | undefined }> {
  return new Promise((done, fail) => {
    const { hostname, port } = new URL(url);
    const req = request({ hostname, port, path, method }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => done({ status: res.statusCode ?? 0, type: res.headers['content-type'], body, location: res.headers.location }));
    });
    req.on('error', fail);
    req.end();
  });
}

describe('hasim serve', () => {
  const root = mkdtempSync(join(tmpdir(), 'hasim-serve-'));
  const dir = join(root, 'findings');
  let url = '';
  let close: () => void = () => undefined;

  beforeAll(async () => {
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(dir, 'index.html'), '<!DOCTYPE html><p>index</p>');
    writeFileSync(join(dir, 'violations.jsonl'), '{"seed":1}\n');
    writeFileSync(join(dir, 'sub', 'a b.json'), '{}');
    writeFileSync(join(root, 'secret.txt'), 'outside');
    const started = await startServer(dir, 0);
    url = started.url;
    close = () => started.server.close();
  });
  afterAll(() => close());

  test('listens on the loopback address only', () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  test('serves the index, files with their types, and a listing of a directory without an index', async () => {
    expect(await get(url, '/')).toMatchObject({ status: 200, type: 'text/html; charset=utf-8', body: '<!DOCTYPE html><p>index</p>' });
    expect(await get(url, '/violations.jsonl')).toMatchObject({ status: 200, type: 'text/plain; charset=utf-8', body: '{"seed":1}\n' });
    expect(await get(url, '/sub')).toMatchObject({ status: 301, location: '/sub/' });
    const listing = await get(url, '/sub/');
    expect(listing.body).toContain('<a href="a%20b.json">a b.json</a>');
    expect(await get(url, '/sub/a%20b.json')).toMatchObject({ status: 200, type: 'application/json; charset=utf-8' });
    expect(await get(url, '/index.html', 'HEAD')).toMatchObject({ status: 200, body: '' });
  });

  test('nothing outside the directory, nothing but GET and HEAD', async () => {
    // An encoded slash survives URL parsing and decodes to ../secret.txt: the one way out, refused.
    expect(await get(url, '/..%2fsecret.txt')).toMatchObject({ status: 404, body: 'not found\n' });
    expect((await get(url, '/sub/..%2f..%2fsecret.txt')).status).toBe(404);
    expect((await get(url, '/missing.html')).status).toBe(404);
    expect((await get(url, '/', 'POST')).status).toBe(405);
  });

  test('the command prints where it listens and stops at the signal, exit 0', async () => {
    const out: string[] = [];
    const stop = new AbortController();
    const running = serveCommand([dir, '--port', '0', '--json'], (l) => out.push(l), stop.signal);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const { url: served } = JSON.parse(out[0]!) as { url: string };
    expect((await get(served, '/')).status).toBe(200);
    stop.abort();
    expect(await running).toBe(0);
  });

  test('a directory that does not exist is bad input, exit 2', async () => {
    const err: string[] = [];
    expect(await main(['serve', join(root, 'nope')], () => undefined, (l) => err.push(l))).toBe(2);
    expect(err).toEqual([`hasim: serve: no such directory: ${join(root, 'nope')}`]);
  });
});

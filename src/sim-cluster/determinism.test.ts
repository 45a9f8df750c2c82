import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, test } from 'vitest';
import { hashSeeds, SAMPLE_DURATION } from './fixtures/hash-seeds.ts';
import { buildSampleCluster, runSampleCluster } from './sample-cluster.ts';
import { SECOND } from './time.ts';

const fixture = fileURLToPath(new URL('./fixtures/hash-seeds.ts', import.meta.url));
const workerEntry = fileURLToPath(new URL('./fixtures/hash-seeds-worker.mjs', import.meta.url));
const SEEDS = Array.from({ length: 12 }, (_, i) => i * 7919 + 1);

function inWorker(seeds: number[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const w = new Worker(workerEntry, { workerData: seeds });
    w.once('message', (m) => resolve(m as string[]));
    w.once('error', reject);
  });
}

describe('determinism', () => {
  test('the same seed gives the same trace hash, run after run', () => {
    const a = runSampleCluster(42, 3 * 60 * SECOND);
    const b = runSampleCluster(42, 3 * 60 * SECOND);
    expect(a.result.status).toBe('until-reached');
    expect(a.events).toBeGreaterThan(10_000);
    expect(b.hash).toBe(a.hash);
    expect(b.events).toBe(a.events);
  });

  test('200 different seeds give 200 different hashes', () => {
    const hashes = new Set<string>();
    for (let seed = 0; seed < 200; seed++) hashes.add(runSampleCluster(seed, 10 * SECOND).hash);
    expect(hashes.size).toBe(200);
  });

  test('keeping events or not does not change the hash', () => {
    const kept = buildSampleCluster({ seed: 9, trace: { keepEvents: true } });
    kept.run({ until: 30 * SECOND });
    expect(kept.trace.hash()).toBe(runSampleCluster(9, 30 * SECOND).hash);
    expect(kept.trace.events.length).toBe(kept.trace.count);
  });

  test('hashes are identical on worker threads and in a second process', async () => {
    const here = hashSeeds(SEEDS);
    const [w1, w2] = await Promise.all([inWorker(SEEDS.slice(0, 6)), inWorker(SEEDS.slice(6))]);
    expect([...w1, ...w2]).toEqual(here);
    const out = execFileSync(process.execPath, ['--import', 'tsx', fixture, ...SEEDS.map(String)], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual(here);
    expect(SAMPLE_DURATION).toBeGreaterThan(0);
  });
});

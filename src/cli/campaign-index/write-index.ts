import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readTraceFile } from '../../harness/trace-file.ts';
import { SYSTEMS } from '../../systems/index.ts';
import { explainPagePath, explainTrace } from '../explain/page.ts';
import type { Outputs } from '../output-paths.ts';
import { renderIndexHtml } from './html.ts';
import { campaignIndex, type CampaignIndex, type IndexSource } from './index-data.ts';

/** The index page's name in a findings directory. */
export const INDEX_FILE = 'index.html';

/**
 * Writes a campaign's `index.html` into its findings directory, and beside each trace file it links
 * (every bug's minimal case, every invariant's example) the timeline page `hasim explain` makes.
 * The pages are made at the end, once per file: replaying a minimal case costs two runs, far less
 * than the campaign. A trace file that is missing (its write failed) is listed without a page.
 * Returns the index's path.
 */
export function writeCampaignIndex(dir: string, src: Omit<IndexSource, 'files'>, outputs: Outputs, flag: string): string {
  const traceFiles = new Set<string>();
  for (const b of src.result.bugs ?? []) traceFiles.add(b.example.file);
  for (const inv of src.result.invariants) if (inv.example !== null) traceFiles.add(inv.example.file);
  const files: CampaignIndex['files'] = new Map();
  for (const file of [...traceFiles].sort()) {
    if (!existsSync(file)) continue;
    const trace = readTraceFile(file, SYSTEMS);
    const profile = trace.expectations[0]!.profile;
    const page = explainPagePath(file, profile);
    const written = outputs.write(flag, page, explainTrace(trace, profile).html);
    files.set(file, { schedule: trace.schedule, explainPage: written ? page : null });
  }
  const path = join(dir, INDEX_FILE);
  outputs.write(flag, path, renderIndexHtml(campaignIndex({ ...src, files })));
  return path;
}

import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/**
 * The Chromium the browser tests drive: HASIM_CHROMIUM if set, else Debian's package
 * (`apt-get install chromium`, which .ci/run does). playwright-core brings no browser of its own.
 */
export function chromiumPath(env: Record<string, string | undefined> = process.env): string | null {
  const path = env['HASIM_CHROMIUM'] ?? '/usr/bin/chromium';
  return existsSync(path) ? path : null;
}

/** Launches it headless, without a sandbox (CI containers run as root, where Chromium's sandbox refuses to start). */
export function launchChromium(path: string): Promise<Browser> {
  return chromium.launch({ executablePath: path, args: ['--no-sandbox'] });
}

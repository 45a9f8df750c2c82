#!/usr/bin/env node
// The `hasim` command. The sources are TypeScript, loaded through tsx's loader so that a fresh
// clone runs without a build step.
import { register } from 'tsx/esm/api';

register();
// `hasim list | head` closes stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));

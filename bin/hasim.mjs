#!/usr/bin/env node
// The `hasim` command: runs the compiled CLI in dist/. `npm run build` writes dist/, and the prepare
// script runs it on `npm ci`, `npm install` from a clone and `npm pack`.
import { existsSync, readFileSync } from 'node:fs';
import module from 'node:module';

// Node 22.1+ can cache compiled module code between runs (in the OS temp directory), which cuts
// start-up further; Node 20 lacks the API and starts as before.
try {
  module.enableCompileCache?.();
} catch {
  // A cache that cannot be set up only costs speed.
}

const entry = new URL('../dist/bin/hasim.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('hasim: dist/ is missing: this checkout has not been built; run `npm run build`\n');
  process.exit(3);
}
// `hasim list | head` closes stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});
const { main, internalErrorLine } = await import(entry.href);
// An error that escapes main (thrown in a callback, a promise nobody awaits) is still an internal
// error: one line naming the file with the details, exit code 3, never a stack on the terminal.
const crash = (error) => {
  let version = 'unknown version';
  try {
    version = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
  } catch {
    // The report matters more than the version it names.
  }
  process.stderr.write(`hasim: ${internalErrorLine(error, process.argv.slice(2), version)}\n`);
  process.exit(3);
};
process.on('uncaughtException', crash);
process.on('unhandledRejection', crash);
process.exitCode = await main(process.argv.slice(2));

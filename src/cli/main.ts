import { readFileSync } from 'node:fs';
import { UsageError } from './args.ts';
import { asksForHelp, commandHelp, commandsOf } from './command-help.ts';
import { internalErrorLine, isBadInput, oneLine } from './internal-error.ts';
import { EXPLAIN_HELP, FUZZ_HELP, LIST_HELP, MACHINES_HELP, MERGE_HELP, REPLAY_HELP, REPORT_HELP, RUN_HELP, SAMPLE_HELP, SERVE_HELP, TRIAGE_HELP } from './help.ts';
import { packageRoot } from './package-root.ts';

// For bin/hasim.mjs: an error that escapes main (an uncaught exception in a callback) is reported the same way.
export { internalErrorLine } from './internal-error.ts';

const HELP = `hasim: deterministic simulation testing for high-availability control planes

Usage: hasim <command> [flags]

Commands:
  fuzz       a campaign: seeded fault schedules over the model, violations shrunk and saved
  run        run one seed (or one schedule, or one seed-report scenario) and print what happened
  list       profiles, deployments, design fixes, fault kinds, invariants and seed-report scenarios
  machines   the statecharts of the model's components, as Mermaid diagrams or JSON machine configs
  replay     rerun a trace file and check its outcome and trace hash
  explain    replay a trace file into a self-contained HTML timeline
  report     run every seed-report scenario over many seeds; write a Markdown and an HTML report
  sample     run the kernel's sample cluster for one seed and print its trace hash
  merge      merge the findings of a campaign's shards into one summary and one JUnit report
  triage     regroup a findings directory's failing seeds into distinct bugs
  serve      serve a findings directory's pages on 127.0.0.1
  version    print the version
  help       print this help

${FUZZ_HELP}

${RUN_HELP}

${LIST_HELP}

${MACHINES_HELP}

${REPLAY_HELP}

${EXPLAIN_HELP}

${REPORT_HELP}

${SAMPLE_HELP}

${MERGE_HELP}

${TRIAGE_HELP}

${SERVE_HELP}

Every command takes --json, and --help (or: hasim help <command>) for its own help.

Exit codes: 0 ran and found nothing wrong, 1 a violation (or model failure, determinism failure,
replay mismatch) was found, 2 bad usage or bad input (flags, config, schedules, trace files, output
paths), 3 an internal error of hasim, 130 interrupted with nothing found.`;

/** The exit codes, for `hasim help --json`. */
const EXIT_CODES = { 0: 'ran and found nothing wrong', 1: 'a violation, model failure, determinism failure or replay mismatch', 2: 'bad usage or bad input', 3: 'an internal error of hasim', 130: 'interrupted with nothing found' };

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('package.json', packageRoot()), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * Runs the CLI; returns the exit code. Bad usage or input becomes one line on stderr and exit code
 * 2; any other exception is an internal error: one line naming a file with the details, exit code 3.
 */
export async function main(argv: string[], out: (line: string) => void = (l) => void process.stdout.write(l + '\n'), err: (line: string) => void = (l) => void process.stderr.write(l + '\n')): Promise<number> {
  const [command, ...rest] = argv;
  // Each command module is imported when its command runs: the model, the harness and the worker
  // pool are most of a start-up's work, and `hasim version` or `hasim help` need none of them.
  try {
    const commands = commandsOf(HELP);
    const json = rest.includes('--json');
    // `hasim <command> --help` and `hasim help <command>`: that command's help, before its flags are parsed.
    const asHelp = command === 'help' || command === '--help' || command === '-h';
    const helpFor = asHelp ? rest.find((a) => !a.startsWith('-')) : command !== undefined && asksForHelp(rest) ? command : undefined;
    if (helpFor !== undefined && helpFor !== 'help') {
      const known = commands.find((c) => c.name === helpFor);
      if (known === undefined) throw new UsageError(`unknown command '${helpFor}' (try: hasim help)`);
      out(json ? JSON.stringify({ command: known.name, summary: known.summary, help: commandHelp(known) }) : commandHelp(known));
      return 0;
    }
    switch (command) {
      case 'fuzz': {
        const { fuzzCommand } = await import('./fuzz-command.ts');
        return await fuzzCommand(rest, { out, err, isTty: process.stderr.isTTY === true, env: process.env });
      }
      case 'run': {
        const { runCommand } = await import('./run-command.ts');
        return await runCommand(rest, out);
      }
      case 'list': {
        const { listCommand } = await import('./list-command.ts');
        return listCommand(rest, out);
      }
      case 'machines': {
        const { machinesCommand } = await import('./machines-command.ts');
        return machinesCommand(rest, out);
      }
      case 'report': {
        const { reportCommand } = await import('./report-command.ts');
        return await reportCommand(rest, out, { err });
      }
      case 'sample': {
        const { sampleCommand } = await import('./sample-command.ts');
        return sampleCommand(rest, out);
      }
      case 'replay': {
        const { replayCommand } = await import('./replay-command.ts');
        return replayCommand(rest, out);
      }
      case 'merge': {
        const { mergeCommand } = await import('./merge-command.ts');
        return mergeCommand(rest, out);
      }
      case 'triage': {
        const { triageCommand } = await import('./triage-command.ts');
        return await triageCommand(rest, { out, err });
      }
      case 'serve': {
        const { serveCommand } = await import('./serve-command.ts');
        return await serveCommand(rest, out);
      }
      case 'explain': {
        const { explainCommand } = await import('./explain-command.ts');
        return explainCommand(rest, out);
      }
      case 'version':
      case '--version':
        out(json ? JSON.stringify({ version: version() }) : version());
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        out(json ? JSON.stringify({ version: version(), commands, exitCodes: EXIT_CODES }) : HELP);
        return 0;
      default:
        throw new UsageError(`unknown command '${command}' (try: hasim help)`);
    }
  } catch (error) {
    if (isBadInput(error)) {
      err(`hasim: ${oneLine(error.message)}`);
      return 2;
    }
    let v = 'unknown version';
    try {
      v = version();
    } catch {
      // The report matters more than the version it names.
    }
    err(`hasim: ${internalErrorLine(error, argv, v)}`);
    return 3;
  }
}

import { readFileSync } from 'node:fs';
import { UsageError } from './args.ts';
import { EXPLAIN_HELP, FUZZ_HELP, LIST_HELP, REPLAY_HELP, REPORT_HELP, RUN_HELP, SAMPLE_HELP } from './help.ts';
import { packageRoot } from './package-root.ts';

const HELP = `hasim: deterministic simulation testing for high-availability control planes

Usage: hasim <command> [flags]

Commands:
  fuzz       a campaign: seeded fault schedules over the model, violations shrunk and saved
  run        run one seed (or one schedule, or one seed-report scenario) and print what happened
  list       profiles, design fixes, fault kinds, invariants and seed-report scenarios
  replay     rerun a trace file and check its outcome and trace hash
  explain    replay a trace file into a self-contained HTML timeline
  report     run every seed-report scenario over many seeds; write a Markdown and an HTML report
  sample     run the kernel's sample cluster for one seed and print its trace hash
  version    print the version
  help       print this help

${FUZZ_HELP}

${RUN_HELP}

${LIST_HELP}

${REPLAY_HELP}

${EXPLAIN_HELP}

${REPORT_HELP}

${SAMPLE_HELP}

Exit codes: 0 ran and found nothing wrong, 1 a violation (or model failure) was found,
2 bad usage or bad input.`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('package.json', packageRoot()), 'utf8')) as { version: string };
  return pkg.version;
}

/** Runs the CLI; returns the exit code. Usage errors become one line on stderr and exit code 2. */
export async function main(argv: string[], out: (line: string) => void = (l) => void process.stdout.write(l + '\n'), err: (line: string) => void = (l) => void process.stderr.write(l + '\n')): Promise<number> {
  const [command, ...rest] = argv;
  // Each command module is imported when its command runs: the model, the harness and the worker
  // pool are most of a start-up's work, and `hasim version` or `hasim help` need none of them.
  try {
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
      case 'report': {
        const { reportCommand } = await import('./report-command.ts');
        return await reportCommand(rest, out);
      }
      case 'sample': {
        const { sampleCommand } = await import('./sample-command.ts');
        return sampleCommand(rest, out);
      }
      case 'replay': {
        const { replayCommand } = await import('./replay-command.ts');
        return replayCommand(rest, out);
      }
      case 'explain': {
        const { explainCommand } = await import('./explain-command.ts');
        return explainCommand(rest, out);
      }
      case 'version':
      case '--version':
        out(version());
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        out(HELP);
        return 0;
      default:
        throw new UsageError(`unknown command '${command}' (try: hasim help)`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      err(`hasim: ${error.message}`);
      return 2;
    }
    throw error;
  }
}

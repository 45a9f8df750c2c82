import * as texts from './help.ts';

/**
 * Per-command help for `hasim <command> --help` and `hasim help <command>`. The commands are read
 * from the Commands list of the main help, and each one's text is the `<NAME>_HELP` export of
 * help.ts, so a new command is covered once it is listed there and has its text.
 */
export interface CommandSummary {
  name: string;
  summary: string;
}

/** The commands listed in the main help's `Commands:` block, in order. */
export function commandsOf(help: string): CommandSummary[] {
  const lines = help.split('\n');
  const start = lines.indexOf('Commands:');
  const out: CommandSummary[] = [];
  for (const line of start < 0 ? [] : lines.slice(start + 1)) {
    const m = /^  (\S+)\s+(.*)$/.exec(line);
    if (m === null) break;
    out.push({ name: m[1]!, summary: m[2]! });
  }
  return out;
}

/** A command's help text: its `<NAME>_HELP` when there is one, else its line of the command list. */
export function commandHelp(command: CommandSummary): string {
  const text = (texts as Record<string, unknown>)[`${command.name.toUpperCase().replace(/-/g, '_')}_HELP`];
  return typeof text === 'string' ? text : `hasim ${command.name}\n  ${command.summary}`;
}

/** Whether the arguments ask for help (`--help` or `-h` before a `--`). */
export function asksForHelp(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

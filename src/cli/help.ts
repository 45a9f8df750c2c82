/**
 * The help text of every command (and the report defaults it quotes), in a module of its own so
 * that `hasim help` prints it without loading the commands and the model they import. Each command
 * module re-exports its own text.
 */

/** Seeds per scenario and profile by default: the p99 is then the 10th largest of 1,000 values (2,000 runs per scenario). */
export const DEFAULT_REPORT_SEEDS = 1000;

export const CASE_SPACE_HELP = `  --system NAME       the simulated system (default streamspace; see hasim list systems)
  --profile NAME      streamspace-v2 (as built) or hardened (every design fix); default hardened
  --deployment NAME   a named deployment (see hasim list deployments), or swarm: each seed draws
                      one not marked named-only and perturbs it (default swarm); seed-000 gives the
                      cases seeds gave before deployments existed
  --fixes A,B         design fixes to add on top of the profile (see hasim list fixes)
  --config FILE       JSON configuration overrides, by section (topology, api, agent, election, ...)
  --faults A,B        fault kinds that may appear (default: every kind but those hasim list faults
                      marks "drawn only when named", such as seed 004's node-drain)
  --swarm/--no-swarm  swarm mode: each seed draws a subset of kinds and an intensity (default on)
  --max-faults N      most faults in one schedule (default 8)
  --invariants A,B    invariants to check (default: all; see hasim list invariants)`;

export const FUZZ_HELP = `hasim fuzz [flags]
  A campaign: seeds from --seed-start on, each one a (simulation seed, fault schedule) case of the
  StreamSpace model, checked against every invariant. Every violation is written to --out at once,
  the lowest failing seed of each invariant is shrunk to a 1-minimal schedule and saved as a trace
  file (<invariant>-<profile>-<digest of the case space>-seed-<seed>.json), and the summary names
  the replay command of each. Then the failing seeds are triaged into distinct bugs (told apart by
  the design fixes that remove them), each with a minimal counterexample and its replay command. Ctrl-C stops starting seeds; a second one abandons those in flight;
  either way --results, --junit, --coverage and the summary are written. Exit 0 nothing found, 1 a violation or
  a determinism failure, 2 bad usage or an output that cannot be written, 3 an internal error, 130
  interrupted with nothing found.
${CASE_SPACE_HELP}
  --seeds N           seeds in the campaign, over all shards (default 1000 unless --budget is given)
  --budget DURATION   wall time for the whole command: seeds, shrinks and triage (e.g. 90s, 5m,
                      1h). Seeds stop at the budget, or at half of it once a seed has failed (the
                      other half is triage's); at the budget no run starts, shrinks are cancelled,
                      and what was left undone is reported (triage incomplete, unfinished rounds,
                      unclassified seeds)
  --seed-start S      the first seed (default 0)
  --workers N         worker threads (default: one per core; at most one per seed)
  --shard K/N         run shard K of N: every N-th seed from offset K-1; shards are disjoint and
                      together make the unsharded campaign
  --out DIR           where findings go (default hasim-findings)
  --junit FILE        write a JUnit XML report (one test case per invariant)
  --results FILE      write every seed's outcome and trace hash as JSON Lines, by seed
  --coverage FILE     write the statechart coverage of the seeds' runs as JSON: per machine, every
                      leaf state and transition, reached or not, with the lowest seed reaching it
                      (docs/coverage.md)
  --guided            coverage-guided: keep a corpus of the cases that reached new statechart
                      transitions (or transition pairs) and spend half the seeds mutating their
                      schedules; replays like any campaign (same flags, same cases), mutated cases
                      are recorded with their schedules; not with --shard (docs/coverage.md)
  --guided-epoch N    with --guided: seeds per epoch; a seed's case reads the corpus as it stood
                      two epochs before its own (default 8)
  --self-check N      rerun about 1 seed in N (picked by a hash of the seed, so in every shard)
                      and compare trace hashes (default 50; 0 = off)
  --max-shrink-runs N shrink budget per counterexample, in runs (default 1000)
  --no-triage         do not group the failing seeds into distinct bugs after the campaign
                      (see hasim triage; docs/triage.md): one example per invariant only
  --max-bugs N        most bugs triage looks for per invariant (default 16); the failing seeds
                      left are reported unclassified
  --html              at the end, write DIR/index.html (the case space, progress, every distinct
                      bug with its minimal schedule, per-invariant and per-deployment tables, the
                      self-check) and a timeline page beside each counterexample; see hasim serve
  --json              print the summary as one JSON object`;

export const RUN_HELP = `hasim run --seed S [flags]
hasim run --scenario NAME [--seed S] [--profile P]
  Runs one case and prints what happened: the schedule, the verdict, the recovery time and its bound.
  The case is the one \`hasim fuzz\` runs for seed S with the same flags, or seed S with your own
  schedule (--schedule), or seed S of a named seed-report scenario (hasim list scenarios; seed 0 is
  the report's own procedure, profile streamspace-v2 unless given).
${CASE_SPACE_HELP}
  --seed S            the seed (required without --scenario)
  --scenario NAME     a named scenario instead of a campaign case
  --schedule FILE     a JSON array of faults to use instead of the seed's generated schedule
  --save FILE         write the run as a trace file (replayable with hasim replay)
  --trace FILE        write every trace event as JSON Lines
  --timeline          print the run's key events (faults, crashes, leadership, connections, the violation)
  --html FILE         write a self-contained HTML timeline of the run (as hasim explain does)
  --json              print the verdict as one JSON object
  Exit 0 the run passed, 1 it violated an invariant (or the model failed).`;

export const LIST_HELP = `hasim list [systems|profiles|deployments|fixes|faults|invariants|scenarios] [--system NAME] [--json]
  Lists what a campaign is made of: profiles, deployments (and the ranges swarm mode perturbs them
  within), design fixes, fault kinds with their parameters, invariants with their definitions, and
  the seed-report scenarios (all sections when none is named).`;

export const REPLAY_HELP = `hasim replay FILE... [--trace out.jsonl] [--timeline] [--json]
hasim replay --update FILE...
  Reruns trace files under each configuration they record and checks the outcome and the trace
  hash. A file records each expectation's resolved fixes and configuration, so it means the same
  after a profile changes; replay says when the profile as defined now differs from the recording.
  --timeline prints each run's key events after its verdict: faults, crashes and restarts,
  leadership, agent connections, the violated command's life, the violation.
  --trace FILE  writes the first file's first run's events as JSON Lines (one file only)
  --update      after an intentional model change: resolves each expectation's profile as defined
                now, reruns, rewrites the file if anything changed (current format version) and
                prints per file what changed (fixes, configuration, outcome, hash)
  Exit 0 when every expectation matches (or the files were updated), 1 when one does not.`;

export const EXPLAIN_HELP = `hasim explain FILE [--profile P] [--out FILE.html] [--json]
  Replays a trace file and writes a self-contained HTML timeline of the run (opens offline): a
  lane per process with its states, leadership, the Lease holder, the pods holding the agent's
  connection, the Redis routing key, faults shaded, the violation marked, message arrows on demand,
  hover details. Prints the page's path.
  --profile P   the profile to run (default: the trace's first expectation)
  --out FILE    where to write the page (default: next to FILE, <name>.<profile>.html)
  --json        print a JSON summary instead
  Exit 0 when the run gives the outcome and hash the trace expects for that profile (or passes, for
  a profile it names no expectation for), 1 otherwise.`;

export const REPORT_HELP = `hasim report [--system NAME] [--scenario NAME[,NAME...]]... [--seeds N] [--seed-start S] [--profiles P[,P...]] [--out DIR] [--jobs N] [--runs FILE [--shard K/N]] [--json]
hasim report --from FILE... [--scenario ...] [--seeds N] [--seed-start S] [--profiles ...] [--out DIR] [--json]
  Runs every scenario of the system (default streamspace: its seed reports) or those named over
  seeds S..S+N-1 (default S = 0, N = ${DEFAULT_REPORT_SEEDS}) under each profile (StreamSpace's default:
  streamspace-v2,hardened) and writes DIR/<report>.md and .html (default DIR docs/; StreamSpace's
  report is streamspace-seed-reports): each claim of the seed reports, the share of
  runs in which it held with a replay command for one that did not, the distribution of every
  metric (min, p50, p95, p99, max; CDFs in the HTML), invariant violations and availability. The
  header names the git commit that produced it.
  --jobs sets the worker threads (default: one per core, at most one per 20 seeds); the report
  does not depend on it. Ctrl-C stops starting runs (a second one abandons those in flight) and
  writes the runs that finished as a report marked partial; exit 130, or 1 on a violation.
  --runs FILE   append every finished run to FILE (JSON Lines, one run a line, written as it
                finishes) and do not run again the runs already in it: a killed or interrupted
                report resumes where it stopped. First seed 0 of each scenario and profile is
                run: a file of runs by other code (another seed-0 digest, version or scenario
                definition) is bad input
  --shard K/N   with --runs: run every N-th seed from offset K-1 (shards are disjoint and together
                make the whole) and write no report
  --from FILE...  build the report from runs files, running nothing: the same report, byte for
                byte, as one command running those seeds. The scenarios, profiles and seeds are
                the files' unless given; runs missing make the report partial and are named
  --json prints a summary per scenario and profile instead of text.
  Exit 0 when no run violated an invariant, 1 when one did (the report is written either way), 2
  bad input (a malformed runs file line, runs of other code or of an unknown scenario).`;

export const MACHINES_HELP = `hasim machines [--system NAME] [--machine ID] [--format mermaid|json] [--json]
  Prints the statecharts of the system's components (default streamspace), the definitions its
  model runs: Mermaid stateDiagram-v2 text (default; one diagram per machine, each after a %% line
  naming it when there are several), or JSON: {"system", "machines": [config...]}, each config the
  one createMachine was given (without functions), which Stately's visualiser imports. docs/machines.md
  draws them all.
  --machine ID   one machine only (with --format json: its config alone)
  --format F     mermaid (default) or json; --json is --format json
  Exit 0, or 2 for an unknown system, machine or format.`;

export const SAMPLE_HELP = `hasim sample [--seed N] [--duration 10m] [--no-faults] [--trace FILE] [--json]
  Runs the kernel's sample cluster (a hub and four workers under seeded crashes, pauses,
  partitions, node failures and clock jumps) and prints its trace hash. The same seed prints the
  same hash on any machine: a quick check that a build is deterministic.`;

export const MERGE_HELP = `hasim merge DIR... [--results FILE...] [--junit FILE] [--json]
  Merges the findings directories (--out) of a campaign's shards into one summary: each violated
  invariant with its failing seeds counted across shards, its lowest seed with a counterexample
  file and the replay command, the distinct bugs added up by signature, determinism mismatches,
  and the totals. Reads in each DIR violations.jsonl, the trace files, bugs.json (the shard's
  triage), and summary.json or summary-*.json when present (the shard's
  hasim fuzz --json output; lines before the JSON, such as annotations, are skipped), which give
  the seeds run, the self-check counts and the invariants checked.
  --results FILE...  the shards' --results files (every argument up to the next flag): seeds run
                     and passed, and a seed recorded twice with two trace hashes is a mismatch
  --junit FILE       write one JUnit XML report for the whole campaign
  --json             print the summary as one JSON object
  Exit 0 nothing found, 1 a violation or a determinism mismatch in any shard, 2 bad input (a
  missing directory, a corrupt file, shards of different profiles).`;

export const TRIAGE_HELP = `hasim triage DIR [--workers N] [--budget DURATION] [--max-bugs N] [--max-shrink-runs N] [--digest D] [--json]
  Regroups a findings directory (a campaign's --out: its violations.jsonl and counterexample files)
  into distinct bugs, as hasim fuzz does after a campaign: each bug has a signature (the invariant,
  the fault kinds of its minimal case, the design fixes that remove it), the failing seeds counted
  for it, a minimal counterexample and its replay command (docs/triage.md). Every failing seed is
  rerun first (a seed that changed since the campaign is named); shrunk counterexamples already in
  DIR are reused; new minimal cases and bugs.json are written to DIR.
  --workers N          worker threads (default: one per core)
  --budget DURATION    wall time for the reruns and triage: at its end no run starts, and the seeds
                       not rerun, the rounds cut short and the seeds left are reported
  --max-bugs N         most bugs looked for per invariant (default 16)
  --max-shrink-runs N  shrink budget per counterexample, in runs (default 1000)
  --digest D           the case space to triage, when DIR holds campaigns over several
  --json               print the bugs as one JSON object
  Exit 0 no failing seed, 1 a bug (or failing seeds no bug accounts for or left unchecked), 2 bad input (no such
  directory, no violations.jsonl, a corrupt line), 130 interrupted with nothing found.`;

export const SERVE_HELP = `hasim serve DIR [--port N] [--json]
  Serves a directory (a findings directory written with hasim fuzz --html) on 127.0.0.1 only, so
  its index page and the timeline pages it links open in a browser: GET and HEAD, nothing outside
  DIR, a directory serves its index.html or a listing. Runs until Ctrl-C (exit 0). The pages also
  open straight from the disk; the server is for browsers or setups that will not.
  --port N    the port (default 8080; 0 takes a free one)
  --json      print {"dir", "url"} once listening
  Exit 2 when DIR is not a directory or the port cannot be had.`;

import type { AnySystem } from '../../contract/system.ts';
import { compiledMachines } from '../../harness/coverage.ts';
import { SYSTEMS } from '../../systems/index.ts';
import { replayCommand } from './collect.ts';
import { definitionDigest } from './identity.ts';
import type { RunLine } from './runs-file.ts';

/**
 * The runs of a report gathered from runs files and from the runs of this command, each (scenario,
 * profile, seed) once. Every line added is checked against this hasim and against the lines before
 * it: a known system, scenario and profile, this version, the scenario's definition as defined now,
 * the metrics and claims it defines, statecharts it has, and one seed-0 digest per scenario and
 * profile (runs of other code are not mixed in). A seed found twice with two trace hashes is a
 * determinism failure. Each problem is bad input through `bad`, naming the file and line.
 */
export class RunStore {
  private readonly runs = new Map<string, { line: RunLine; where: string }>();
  private readonly seed0s = new Map<string, { seed0: string; where: string }>();
  private system: { value: AnySystem; where: string } | undefined;

  constructor(private readonly version: string, private readonly bad: (message: string) => never, system?: AnySystem) {
    if (system !== undefined) this.system = { value: system, where: '--system' };
  }

  /** The system of the runs (the one given, else the first line's); undefined before any line. */
  get systemOf(): AnySystem | undefined {
    return this.system?.value;
  }

  get size(): number {
    return this.runs.size;
  }

  add(line: RunLine, where: string): void {
    const bad = (message: string): never => this.bad(`${where}: ${message}`);
    const system = SYSTEMS.find((s) => s.name === line.system) ?? bad(`unknown system '${line.system}' (known: ${SYSTEMS.map((s) => s.name).join(', ')})`);
    if (this.system === undefined) this.system = { value: system, where };
    else if (this.system.value !== system) bad(`system ${line.system}, but ${this.system.where} is ${this.system.value.name}: one report is of one system`);
    const scenario = system.scenarios?.find((s) => s.name === line.scenario) ?? bad(`unknown scenario '${line.scenario}' of system ${system.name} (see: hasim list scenarios)`);
    if (!system.profiles.some((p) => p.name === line.profile)) bad(`unknown profile '${line.profile}' of system ${system.name}`);
    if (line.hasim !== this.version) bad(`run by hasim ${line.hasim}, this is hasim ${this.version}: runs of another version are not mixed (run them again into a new runs file)`);
    const definition = definitionDigest(system, scenario);
    if (line.definition !== definition) bad(`scenario ${scenario.name} was defined otherwise when this ran (definition ${line.definition}, now ${definition}: its claims, metrics or texts changed); run it again into a new runs file`);
    const metricIds = scenario.metrics.map((m) => m.id).sort();
    const lineIds = Object.keys(line.metrics).sort();
    if (lineIds.join(',') !== metricIds.join(',')) bad(`metrics ${lineIds.join(', ') || 'none'}, but ${scenario.name} measures ${metricIds.join(', ')}`);
    if (line.claims.length !== scenario.claims.length) bad(`${line.claims.length} claim verdicts, but ${scenario.name} has ${scenario.claims.length} claims`);
    const machines = compiledMachines(system);
    for (const [id, reached] of Object.entries(line.coverage)) {
      const m = machines.find((x) => x.id === id) ?? bad(`coverage of statechart '${id}', which ${system.name} does not have`);
      if (reached.states.some((i) => i >= m.states.length) || reached.transitions.some((i) => i >= m.transitions.length)) bad(`coverage of ${id} names a state or transition it does not have`);
    }
    const pair = `${line.scenario}\n${line.profile}`;
    const seed0 = this.seed0s.get(pair);
    if (seed0 === undefined) this.seed0s.set(pair, { seed0: line.seed0, where });
    else if (seed0.seed0 !== line.seed0) bad(`${line.scenario} under ${line.profile} ran with seed-0 digest ${line.seed0}, but ${seed0.where} with ${seed0.seed0}: runs of different code are not mixed`);
    const key = `${pair}\n${line.seed}`;
    const before = this.runs.get(key);
    if (before === undefined) this.runs.set(key, { line, where });
    else if (before.line.hash !== line.hash) bad(`${line.scenario} seed ${line.seed} under ${line.profile} has trace hash ${line.hash}, but ${before.where} has ${before.line.hash}: a determinism failure (replay it: ${replayCommand(line.scenario, line.seed, line.profile, system.name)})`);
  }

  has(scenario: string, profile: string, seed: number): boolean {
    return this.runs.has(`${scenario}\n${profile}\n${seed}`);
  }

  /** The seed-0 digest the runs of a scenario under a profile share, and the first line stating it. */
  seed0Of(scenario: string, profile: string): { seed0: string; where: string } | undefined {
    return this.seed0s.get(`${scenario}\n${profile}`);
  }

  /** The lines kept (one per run), in the order they were added. */
  lines(): RunLine[] {
    return [...this.runs.values()].map((r) => r.line);
  }

  /** The lines of a scenario's runs under a profile within seeds first..last, in seed order. */
  linesOf(scenario: string, profile: string, first: number, last: number): RunLine[] {
    return this.lines().filter((l) => l.scenario === scenario && l.profile === profile && l.seed >= first && l.seed <= last).sort((a, b) => a.seed - b.seed);
  }
}

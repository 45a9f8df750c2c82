import type { ScenarioPlan } from '../../contract/scenario.ts';
import { formatTime } from '../../sim-cluster/index.ts';

/**
 * Which of a scenario's seeded parameters separate the runs where a claim held (or an invariant
 * did) from those where it did not. A scenario's seeds vary its plan: the faults' targets, instants
 * and windows, the deployment's settings, the network. When a claim holds in some runs and not in
 * others, the question a reader asks first is what the failing runs have in common; a small
 * decision tree over the plans answers it, from the plans alone, without running anything.
 *
 * The measure is how much of the guessing error the tree removes. Guess the majority outcome for
 * every run and you are wrong in min(held, failed) runs; guess the majority outcome of each of the
 * tree's leaves and you are wrong in the sum of their minorities. A tree that removes less than half
 * of those errors is not shown: the outcome is then the seed's own timing more than its plan.
 */

/** A parameter's value in one seed's plan. */
export type Leaf = string | number | boolean | null;

/**
 * A seed's plan as parameters by path: `faults.length`, every field of every fault
 * (`faults[0].target.index`: the schedule's faults, then the scripted actions' fault records),
 * and every value of the deployment's overrides (`config.…`) and network (`network.…`). The plan's
 * derived instants (heal, work until) are left out: they follow from these.
 */
export function planParameters(plan: ScenarioPlan<unknown, unknown>): Map<string, Leaf> {
  const out = new Map<string, Leaf>();
  const faults = [...plan.schedule, ...(plan.actions ?? []).flatMap((a) => (a.asFault === undefined ? [] : [a.asFault]))];
  out.set('faults.length', faults.length);
  faults.forEach((f, i) => flatten(f, `faults[${i}]`, out));
  if (plan.config !== undefined) flatten(plan.config, 'config', out);
  if (plan.network !== undefined) flatten(plan.network, 'network', out);
  return out;
}

function flatten(value: unknown, path: string, out: Map<string, Leaf>): void {
  if (value === undefined || typeof value === 'function') return;
  if (value === null || typeof value !== 'object') {
    out.set(path, value as Leaf);
    return;
  }
  if (Array.isArray(value)) value.forEach((v, i) => flatten(v, `${path}[${i}]`, out));
  else for (const [k, v] of Object.entries(value)) flatten(v, `${path}.${k}`, out);
}

/** One run: whether the claim held (or the invariant did) and its plan's parameters. */
export interface JudgedRun {
  ok: boolean;
  parameters: ReadonlyMap<string, Leaf>;
}

/** One test on a parameter: a value or not (`=`, `≠`), or a side of a threshold (`≤`, `>`). */
export interface Condition {
  parameter: string;
  op: '=' | '≠' | '≤' | '>';
  /** The value as the report writes it (times in seconds, a missing parameter as `(none)`). */
  value: string;
}

/** A leaf of the tree: the runs that meet every condition on its path, and how many of them held. */
export interface Rule {
  conditions: Condition[];
  held: number;
  runs: number;
}

/** The rules that separate held from failed runs, and the share of the guessing error they remove. */
export interface Separation {
  /** The leaves, in the tree's order (the `=`/`≤` side of each test before the other). */
  rules: Rule[];
  /** The share (0-1] of the majority guess's errors that guessing the majority of each rule removes. */
  explained: number;
}

export interface SeparationOptions {
  /** Most tests on one path. Default 3: a claim that fails where three parameters meet. */
  depth?: number;
  /** Least share of its runs each side of a test keeps. Default 0.02 (and at least 3 runs). */
  minShare?: number;
  /** Least share of the errors the tree must remove to be returned. Default 0.5. */
  minExplained?: number;
  /** A numeric parameter is tested at a threshold, and by value too when it has at most this many distinct values. Default 6. */
  maxCategories?: number;
}

/**
 * A small decision tree over the plans' parameters that separates the runs where the outcome was
 * ok from the others: at each node the one test (a parameter's value, or a threshold of a numeric
 * one) that leaves the fewest errors, as long as it removes some, each side keeps enough runs and
 * the path is short. A claim that fails only where two or three parameters meet shows as one rule.
 * Null when every run has the same outcome, or when the tree removes less than `minExplained` of
 * the errors (the outcome is not a matter of the plan's parameters: the seed's own timing decides).
 */
export function separate(runs: readonly JudgedRun[], options: SeparationOptions = {}): Separation | null {
  const { depth = 3, minShare = 0.02, minExplained = 0.5, maxCategories = 6 } = options;
  const baseline = minority(runs);
  if (baseline === 0) return null;
  const minRuns = Math.max(3, Math.ceil(minShare * runs.length));
  const parameters = [...new Set(runs.flatMap((r) => [...r.parameters.keys()]))].sort();
  const rules: Rule[] = [];
  const grow = (node: readonly JudgedRun[], path: Condition[]): void => {
    const split = path.length < depth ? bestSplit(node, parameters, minRuns, maxCategories) : null;
    if (split === null) {
      rules.push({ conditions: path, held: node.filter((r) => r.ok).length, runs: node.length });
      return;
    }
    grow(split.yes, [...path, split.test]);
    grow(split.no, [...path, split.negated]);
  };
  grow(runs, []);
  const errors = rules.reduce((sum, r) => sum + Math.min(r.held, r.runs - r.held), 0);
  const explained = (baseline - errors) / baseline;
  return explained >= minExplained ? { rules, explained } : null;
}

/** Runs whose outcome is not the majority's. */
function minority(runs: readonly JudgedRun[]): number {
  const held = runs.filter((r) => r.ok).length;
  return Math.min(held, runs.length - held);
}

interface Split {
  test: Condition;
  negated: Condition;
  yes: JudgedRun[];
  no: JudgedRun[];
  errors: number;
}

/** The test that leaves the fewest errors in a node (the first such, by parameter name and value), or null if none removes any. */
function bestSplit(node: readonly JudgedRun[], parameters: readonly string[], minRuns: number, maxCategories: number): Split | null {
  let best: Split | null = null;
  const consider = (split: Split): void => {
    if (split.yes.length >= minRuns && split.no.length >= minRuns && (best === null || split.errors < best.errors)) best = split;
  };
  for (const parameter of parameters) {
    const values = node.map((r) => r.parameters.get(parameter));
    if (values.every((v) => v === values[0])) continue;
    // A numeric parameter present in every run is ordered: a threshold first (it wins a tie: "longer
    // than 30 s" reads better than "60 s or 90 s"), then its values when it has few.
    const numbers = values.every((v) => typeof v === 'number') ? (values as number[]) : null;
    if (numbers !== null) {
      const t = threshold(node, numbers);
      const text = valueText(t, parameter);
      const yes = node.filter((_, i) => numbers[i]! <= t);
      const no = node.filter((_, i) => numbers[i]! > t);
      consider({ test: { parameter, op: '≤', value: text }, negated: { parameter, op: '>', value: text }, yes, no, errors: minority(yes) + minority(no) });
      if (new Set(numbers).size > maxCategories) continue;
    }
    for (const v of orderedValues(values)) {
      const text = v === undefined ? ABSENT : valueText(v, parameter);
      const yes = node.filter((_, i) => values[i] === v);
      const no = node.filter((_, i) => values[i] !== v);
      consider({ test: { parameter, op: '=', value: text }, negated: { parameter, op: '≠', value: text }, yes, no, errors: minority(yes) + minority(no) });
    }
  }
  const found = best as Split | null;
  return found !== null && found.errors < minority(node) ? found : null;
}

/** The threshold t of a numeric parameter for which `≤ t` against `> t` leaves the fewest errors (the lowest such). */
function threshold(node: readonly JudgedRun[], values: readonly number[]): number {
  const order = values.map((v, i) => ({ v, ok: node[i]!.ok })).sort((a, b) => a.v - b.v);
  const total = order.length;
  const totalHeld = order.filter((x) => x.ok).length;
  let best = { at: order[0]!.v, errors: Infinity };
  let below = 0;
  let belowHeld = 0;
  for (let i = 0; i < total - 1; i++) {
    below++;
    if (order[i]!.ok) belowHeld++;
    if (order[i]!.v === order[i + 1]!.v) continue;
    const aboveHeld = totalHeld - belowHeld;
    const errors = Math.min(belowHeld, below - belowHeld) + Math.min(aboveHeld, total - below - aboveHeld);
    if (errors < best.errors) best = { at: order[i]!.v, errors };
  }
  return best.at;
}

/** A parameter's distinct values: numbers ascending, then the others by their text, a missing parameter last. */
function orderedValues(values: ReadonlyArray<Leaf | undefined>): Array<Leaf | undefined> {
  const rank = (v: Leaf | undefined): [number, number | string] => (v === undefined ? [2, 0] : typeof v === 'number' ? [0, v] : [1, String(v)]);
  return [...new Set(values)].sort((a, b) => {
    const [ka, va] = rank(a);
    const [kb, vb] = rank(b);
    return ka !== kb ? ka - kb : va < vb ? -1 : va > vb ? 1 : 0;
  });
}

/** A value as the report writes it: times (fields named `at` or ending in `Us`) in seconds. */
function valueText(v: Leaf, parameter: string): string {
  if (typeof v === 'number' && /(^|\.)at$|Us$/.test(parameter)) return formatTime(v);
  return typeof v === 'string' ? v : String(v);
}

/** How the report writes a missing parameter (a fault the seed's plan does not have). */
const ABSENT = '(none)';

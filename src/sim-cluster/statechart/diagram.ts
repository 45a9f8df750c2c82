import type { AnyStateMachine } from 'xstate';
import type { CompiledMachine, NamedRef, NodeInfo, TransitionInfo } from './compile.ts';

/**
 * Diagrams of compiled machines: Mermaid `stateDiagram-v2` text, and the machine config as JSON
 * (what Stately's visualiser opens). Both are drawn from the definition, so they cannot drift from
 * what runs.
 *
 * Mermaid names a state by its id; a state's id is its key unless two states share it (or it is
 * one of Mermaid's keywords), in which case it is its path joined with `_`, and the key is its
 * title. A transition between two children of one composite state is declared in that state's block,
 * any other one at the top level, after the blocks (a state named inside a block it does not belong
 * to would be moved there); one of the machine itself is drawn from each top-level state. Entry and exit actions and targetless transitions are lines of the
 * state (UML's internal compartment); `after` transitions are labelled `after <delay>`.
 */

const MERMAID_WORDS = new Set(['state', 'end', 'note', 'direction', 'as', 'left', 'right', 'of', 'class', 'classdef', 'style', 'click', 'default', 'hide', 'empty', 'description']);

/** Mermaid reads `#` as a comment and `;` as the end of a statement. */
const text = (s: string): string => s.replace(/[#;]/g, ' ');

function ref(r: NamedRef): string {
  if (r.params === undefined) return r.name;
  const params = typeof r.params === 'object' && r.params !== null
    ? Object.entries(r.params).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ')
    : JSON.stringify(r.params);
  return `${r.name}(${params})`;
}

/** `EVENT [guard] / a, b`, with `after <delay>` for a delayed transition. */
export function transitionLabel(t: TransitionInfo): string {
  const event = t.delay === null ? t.event : `after ${typeof t.delay === 'number' ? `${t.delay}ms` : t.delay}`;
  const guard = t.guard === null ? '' : ` [${ref(t.guard)}]`;
  const actions = t.actions.length === 0 ? '' : ` / ${t.actions.map(ref).join(', ')}`;
  return text(`${event}${guard}${actions}`);
}

function mermaidIds(nodes: readonly NodeInfo[]): Map<string, string> {
  const count = new Map<string, number>();
  for (const n of nodes) count.set(n.key, (count.get(n.key) ?? 0) + 1);
  const ids = new Map<string, string>();
  const used = new Set<string>();
  for (const n of nodes) {
    if (n.parent === null) continue;
    const plain = /^[A-Za-z][A-Za-z0-9_]*$/.test(n.key) && count.get(n.key) === 1 && !MERMAID_WORDS.has(n.key.toLowerCase());
    let id = plain ? n.key : n.path.join('_').replace(/[^A-Za-z0-9_]/g, '_');
    if (!/^[A-Za-z]/.test(id) || MERMAID_WORDS.has(id.toLowerCase())) id = `s_${id}`;
    while (used.has(id)) id = `${id}_`;
    used.add(id);
    ids.set(n.id, id);
  }
  return ids;
}

/** One machine as a Mermaid `stateDiagram-v2`. */
export function toMermaid(compiled: CompiledMachine): string {
  const ids = mermaidIds(compiled.nodes);
  const byId = new Map(compiled.nodes.map((n) => [n.id, n]));
  const children = (id: string): NodeInfo[] => compiled.nodes.filter((n) => n.parent === id);
  const moves = compiled.transitions.filter((t) => t.index !== 0 && t.target !== null);
  const placed = new Set<TransitionInfo>();
  const lines: string[] = ['stateDiagram-v2'];

  const block = (parent: NodeInfo, indent: string): void => {
    for (const child of children(parent.id)) {
      const id = ids.get(child.id)!;
      const inner = [
        ...child.entry.map((a) => `entry / ${ref(a)}`),
        ...child.exit.map((a) => `exit / ${ref(a)}`),
        ...compiled.transitions.filter((t) => t.index !== 0 && t.target === null && t.source === child.id).map(transitionLabel),
      ].map(text);
      if (child.type === 'compound') {
        // A composite state's label is one line (Mermaid draws a list of them as one string).
        if (inner.length > 0 || id !== child.key) lines.push(`${indent}${id} : ${text(child.key)}${inner.length > 0 ? ` (${inner.join(', ')})` : ''}`);
      } else if (inner.length > 0 || id !== child.key) {
        // The first description replaces the id as the state's title; the others are listed under it.
        lines.push(`${indent}${id} : ${text(child.key)}`);
        for (const line of inner) lines.push(`${indent}${id} : ${line}`);
      }
      if (child.type === 'compound') {
        lines.push(`${indent}state ${id} {`);
        block(child, `${indent}  `);
        lines.push(`${indent}}`);
      }
    }
    if (parent.initial !== null) lines.push(`${indent}[*] --> ${ids.get(parent.initial)}`);
    for (const t of moves) {
      const source = byId.get(t.source)!;
      const target = byId.get(t.target!)!;
      if (source.parent !== parent.id || target.parent !== parent.id) continue;
      placed.add(t);
      lines.push(`${indent}${ids.get(source.id)} --> ${ids.get(target.id)} : ${transitionLabel(t)}`);
    }
    for (const child of children(parent.id)) {
      if (child.type === 'final') lines.push(`${indent}${ids.get(child.id)} --> [*]`);
    }
  };

  const root = compiled.nodes[0]!;
  for (const a of root.entry) lines.push(`  %% entry of the machine: ${text(ref(a))}`);
  block(root, '  ');
  for (const t of moves) {
    if (placed.has(t)) continue;
    // A transition of the machine itself is taken from whatever state it is in (but a final one).
    const sources = t.source === root.id ? children(root.id).filter((c) => c.type !== 'final').map((c) => c.id) : [t.source];
    for (const s of sources) lines.push(`  ${ids.get(s)} --> ${ids.get(t.target!)} : ${transitionLabel(t)}`);
  }
  return lines.join('\n');
}

/**
 * The machine's config as JSON: what `createMachine` was given, without its functions (the
 * context factory), which is what Stately's visualiser and editor import.
 */
export function machineConfigJson(machine: AnyStateMachine): Record<string, unknown> {
  return JSON.parse(JSON.stringify(machine.config)) as Record<string, unknown>;
}

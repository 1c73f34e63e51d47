import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// The layering docs/ARCHITECTURE.md describes, read off the code itself: which lib/ folder imports
// which. A cycle between folders, the AWS SDK outside lib/aws, or a leaf that grew an import fails here.

const root = resolve(__dirname, '../../..');
const lib = join(root, 'lib');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return /\.(ts|tsx)$/.test(name) ? [path] : [];
  });
}

/** Every module specifier a file imports or re-exports (static and dynamic). */
function specifiers(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1]!);
}

/** The lib/ unit a module belongs to: its folder under lib/, or the file name for a leaf at lib/'s root. */
function unitOf(absolute: string): string | null {
  const rel = relative(lib, absolute);
  if (rel.startsWith('..')) return null;
  const [first, ...rest] = rel.split('/');
  return rest.length === 0 ? first!.replace(/\.tsx?$/, '') : first!;
}

function resolveSpecifier(from: string, spec: string): string | null {
  if (spec.startsWith('@/')) return join(root, spec.slice(2));
  if (spec.startsWith('.')) return resolve(dirname(from), spec);
  return null;
}

const graph = new Map<string, Set<string>>();
for (const file of files(lib)) {
  const unit = unitOf(file)!;
  const edges = graph.get(unit) ?? new Set<string>();
  graph.set(unit, edges);
  for (const spec of specifiers(file)) {
    const target = resolveSpecifier(file, spec);
    const targetUnit = target ? unitOf(target) : null;
    if (targetUnit && targetUnit !== unit) edges.add(targetUnit);
  }
}

function findCycle(): string[] | null {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (unit: string): string[] | null => {
    if (state.get(unit) === 'done') return null;
    if (state.get(unit) === 'visiting') return [...stack.slice(stack.indexOf(unit)), unit];
    state.set(unit, 'visiting');
    stack.push(unit);
    for (const next of graph.get(unit) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(unit, 'done');
    return null;
  };
  for (const unit of graph.keys()) {
    const cycle = visit(unit);
    if (cycle) return cycle;
  }
  return null;
}

describe('the layers of lib/', () => {
  it('has no import cycle between folders', () => {
    expect(findCycle()).toBeNull();
  });

  it('finds a cycle when there is one (the walker itself works)', () => {
    graph.set('__a', new Set(['__b']));
    graph.set('__b', new Set(['__a']));
    try {
      expect(findCycle()).toEqual(expect.arrayContaining(['__a', '__b']));
    } finally {
      graph.delete('__a');
      graph.delete('__b');
    }
  });

  it('keeps the AWS SDK inside lib/aws', () => {
    const outside = ['lib', 'app', 'components']
      .flatMap((dir) => files(join(root, dir)))
      .filter((f) => !f.startsWith(join(lib, 'aws') + '/') && specifiers(f).some((s) => s.startsWith('@aws-sdk/')))
      .map((f) => relative(root, f));
    expect(outside).toEqual([]);
  });

  it('keeps the leaves at lib/ root and the store at the bottom', () => {
    const leaves = [...graph.keys()].filter((u) => !statSync(join(lib, u), { throwIfNoEntry: false })?.isDirectory());
    for (const leaf of leaves) expect([...graph.get(leaf)!], `${leaf} is a leaf`).toEqual([]);
    expect([...graph.get('store')!].every((u) => leaves.includes(u)), 'lib/store imports only leaves').toBe(true);
    expect([...graph.get('roles')!].filter((u) => !leaves.includes(u))).toEqual(['config']);
    expect(graph.get('rotation')!.has('deploy') || graph.get('deploy')!.has('rotation')).toBe(false);
  });
});

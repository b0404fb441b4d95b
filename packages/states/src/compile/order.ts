import { problemAt, chunkLabel, type LowChunk, type RequisiteKind } from './types.js';
import type { InputError } from '@brine/common';

/** Why one state must run before another, for the message that names a cycle. */
interface Edge {
  to: number;
  kind: RequisiteKind | 'prereq-check';
}

/**
 * Execution order: declaration order, moved by `order:` and by requisites. Each
 * state's sort key is the smallest key among itself and everything waiting on
 * it, so a requisite pulls what it needs forward instead of pushing the
 * dependent back (as Salt's ordering does). Returns chunk indexes in run order,
 * or the problem naming a cycle.
 */
export function orderChunks(chunks: readonly LowChunk[]): number[] | InputError {
  const n = chunks.length;
  const out: Edge[][] = Array.from({ length: n }, () => []);
  const indegree = new Int32Array(n);
  const addEdge = (from: number, to: number, kind: Edge['kind']) => {
    out[from]!.push({ to, kind });
    indegree[to]!++;
  };
  for (const c of chunks) {
    for (const req of c.requisites) {
      if (req.kind !== 'prereq') addEdge(req.target, c.index, req.kind);
      else {
        // The state declaring prereq runs first; what the pre-required state waits
        // for must be done before, since it is test-run at that moment.
        addEdge(c.index, req.target, 'prereq');
        for (const dep of chunks[req.target]!.requisites) {
          if (!dep.implicit && dep.kind !== 'prereq' && dep.target !== c.index) addEdge(dep.target, c.index, 'prereq-check');
        }
      }
    }
  }

  const cap = chunks.reduce((m, c) => (typeof c.order === 'number' && c.order > 0 ? Math.max(m, c.order + 100) : m), 1);
  const ownKey = (c: LowChunk): number => {
    if (c.order === 'first') return 0;
    if (c.order === 'last') return cap + 1_000_000;
    if (c.order === undefined) return cap;
    return c.order < 0 ? cap + 1_000_000 + c.order : c.order;
  };
  // Keys compare as (order, declaration index); kept as two arrays for speed.
  const effOrder = Float64Array.from(chunks, ownKey);
  const effDecl = Float64Array.from(chunks, (c) => c.index);
  const topo = kahn(n, out, indegree, (a, b) => a - b);
  if (topo.length < n) return cycleProblem(chunks, out, new Set(topo));
  for (let i = n - 1; i >= 0; i--) {
    const u = topo[i]!;
    for (const { to } of out[u]!) {
      if (effOrder[to]! < effOrder[u]! || (effOrder[to] === effOrder[u] && effDecl[to]! < effDecl[u]!)) {
        effOrder[u] = effOrder[to]!;
        effDecl[u] = effDecl[to]!;
      }
    }
  }
  const own = Float64Array.from(chunks, ownKey);
  return kahn(n, out, indegree, (a, b) => effOrder[a]! - effOrder[b]! || effDecl[a]! - effDecl[b]! || own[a]! - own[b]! || a - b);
}

/** Topological order, always taking the smallest ready node by `compare`. */
function kahn(n: number, out: readonly Edge[][], indegree: Int32Array, compare: (a: number, b: number) => number): number[] {
  const deg = indegree.slice();
  const heap = new MinHeap(compare);
  for (let i = 0; i < n; i++) if (deg[i] === 0) heap.push(i);
  const order: number[] = [];
  while (heap.size > 0) {
    const u = heap.pop();
    order.push(u);
    for (const { to } of out[u]!) if (--deg[to]! === 0) heap.push(to);
  }
  return order;
}

class MinHeap {
  private readonly items: number[] = [];
  constructor(private readonly compare: (a: number, b: number) => number) {}
  get size(): number {
    return this.items.length;
  }
  push(x: number): void {
    const a = this.items;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.compare(a[i]!, a[p]!) >= 0) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): number {
    const a = this.items;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.compare(a[l]!, a[m]!) < 0) m = l;
        if (r < a.length && this.compare(a[r]!, a[m]!) < 0) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

const VERB: Record<Edge['kind'], string> = {
  require: 'requires',
  require_any: 'has require_any on',
  watch: 'watches',
  watch_any: 'has watch_any on',
  onchanges: 'has onchanges on',
  onchanges_any: 'has onchanges_any on',
  onfail: 'has onfail on',
  onfail_any: 'has onfail_any on',
  onfail_all: 'has onfail_all on',
  prereq: 'is a prereq of',
  'prereq-check': 'must be checked after',
};

/** Finds one cycle among the states Kahn could not place and says it in requisite terms. */
function cycleProblem(chunks: readonly LowChunk[], out: readonly Edge[][], placed: ReadonlySet<number>): InputError {
  const state = new Uint8Array(chunks.length); // 0 new, 1 on stack, 2 done
  const via = new Map<number, { from: number; kind: Edge['kind'] }>();
  for (let start = 0; start < chunks.length; start++) {
    if (placed.has(start) || state[start] !== 0) continue;
    const stack: { node: number; next: number }[] = [{ node: start, next: 0 }];
    state[start] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const edge = out[top.node]![top.next++];
      if (!edge) {
        state[top.node] = 2;
        stack.pop();
        continue;
      }
      if (placed.has(edge.to)) continue;
      if (state[edge.to] === 1) return describeCycle(chunks, top.node, edge, via);
      if (state[edge.to] === 0) {
        via.set(edge.to, { from: top.node, kind: edge.kind });
        state[edge.to] = 1;
        stack.push({ node: edge.to, next: 0 });
      }
    }
  }
  throw new Error('orderChunks: unplaced states without a cycle');
}

function describeCycle(
  chunks: readonly LowChunk[],
  last: number,
  closing: Edge,
  via: Map<number, { from: number; kind: Edge['kind'] }>,
): InputError {
  // Walk back from `last` to the node the closing edge returns to.
  const edges: { from: number; to: number; kind: Edge['kind'] }[] = [{ from: last, to: closing.to, kind: closing.kind }];
  for (let node = last; node !== closing.to; ) {
    const step = via.get(node)!;
    edges.unshift({ from: step.from, to: node, kind: step.kind });
    node = step.from;
  }
  // An edge from→to means "from runs first": the dependent is `to`, except for prereq.
  const phrases = edges.map(({ from, to, kind }) =>
    kind === 'prereq'
      ? `${chunkLabel(chunks[from]!)} ${VERB[kind]} ${chunkLabel(chunks[to]!)}`
      : `${chunkLabel(chunks[to]!)} ${VERB[kind]} ${chunkLabel(chunks[from]!)}`,
  );
  const first = chunks[closing.to]!;
  return problemAt(first.locus, `Recursive requisites were found: ${phrases.join(', ')}`, 'requisite_cycle');
}

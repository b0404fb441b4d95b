import type { InputError } from '@brine/common';
import { isPlainObject } from '../merge.js';
import { findFunction, type ModuleRegistry } from '../modules/registry.js';
import { globMatch } from '../target/glob.js';
import type { RawRequisite } from './lower.js';
import { problemAt, type LowChunk, type RequisiteKind } from './types.js';

const isPattern = (s: string): boolean => /[*?[\]]/.test(s);

/** Lookups from a requisite reference (`module: id-or-name`, `id`, `sls: name`) to chunks. */
class ChunkIndex {
  private readonly byIdOrName = new Map<string, number[]>();
  private readonly byModule = new Map<string, number[]>();
  private readonly bySls = new Map<string, number[]>();

  constructor(private readonly chunks: readonly LowChunk[]) {
    for (const c of chunks) {
      for (const key of new Set([c.id, c.name])) {
        push(this.byIdOrName, key, c.index);
        push(this.byModule, `${c.module}\0${key}`, c.index);
      }
      for (const sls of [c.sls, ...c.includedFrom]) push(this.bySls, sls, c.index);
    }
  }

  find(key: string, value: string): number[] {
    if (key === 'sls') {
      if (!isPattern(value)) return this.bySls.get(value) ?? [];
      return unique([...this.bySls].filter(([sls]) => globMatch(value, sls)).flatMap(([, ids]) => ids));
    }
    if (!isPattern(value)) return (key === 'id' ? this.byIdOrName.get(value) : this.byModule.get(`${key}\0${value}`)) ?? [];
    return this.chunks
      .filter((c) => (key === 'id' || c.module === key) && (globMatch(value, c.id) || globMatch(value, c.name)))
      .map((c) => c.index);
  }
}

function push(map: Map<string, number[]>, key: string, index: number): void {
  const list = map.get(key);
  if (!list) map.set(key, [index]);
  else if (list[list.length - 1] !== index) list.push(index);
}

const unique = (xs: number[]): number[] => [...new Set(xs)];

/**
 * Resolves every requisite to the chunks it names and records it on the state
 * that waits: `require: [x]` on S makes S wait for x; `require_in: [x]` makes x
 * wait for S. A reference that matches nothing is an error, as in Salt.
 */
export function resolveRequisites(chunks: LowChunk[], raw: readonly RawRequisite[], registry: ModuleRegistry): InputError[] {
  const problems: InputError[] = [];
  const index = new ChunkIndex(chunks);
  const seen = new Set<string>();
  const addEdge = (dependent: number, kind: RequisiteKind, target: number, implicit = false) => {
    const key = `${dependent}:${kind}:${target}`;
    if (seen.has(key)) return;
    seen.add(key);
    chunks[dependent]!.requisites.push(implicit ? { kind, target, implicit } : { kind, target });
  };
  for (const r of raw) {
    const self = chunks[r.chunk]!;
    const where = `in state [${self.name}] in SLS [${self.sls}]`;
    if (!Array.isArray(r.value)) {
      problems.push(problemAt(r.locus, `The ${r.key} statement in state '${self.id}' in SLS '${self.sls}' needs to be formed as a list`, 'requisite_invalid'));
      continue;
    }
    r.value.forEach((item: unknown, i: number) => {
      const locus = { source: r.locus.source, path: [...r.locus.path, i] };
      const ref = parseReference(item);
      if (typeof ref === 'string') return void problems.push(problemAt(locus, `Requisite [${r.key}: ${ref}] ${where} must be 'module: id-or-name', 'sls: name' or an ID`, 'requisite_invalid'));
      const targets = index.find(ref.key, ref.value);
      if (targets.length === 0) {
        return void problems.push(problemAt(locus, `Referenced state does not exist for requisite [${r.key}: (${ref.key}: ${ref.value})] ${where}`, 'requisite_missing'));
      }
      for (const t of targets) {
        if (r.key === 'listen') self.listen.push(t);
        else if (r.key === 'listen_in') chunks[t]!.listen.push(self.index);
        else if (r.key.endsWith('_in')) addEdge(t, r.key.slice(0, -3) as RequisiteKind, self.index);
        else addEdge(self.index, r.key as RequisiteKind, t);
      }
    });
  }
  for (const c of chunks) {
    c.listen = unique(c.listen);
    // Salt: the pre-required state runs after, and only if, the state that declared prereq did not fail.
    for (const req of c.requisites) if (req.kind === 'prereq') addEdge(req.target, 'require', c.index, true);
    if (c.listen.length > 0 && !findFunction(registry, c.module, c.fun)?.watch) {
      problems.push(problemAt(c.locus, `${c.module}.${c.fun} has no watch action, so 'listen' cannot trigger it (ID '${c.id}')`, 'requisite_invalid'));
    }
  }
  return problems;
}

/** `x` (an ID or name), `{module: x}`, `{module.function: x}` (trimmed to the module), `{sls: x}`. */
function parseReference(item: unknown): { key: string; value: string } | string {
  if (typeof item === 'string') return { key: 'id', value: item };
  if (isPlainObject(item) && Object.keys(item).length === 1) {
    const [rawKey, value] = Object.entries(item)[0]!;
    const key = rawKey.split('.')[0]!;
    if (typeof value === 'string' || typeof value === 'number') return { key, value: String(value) };
    return `${rawKey} (the value must be a string)`;
  }
  return JSON.stringify(item);
}

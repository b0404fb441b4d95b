import type { InputError } from '@brine/common';
import { findFunction, type ModuleRegistry } from '../modules/registry.js';
import { globMatch } from '../target/glob.js';
import { argLocus, singleKey } from './gather.js';
import type { RawRequisite } from './lower.js';
import { childLocus, problemAt, type LowChunk, type RequisiteKind } from './types.js';

const isPattern = (s: string): boolean => /[*?[\]]/.test(s);

/** Lookups from a requisite reference (`module: id-or-name`, `id`, `sls: name`) to chunks. */
class ChunkIndex {
  private readonly byIdOrName = new Map<string, number[]>();
  /** module → ID or name → chunks */
  private readonly byModule = new Map<string, Map<string, number[]>>();
  private readonly bySls = new Map<string, number[]>();

  constructor(private readonly chunks: readonly LowChunk[]) {
    for (const c of chunks) {
      let inModule = this.byModule.get(c.module);
      if (!inModule) this.byModule.set(c.module, (inModule = new Map()));
      push(this.byIdOrName, c.id, c.index);
      push(inModule, c.id, c.index);
      if (c.name !== c.id) {
        push(this.byIdOrName, c.name, c.index);
        push(inModule, c.name, c.index);
      }
      push(this.bySls, c.sls, c.index);
      for (const sls of c.includedFrom) push(this.bySls, sls, c.index);
    }
  }

  find(key: string, value: string): readonly number[] {
    if (key === 'sls') {
      if (!isPattern(value)) return this.bySls.get(value) ?? NOTHING;
      return unique([...this.bySls].filter(([sls]) => globMatch(value, sls)).flatMap(([, ids]) => ids));
    }
    if (!isPattern(value)) return (key === 'id' ? this.byIdOrName.get(value) : this.byModule.get(key)?.get(value)) ?? NOTHING;
    return this.chunks
      .filter((c) => (key === 'id' || c.module === key) && (globMatch(value, c.id) || globMatch(value, c.name)))
      .map((c) => c.index);
  }
}

const NOTHING: readonly number[] = [];

function push(map: Map<string, number[]>, key: string, index: number): void {
  const list = map.get(key);
  if (!list) map.set(key, [index]);
  else if (list[list.length - 1] !== index) list.push(index);
}

const unique = (xs: readonly number[]): number[] => [...new Set(xs)];

/**
 * Resolves every requisite to the chunks it names and records it on the state
 * that waits: `require: [x]` on S makes S wait for x; `require_in: [x]` makes x
 * wait for S. A reference that matches nothing is an error, as in Salt.
 */
export function resolveRequisites(chunks: LowChunk[], raw: readonly RawRequisite[], registry: ModuleRegistry): InputError[] {
  const problems: InputError[] = [];
  const index = new ChunkIndex(chunks);
  const addEdge = (dependent: number, kind: RequisiteKind, target: number, implicit = false) => {
    // A state has a handful of requisites: a scan beats building a key per edge.
    const list = chunks[dependent]!.requisites;
    if (list.some((r) => r.kind === kind && r.target === target)) return;
    list.push(implicit ? { kind, target, implicit } : { kind, target });
  };
  for (const r of raw) {
    const self = chunks[r.chunk]!;
    const value = r.arg.value;
    const where = `in state [${self.name}] in SLS [${self.sls}]`;
    if (!Array.isArray(value)) {
      problems.push(
        problemAt(
          argLocus(r.arg),
          `The ${r.key} statement in state '${self.id}' in SLS '${self.sls}' needs to be formed as a list`,
          'requisite_invalid',
        ),
      );
      continue;
    }
    for (let i = 0; i < value.length; i++) {
      const ref = parseReference(value[i]);
      if (typeof ref === 'string') {
        problems.push(
          problemAt(
            childLocus(argLocus(r.arg), i),
            `Requisite [${r.key}: ${ref}] ${where} must be 'module: id-or-name', 'sls: name' or an ID`,
            'requisite_invalid',
          ),
        );
        continue;
      }
      const targets = index.find(ref.key, ref.value);
      if (targets.length === 0) {
        // Salt fails only the state whose own requisite names nothing; a dangling _in or listen
        // would change another state, so it stays an error of the whole tree.
        if (isOwn(r.key)) lost(self, r.key, ref);
        else
          problems.push(
            problemAt(
              childLocus(argLocus(r.arg), i),
              `Referenced state does not exist for requisite [${r.key}: (${ref.key}: ${ref.value})] ${where}`,
              'requisite_missing',
            ),
          );
        continue;
      }
      for (const t of targets) {
        if (r.key === 'listen') self.listen.push(t);
        else if (r.key === 'listen_in') chunks[t]!.listen.push(self.index);
        else if (r.key.endsWith('_in')) addEdge(t, r.key.slice(0, -3) as RequisiteKind, self.index);
        else addEdge(self.index, r.key as RequisiteKind, t);
      }
    }
  }
  for (const c of chunks) {
    c.listen = unique(c.listen);
    if (c.broken) continue;
    // Salt: the pre-required state runs after, and only if, the state that declared prereq did not fail.
    for (const req of c.requisites) if (req.kind === 'prereq') addEdge(req.target, 'require', c.index, true);
    if (c.listen.length > 0 && !findFunction(registry, c.module, c.fun)?.watch) {
      problems.push(
        problemAt(c.locus, `${c.module}.${c.fun} has no watch action, so 'listen' cannot trigger it (ID '${c.id}')`, 'requisite_invalid'),
      );
    }
  }
  return problems;
}

const isOwn = (key: string): key is RequisiteKind => !key.endsWith('_in') && key !== 'listen';

/**
 * Records a requisite that names no state, in Salt's words ("The following requisites were not
 * found:", then each by kind): the state fails at its requisite check, before anything else.
 */
function lost(chunk: LowChunk, kind: RequisiteKind, ref: { key: string; value: string }): void {
  const head = 'The following requisites were not found:\n';
  const prior = chunk.broken?.stage === 'requisites' ? chunk.broken.comment : head;
  const kindLine = `${' '.repeat(19)}${kind}:\n`;
  const refLine = `${' '.repeat(23)}${ref.key}: ${ref.value}\n`;
  // Lines of one kind stay together, under one heading, in the order they were written.
  const at = prior.indexOf(kindLine);
  const next = at < 0 ? prior + kindLine + refLine : insertAfterKind(prior, at + kindLine.length, refLine);
  chunk.broken = { stage: 'requisites', comment: next };
}

function insertAfterKind(text: string, from: number, line: string): string {
  let end = from;
  while (text.startsWith(' '.repeat(23), end)) end = text.indexOf('\n', end) + 1;
  return text.slice(0, end) + line + text.slice(end);
}

/** `x` (an ID or name), `{module: x}`, `{module.function: x}` (trimmed to the module), `{sls: x}`. */
function parseReference(item: unknown): { key: string; value: string } | string {
  if (typeof item === 'string') return { key: 'id', value: item };
  const rawKey = singleKey(item);
  if (rawKey !== undefined) {
    const value = (item as Record<string, unknown>)[rawKey];
    const key = rawKey.split('.')[0]!;
    if (typeof value === 'string' || typeof value === 'number') return { key, value: String(value) };
    return `${rawKey} (the value must be a string)`;
  }
  return JSON.stringify(item);
}

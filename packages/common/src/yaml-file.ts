import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { InputError } from './errors.js';

export interface ParsedYaml {
  doc: Document;
  lines: LineCounter;
  /** Plain JS value of the document; `null` for an empty file. */
  value: unknown;
}

/**
 * Parses YAML text strictly: duplicate keys and syntax errors are InputErrors that
 * name the file, line and column. YAML 1.2 core schema, so `on`/`yes` stay strings
 * as in Salt's loader rather than turning into booleans.
 */
export function parseYaml(text: string, file: string): ParsedYaml {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false, schema: 'core' });
  const first = doc.errors[0];
  if (first) {
    const at = lines.linePos(first.pos[0]);
    const detail = first.message.split('\n')[0] ?? first.message;
    throw new InputError('yaml_syntax', { file, line: at.line, column: at.col }, `YAML error: ${detail}`);
  }
  return { doc, lines, value: doc.toJS({ maxAliasCount: 1000 }) };
}

export function readYamlFile(file: string): ParsedYaml {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError('file_unreadable', { file }, `cannot read file: ${(err as Error).message}`, { cause: err });
  }
  return parseYaml(text, file);
}

/** Line (1-based) of the key `path` in a parsed document, if it is there. */
export function lineOf(parsed: ParsedYaml, path: readonly (string | number)[]): number | undefined {
  const node = path.length === 0 ? parsed.doc.contents : parsed.doc.getIn(path, true);
  const range = (node as { range?: [number, number, number] } | undefined)?.range;
  if (range) return parsed.lines.linePos(range[0]).line;
  // A scalar key's value may be null (e.g. `key:` with nothing after); fall back to the key's own node.
  const parent = path.length > 1 ? parsed.doc.getIn(path.slice(0, -1), true) : parsed.doc.contents;
  const items = (parent as { items?: { key?: { value?: unknown; range?: [number, number, number] } }[] } | null)?.items;
  const key = items?.find((pair) => pair.key?.value === path[path.length - 1])?.key;
  return key?.range ? parsed.lines.linePos(key.range[0]).line : undefined;
}

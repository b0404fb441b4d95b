import { pyResult } from '../run/results.js';

/**
 * Salt's "nested" layout for a value (how highstate output shows changes):
 * mappings as `----------` then `key:` lines with values indented below,
 * lists as `- item`, scalars as Python prints them.
 */
export function nested(value: unknown, indent: number): string[] {
  const pad = ' '.repeat(indent);
  if (value === null || value === undefined) return [`${pad}None`];
  if (typeof value === 'boolean') return [`${pad}${pyResult(value)}`];
  if (typeof value === 'string') return value === '' ? [] : value.split('\n').map((line) => `${pad}${line}`);
  if (typeof value !== 'object') return [`${pad}${String(value)}`];
  if (Array.isArray(value)) {
    return value.flatMap((item) => {
      const lines = nested(item, indent + 2);
      if (lines.length === 0) return [`${pad}-`];
      return [`${pad}- ${lines[0]!.trimStart()}`, ...lines.slice(1)];
    });
  }
  const lines = [`${pad}----------`];
  for (const key of Object.keys(value).sort()) {
    lines.push(`${pad}${key}:`, ...nested((value as Record<string, unknown>)[key], indent + 4));
  }
  return lines;
}

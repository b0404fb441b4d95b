import { CORE_SCHEMA, load, types, YAMLException } from 'js-yaml';
import { isMap, isScalar } from 'yaml';
import { formatPos, InputError, lineOf, parseYaml, type ParsedYaml } from '@brine/common';
import { encryptedYamlType, secretYamlType } from './secret-tag.js';

/** A rendered SLS (state, pillar or top file): its data, and where its keys sit. */
export interface RenderedSls {
  file: string;
  value: unknown;
  /** 1-based line of a key path (the key's own line for a mapping key); worked out only when an error needs it. */
  lineOf(path: readonly (string | number)[]): number | undefined;
}

/** YAML 1.2 core, plus `<<: *anchor` merge keys, which Salt's loader also takes. */
const SCHEMA = CORE_SCHEMA.extend({ implicit: [types.merge] });
/** Pillar files may also mark values `!secret`, or hold them `!encrypted`. */
const PILLAR_SCHEMA = SCHEMA.extend({ explicit: [secretYamlType, encryptedYamlType] });

/** What a misused pillar tag gets told (the YAML parser's own message would quote the value). */
const PILLAR_TAG_ERRORS = [
  { tag: '!secret', message: "!secret marks one non-empty value (write 'password: !secret <value>'), not a mapping or a list" },
  {
    tag: '!encrypted',
    message:
      "!encrypted holds one line of base64, as 'master secret encrypt' prints it ('password: !encrypted <base64>'), not a mapping or a list",
  },
];

export interface ParseOptions {
  /** Quote the offending line in a YAML error (text that came out of Jinja, whose line numbers are the rendered output's). */
  quoteLine?: boolean;
  /** A pillar file: `!secret` marks a value (see pillar/secret.ts). */
  pillar?: boolean;
}

/**
 * Parses rendered SLS text. The fast parser does the work on every run; line
 * numbers come from re-reading the text with the position-tracking parser from
 * `@brine/common`, which happens only when an error has to name a line. Same YAML
 * 1.2 core schema as that parser: `on`/`yes` stay strings, duplicate keys fail.
 */
export function parseSls(text: string, file: string, opts: ParseOptions = {}): RenderedSls {
  let value: unknown;
  try {
    value = load(text, { schema: opts.pillar ? PILLAR_SCHEMA : SCHEMA, filename: file }) ?? null;
  } catch (err) {
    if (!(err instanceof YAMLException)) throw err;
    const tag = opts.pillar ? PILLAR_TAG_ERRORS.find((t) => err.reason.includes(t.tag)) : undefined;
    if (tag) {
      const pos = { file, ...(err.mark && { line: err.mark.line + 1, column: err.mark.column + 1 }) };
      throw new InputError('yaml_syntax', pos, `YAML error: ${tag.message}`);
    }
    throw syntaxError(text, file, err, opts.quoteLine === true);
  }
  let positions: ParsedYaml | null | undefined;
  return {
    file,
    value,
    lineOf(path) {
      if (positions === undefined) {
        try {
          positions = parseYaml(text, file);
        } catch {
          positions = null;
        }
      }
      return positions ? keyLine(positions, path) : undefined;
    },
  };
}

/**
 * A YAML error worded as everywhere else in Brine: the position-tracking parser
 * from @brine/common reads the text again (errors only) and names the problem.
 */
function syntaxError(text: string, file: string, err: YAMLException, quoteLine: boolean): InputError {
  let error: InputError | undefined;
  try {
    parseYaml(text, file);
  } catch (e) {
    if (e instanceof InputError) error = e;
  }
  // The two parsers disagree on this text: keep the fast parser's verdict.
  error ??= new InputError(
    'yaml_syntax',
    { file, ...(err.mark && { line: err.mark.line + 1, column: err.mark.column + 1 }) },
    `YAML error: ${err.reason}`,
  );
  const line = error.pos.line;
  if (!quoteLine || line === undefined) return error;
  const detail = error.message.slice(formatPos(error.pos).length + 2);
  const quoted = JSON.stringify(text.split('\n')[line - 1] ?? '');
  return new InputError(error.code, error.pos, `${detail} (line ${line} of the rendered template reads: ${quoted})`, { cause: err });
}

/** An error about `key:` belongs on the key's line, not where its value starts. */
function keyLine(parsed: ParsedYaml, path: readonly (string | number)[]): number | undefined {
  const last = path[path.length - 1];
  if (typeof last === 'string') {
    const parent = path.length > 1 ? parsed.doc.getIn(path.slice(0, -1), true) : parsed.doc.contents;
    const pair = isMap(parent) ? parent.items.find((p) => isScalar(p.key) && String(p.key.value) === last) : undefined;
    const range = pair && isScalar(pair.key) ? pair.key.range : undefined;
    if (range) return parsed.lines.linePos(range[0]).line;
  }
  return lineOf(parsed, path);
}

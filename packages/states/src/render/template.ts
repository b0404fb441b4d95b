import nunjucks from 'nunjucks';
import { InputError } from '@brine/common';
import { errorFile, installPython, saltExtensions, strictFilters } from './jinja-env.js';
import { jinjaTests, saltFilters } from './salt-filters.js';

/**
 * The Jinja stage of Salt's default `jinja|yaml` renderer, on nunjucks with
 * Python's value semantics (jinja-env.ts, python.ts), Salt's tags and filters
 * (salt-filters.ts). Undefined values fail the render (Salt uses
 * StrictUndefined): a missing pillar key must not quietly become an empty
 * password.
 */

const environments = new Map<string, nunjucks.Environment>();

/** One environment per set of roots, so `{% from 'map.jinja' import x %}` resolves inside them. */
function environmentFor(roots: readonly string[]): nunjucks.Environment {
  const key = roots.join('\0');
  let env = environments.get(key);
  if (!env) {
    installPython();
    // noCache: a long-running minion must see an edited map.jinja on the next run.
    const loader = new nunjucks.FileSystemLoader([...roots], { noCache: true });
    // Undefined values are refused by the Python layer (jinja-env.ts), with the name of what was undefined.
    // dev: errors keep their object (and the file they arose in, see errorFile) through nested templates.
    env = new nunjucks.Environment(loader, { autoescape: false, throwOnUndefined: false, dev: true });
    env.addGlobal('True', true).addGlobal('False', false).addGlobal('None', null);
    for (const [name, ext] of Object.entries(saltExtensions)) env.addExtension(name, ext);
    for (const [name, filter] of Object.entries(saltFilters)) env.addFilter(name, filter as (...args: unknown[]) => unknown);
    strictFilters(env);
    const addTest = (env as unknown as { addTest(name: string, test: (...args: unknown[]) => boolean): void }).addTest.bind(env);
    for (const [name, test] of Object.entries(jinjaTests)) addTest(name, test as (...args: unknown[]) => boolean);
    environments.set(key, env);
  }
  return env;
}

/** A template compiled once per file version; render it per minion. */
export function compileTemplate(text: string, file: string, roots: readonly string[]): nunjucks.Template {
  try {
    return new nunjucks.Template(text, environmentFor(roots), file, true);
  } catch (err) {
    throw templateError(err, file);
  }
}

export function renderTemplate(template: nunjucks.Template, file: string, vars: Record<string, unknown>): string {
  try {
    return template.render(vars);
  } catch (err) {
    throw templateError(err, file);
  }
}

/** Template text is plain YAML when it has no Jinja delimiters; such files skip the template stage. */
export const hasTemplateSyntax = (text: string): boolean => /\{[{%#]/.test(text);

function templateError(err: unknown, file: string): InputError {
  const message = err instanceof Error ? err.message : String(err);
  // nunjucks: "(path) [Line 3, Column 7]\n  unexpected token: %}", sometimes wrapped twice.
  const at = /\[Line (\d+), Column (\d+)\]/.exec(message);
  const detail0 = message
    .split('\n')
    .map((line) =>
      line
        .trim()
        .replace(/^(Template render error: )?\([^)]*\)( \[Line \d+, Column \d+\])?/, '')
        .trim(),
    )
    .filter(Boolean)
    .join(' ');
  let detail = detail0.replace(/^Error: /, '');
  if (detail === 'attempted to output null or undefined value') {
    detail = 'a value output by the template is undefined or None (a missing pillar or grains key?)';
  }
  const where = errorFile(err) ?? file;
  const pos = at ? { file: where, line: Number(at[1]), column: Number(at[2]) } : { file: where };
  return new InputError('jinja_error', pos, `Jinja error: ${detail}`, { cause: err });
}

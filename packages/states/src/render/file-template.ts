import { sourcePath } from '../host/files.js';
import type { StateLog } from '../host/log.js';
import type { ExecHost } from '../host/template-host.js';
import { redactSecretReads, type Redactor } from '../redact.js';
import { compileTemplate, renderTemplate } from './template.js';
import { templateVars } from './template-vars.js';

/** Renders a file's text (file.managed `template: jinja`) on the minion, as SLS files are rendered. */
export interface FileTemplates {
  /**
   * `text` as a Jinja template seeing Salt's names (grains, pillar, salt, opts, sls) and `vars`
   * over them; `file` (its source) names it in errors, and `{% include %}` looks in the file roots.
   * `readSecret`: it read a pillar value under a secret's name (registered for redaction).
   */
  render(text: string, file: string, sls: string, vars: Record<string, unknown>): { text: string; readSecret: boolean };
}

export interface FileTemplateInput {
  roots: readonly string[];
  pillar: Record<string, unknown>;
  grains: Record<string, unknown>;
  opts: Record<string, unknown>;
  /** The run's: pillar values a template reads under secret names are redacted, as in SLS files. */
  redactor: Redactor;
  /** Where `salt['cmd.run']` and the other execution functions act, and log; as for SLS files. */
  host?: ExecHost;
  log?: StateLog;
}

/** The renderer one run's states use: the same engine, pillar view and redaction as its SLS files. */
export function fileTemplates(input: FileTemplateInput): FileTemplates {
  return {
    render(text, file, sls, vars) {
      let readSecret = false;
      const salt = templateVars({
        pillar: input.pillar,
        grains: input.grains,
        opts: input.opts,
        sls,
        sink: redactSecretReads(input.redactor, () => (readSecret = true)),
        ...(input.host && { host: input.host }),
        ...(input.log && { log: input.log }),
      });
      // Named by its path in the roots, so an import relative to it (`./map.jinja`) is found.
      const path = file.startsWith('salt://') ? sourcePath(input.roots, file) : file;
      // Salt (salt/utils/templates.py render_tmpl): the state's context goes over the names it provides.
      const out = renderTemplate(compileTemplate(text, path, input.roots), path, { ...salt, ...vars });
      return { text: out, readSecret };
    },
  };
}

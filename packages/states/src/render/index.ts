import { InputError } from '@brine/common';
import { minionGrains, type MinionFacts } from '../target/types.js';
import { SourceCache } from '../source-cache.js';
import { compileTemplate, hasTemplateSyntax, renderTemplate } from './template.js';
import type { StateLog } from '../host/log.js';
import { type ExecHost, nodeExecHost } from '../host/template-host.js';
import { templateVars, type PillarReadSink } from './template-vars.js';
import { parseSls, type RenderedSls } from './yaml.js';

export type { RenderedSls } from './yaml.js';
export type { PillarReadSink } from './template-vars.js';

/** What a template sees while an SLS or pillar file renders. */
export interface RenderContext {
  minion: MinionFacts;
  pillar?: Record<string, unknown>;
  opts?: Record<string, unknown>;
  /** SLS name of the file being rendered (`sls`/`slspath` in templates). */
  sls?: string;
  /** Told each pillar value the template reads, so the run can redact it. */
  onPillarRead?: PillarReadSink;
  /** Where a template's `cmd.*` say what they run, as Salt logs it. */
  log?: StateLog;
}

/** Turns a file into parsed data for one minion (template stage, then YAML). */
export type SlsRenderer = (file: string, ctx: RenderContext) => RenderedSls;

/** A renderer for plain YAML files; parses each file once until it changes on disk. */
export function yamlRenderer(cache = new SourceCache<RenderedSls>()): SlsRenderer {
  return (file) => cache.read(file).derive('yaml', (text) => parseSls(text, file));
}

export interface JinjaRendererOptions {
  /** Where `{% include %}` / `{% import %}` look for templates (file_roots or pillar_roots). */
  roots: readonly string[];
  cache?: SourceCache<unknown>;
  /**
   * Renders pillar files: `!secret` marks a value, and YAML errors do not quote
   * the offending rendered line (a pillar line is likely a secret, and pillar
   * values are not redacted the way values rendered into states are). Pillar
   * templates get no `cmd.*`, `file.*` or `network.*`: on the master they would
   * act on the master's behalf for any minion's pillar.
   */
  pillar?: boolean;
  /** Where a state template's `cmd.*`, `file.*` and `network.*` act (default: this machine). */
  host?: ExecHost;
}

/**
 * Salt's default renderer, `jinja|yaml`, honouring a `#!yaml` or `#!jinja|yaml`
 * first line. A file without Jinja syntax is parsed once until it changes; a
 * template is compiled once, rendered per call, and its output parsed again only
 * when it differs from the last render of that file.
 */
export function jinjaYamlRenderer(opts: JinjaRendererOptions): SlsRenderer {
  const cache = opts.cache ?? new SourceCache<unknown>();
  const lastOutput = new Map<string, { text: string; parsed: RenderedSls }>();
  const pillar = opts.pillar === true;
  const host = pillar ? undefined : (opts.host ?? nodeExecHost());
  return (file, ctx) => {
    const source = cache.read(file);
    const pipeline = source.derive('pipeline', (text) => rendererOf(text, file));
    if (pipeline === 'yaml' || !hasTemplateSyntax(source.text)) {
      return source.derive('yaml', (text) => parseSls(stripShebang(text), file, { pillar }));
    }
    const template = source.derive('template', (text) => compileTemplate(stripShebang(text), file, opts.roots));
    const vars = templateVars({
      pillar: ctx.pillar ?? {},
      grains: minionGrains(ctx.minion),
      opts: ctx.opts ?? {},
      ...(ctx.sls !== undefined && { sls: ctx.sls, slsIsInit: /(^|\/)init\.sls$/.test(file) }),
      ...(ctx.onPillarRead && { sink: ctx.onPillarRead }),
      ...(host && { host }),
      ...(ctx.log && { log: ctx.log }),
    });
    const text = renderTemplate(template, file, vars);
    const last = lastOutput.get(file);
    if (last && last.text === text) return last.parsed;
    const parsed = parseSls(text, file, { quoteLine: !pillar, pillar });
    lastOutput.set(file, { text, parsed });
    return parsed;
  };
}

type Pipeline = 'jinja|yaml' | 'yaml';

function rendererOf(text: string, file: string): Pipeline {
  const m = /^#!(.*)/.exec(text);
  if (!m) return 'jinja|yaml';
  const spec = m[1]!.replace(/\s+/g, '');
  if (spec === 'yaml') return 'yaml';
  if (spec === 'jinja|yaml') return 'jinja|yaml';
  throw new InputError(
    'renderer_unsupported',
    { file, line: 1 },
    `renderer '#!${m[1]!.trim()}' is not supported; use '#!jinja|yaml' (the default) or '#!yaml'`,
  );
}

/** Blanks a shebang line rather than removing it, so line numbers stay true. */
const stripShebang = (text: string): string => (text.startsWith('#!') ? text.replace(/^#![^\n]*/, '') : text);

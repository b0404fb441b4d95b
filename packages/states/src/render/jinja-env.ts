import nunjucks from 'nunjucks';
import { InputError } from '@brine/common';
import * as py from './python.js';
import { lookup, slice } from './py-methods.js';
import { parseSls } from './yaml.js';

/**
 * Salt's Jinja on nunjucks. nunjucks parses Jinja's syntax but compiles
 * expressions to JavaScript operators and prints values the JavaScript way; Salt
 * renders with Python. So the compiler is patched, through the hooks nunjucks
 * itself uses for its `installJinjaCompat()` (its Compiler's `compile<Node>`
 * methods and Parser prototype), to route every operator, comparison, condition,
 * lookup, loop and `{{ }}` through Python's semantics in python.ts, and the tags
 * Salt adds (`do`, `break`, `continue`, `import_yaml` and friends) are nunjucks
 * extensions. Installed once per process; the nunjucks module is used by nothing
 * else here.
 */

/** A nunjucks AST node (the fields used here). */
interface Node {
  typename: string;
  lineno: number;
  colno: number;
  [field: string]: unknown;
}

type NodeClass = new (lineno: number, colno: number, ...fields: unknown[]) => Node;

interface Compiler {
  _emit(code: string): void;
  _emitLine(code: string): void;
  compile(node: unknown, frame: unknown): void;
  _compileExpression(node: unknown, frame: unknown): void;
  _getNodeName(node: unknown): string;
  fail(message: string, lineno?: number, colno?: number): never;
  templateName: string;
  buffer: string;
}

type CompileFn = (this: Compiler, node: Node, frame: unknown, ...rest: unknown[]) => void;

interface Parser {
  nextToken(): { value: string; lineno: number; colno: number; type: string };
  peekToken(): { value: string; type: string };
  parseExpression(): Node;
  parsePrimary(): Node;
  skipSymbol(name: string): boolean;
  advanceAfterBlockEnd(name?: string): void;
  parseUntilBlocks(...names: string[]): Node;
  fail(message: string, lineno?: number, colno?: number): never;
  brineLoops?: number;
}

interface NunjucksInternals {
  nodes: Record<string, NodeClass> & { Node: { extend(name: string, props: { fields: string[] }): NodeClass } };
  compiler: { Compiler: { prototype: Record<string, unknown> } };
  parser: { Parser: { prototype: Record<string, unknown> } };
  runtime: Record<string | symbol, unknown>;
  lexer: { lex(src: string): object } & Record<string, string>;
  lib: { TemplateError: new (message: unknown, lineno: number, colno: number) => Error };
  installJinjaCompat(): void;
}

const nj = nunjucks as unknown as NunjucksInternals;
const installed = Symbol.for('brine.states.jinjaPython');

/** A call of one of the runtime helpers below with compiled arguments: `runtime.brine.<name>(...)`. */
let PyCall: NodeClass;
let Loop: NodeClass;
let Do: NodeClass;
let ImportData: NodeClass;
let LoopFilter: NodeClass;

/** What the compiled templates call (`runtime.brine.*`); each throws a PyError that the template's catch places at a line. */
const helpers = {
  ...py,
  lookup: (obj: unknown, key: unknown, what: string) => lookup(obj, key, () => what),
  slice,
  out(value: unknown, what: string): string {
    if (value === undefined) throw new py.PyError(`${what} is undefined (a missing pillar or grains key?)`);
    return py.pyStr(value);
  },
  not: (v: unknown) => !py.truthy(v),
  or: (a: unknown, b: () => unknown) => (py.truthy(a, "'or'") ? a : b()),
  and: (a: unknown, b: () => unknown) => (py.truthy(a, "'and'") ? b() : a),
  chain(...parts: unknown[]): boolean {
    for (let i = 1; i < parts.length; i += 2) {
      if (!py.compare(parts[i] as string, parts[i - 1], parts[i + 1])) return false;
    }
    return true;
  },
  /** `for x in value`: a list, a dict's keys, a string's characters; anything else is an error. */
  iter(value: unknown, what: string): unknown {
    if (Array.isArray(value)) return value;
    if (value === undefined) throw new py.PyError(`${what} is undefined (a missing pillar or grains key?)`);
    if (typeof value === 'string') return [...value];
    if (py.isPlainDict(value)) return Object.keys(value);
    if (value !== null && typeof value === 'object' && Symbol.iterator in value) return Array.from(value as Iterable<unknown>);
    throw new py.PyError(`'${py.typeName(value)}' object is not iterable (${what})`);
  },
  /** `for k, v in value`: pairs; a dict is taken as its items, as nunjucks always has. */
  iter2(value: unknown, what: string): unknown {
    if (Array.isArray(value) || py.isPlainDict(value)) return value;
    if (value === undefined) throw new py.PyError(`${what} is undefined (a missing pillar or grains key?)`);
    throw new py.PyError(`'${py.typeName(value)}' object is not iterable (${what})`);
  },
  tuple: py.tuple,
  filterLoop(items: unknown, keep: (...item: unknown[]) => boolean, pair: boolean): unknown[] {
    if (!pair) return (items as unknown[]).filter((x) => keep(x));
    const list = Array.isArray(items) ? items : Object.entries(items as Record<string, unknown>);
    return list.filter((p) => keep((p as unknown[])[0], (p as unknown[])[1]));
  },
  /** Salt's import_yaml/import_json/import_text: the file rendered as a template (without context unless asked), then loaded. */
  importData(
    env: nunjucks.Environment,
    context: { getVariables(): Record<string, unknown> },
    parent: string,
    kind: string,
    name: unknown,
    withContext: boolean,
  ): unknown {
    if (typeof name !== 'string') throw new py.PyError(`import_${kind} takes a file name, not ${py.typeName(name)}`);
    const getTemplate = env.getTemplate as unknown as (name: string, eager: boolean, parent: string) => nunjucks.Template;
    const tmpl = getTemplate.call(env, name, false, parent);
    // Jinja (keep_trailing_newline off, as Salt leaves it) drops a template's last newline.
    const text = tmpl.render(withContext ? context.getVariables() : {}).replace(/\r?\n$/, '');
    const load = env.getFilter(`load_${kind}`) as (text: string) => unknown;
    try {
      return kind === 'yaml' ? parseSls(text, (tmpl as unknown as { path: string }).path).value : load.call(context, text);
    } catch (err) {
      // The YAML error names the imported file and its line; the template's error adds where it was imported.
      throw err instanceof InputError ? new py.PyError(err.message) : err;
    }
  },
  /** The catch of every compiled template function: the error, placed at the line and in the file where it arose. */
  fail(err: unknown, lineno: number, colno: number, file: string): Error {
    const out = (nj.runtime['handleError'] as (e: unknown, l: number, c: number) => Error)(err, lineno, colno);
    const placed = out as Error & { brineFile?: string };
    placed.brineFile ??= file;
    return out;
  },
};

/** The file a template error arose in (an imported map.jinja, say), where the compiled template recorded it. */
export const errorFile = (err: unknown): string | undefined => (err as { brineFile?: string } | null)?.brineFile;

function located(err: unknown, lineno: number, colno: number): Error {
  if (err instanceof Error && (err as { lineno?: number }).lineno) return err;
  return new nj.lib.TemplateError(err, lineno + 1, colno + 1);
}

export function installPython(): void {
  const runtime = nj.runtime;
  if (runtime[installed]) return;
  const nodes = nj.nodes;
  patchLexer();
  patchParser(nodes);
  nj.installJinjaCompat(); // slices (`x[1:3]`) in the parser, wrapping the parseAggregate set above
  runtime['brine'] = helpers;
  PyCall = nodes.Node.extend('BrinePyCall', { fields: ['name', 'args'] });
  Loop = nodes.Node.extend('BrineLoopControl', { fields: ['keyword'] });
  Do = nodes.Node.extend('BrineDo', { fields: ['expr'] });
  ImportData = nodes.Node.extend('BrineImportData', { fields: ['kind', 'name', 'withContext'] });
  LoopFilter = nodes.Node.extend('BrineLoopFilter', { fields: ['arr', 'names', 'cond'] });
  patchCompiler(nodes);
  runtime[installed] = true;
}

const call = (name: string, node: Node, ...args: unknown[]) => new PyCall(node.lineno, node.colno, name, args);

function patchCompiler(nodes: NunjucksInternals['nodes']): void {
  const proto = nj.compiler.Compiler.prototype;
  const orig = (name: string) => proto[name] as CompileFn;
  const set = (name: string, fn: CompileFn) => {
    proto[name] = fn;
  };

  /** `(lineno = L, colno = C, runtime.brine.name(a, b))`: the template's catch names the line of a failing helper. */
  function emitCall(c: Compiler, node: Node, frame: unknown, name: string, args: unknown[]): void {
    c._emit(`(lineno = ${node.lineno}, colno = ${node.colno}, runtime.brine.${name}(`);
    args.forEach((arg, i) => {
      if (i > 0) c._emit(', ');
      if (arg !== null && typeof arg === 'object' && 'typename' in arg) c._compileExpression(arg, frame);
      else c._emit(JSON.stringify(arg));
    });
    c._emit('))');
  }
  const lazy = (c: Compiler, node: unknown, frame: unknown) => {
    c._emit('function() { return ');
    c._compileExpression(node, frame);
    c._emit('; }');
  };
  const describe = (c: Compiler, node: unknown): string => {
    const name = c._getNodeName(node).replace(/\["([^"]*)"\]/g, '.$1');
    return name === '--expression--' ? 'a value' : `'${name}'`;
  };

  // Expressions of this layer's own node types are expressions too.
  const assertType = proto['assertType'] as (this: Compiler, node: Node, ...types: unknown[]) => void;
  proto['assertType'] = function (this: Compiler, node: Node, ...types: unknown[]) {
    if ([PyCall, ImportData, LoopFilter].some((type) => (node as object) instanceof type)) return;
    assertType.call(this, node, ...types);
  };
  set('compileBrinePyCall', function (node, frame) {
    emitCall(this, node, frame, node['name'] as string, node['args'] as unknown[]);
  });
  for (const [type, helper] of [
    ['Add', 'add'],
    ['Sub', 'sub'],
    ['Mul', 'mul'],
    ['Div', 'div'],
    ['FloorDiv', 'floorDiv'],
    ['Mod', 'mod'],
    ['Pow', 'pow'],
    ['Concat', 'concat'],
  ] as const) {
    set(`compile${type}`, function (node, frame) {
      emitCall(this, node, frame, helper, [node['left'], node['right']]);
    });
  }
  set('compileNeg', function (node, frame) {
    emitCall(this, node, frame, 'neg', [node['target']]);
  });
  set('compilePos', function (node, frame) {
    emitCall(this, node, frame, 'neg', [call('neg', node, node['target'])]);
  });
  set('compileNot', function (node, frame) {
    emitCall(this, node, frame, 'not', [node['target']]);
  });
  for (const [type, helper] of [
    ['Or', 'or'],
    ['And', 'and'],
  ] as const) {
    set(`compile${type}`, function (node, frame) {
      this._emit(`(lineno = ${node.lineno}, colno = ${node.colno}, runtime.brine.${helper}(`);
      this._compileExpression(node['left'], frame);
      this._emit(', ');
      lazy(this, node['right'], frame);
      this._emit('))');
    });
  }
  set('compileIn', function (node, frame) {
    emitCall(this, node, frame, 'contains', [node['right'], node['left']]);
  });
  set('compileCompare', function (node, frame) {
    const ops = node['ops'] as Node[];
    if (ops.length === 1) {
      emitCall(this, node, frame, 'compare', [ops[0]!['type'], node['expr'], ops[0]!['expr']]);
      return;
    }
    emitCall(this, node, frame, 'chain', [node['expr'], ...ops.flatMap((op) => [op['type'], op['expr']])]);
  });
  set('compileLookupVal', function (node, frame) {
    const val = node['val'] as Node;
    if (val.typename === 'Slice') {
      emitCall(this, node, frame, 'slice', [node['target'], val['start'], val['stop'], val['step']]);
      return;
    }
    emitCall(this, node, frame, 'lookup', [node['target'], val, describe(this, node['target'])]);
  });
  // Jinja's `(a, b)` is a tuple; JavaScript's is the comma operator.
  const compileGroup = orig('compileGroup');
  set('compileGroup', function (node, frame) {
    const children = node['children'] as Node[];
    if (children.length < 2 && node['brineTuple'] !== true) return compileGroup.call(this, node, frame);
    this._emit('runtime.brine.tuple(');
    this.compile(new nodes['Array']!(node.lineno, node.colno, children), frame);
    this._emit(')');
  });
  // `{key: 1}` uses the variable `key`, `{1: 'a'}` a number, as in Python (dict keys are strings in JS).
  set('compilePair', function (node, frame) {
    const key = node['key'] as Node;
    if (key.typename === 'Literal' && typeof key['value'] === 'string') this.compile(key, frame);
    else {
      this._emit('[runtime.brine.pyStr(');
      this._compileExpression(key, frame);
      this._emit(')]');
    }
    this._emit(': ');
    this._compileExpression(node['value'], frame);
  });
  // Keyword arguments name themselves: `f(name=1)` is the key 'name', not the variable.
  set('compileKeywordArgs', function (node, frame) {
    this._emit('runtime.makeKeywordArgs({');
    (node['children'] as Node[]).forEach((pair, i) => {
      if (i > 0) this._emit(', ');
      this._emit(`${JSON.stringify((pair['key'] as Node)['value'])}: `);
      this._compileExpression(pair['value'], frame);
    });
    this._emit('})');
  });
  // Conditions: Python's truth ([] and {} are false; an undefined value is an error).
  for (const type of ['If', 'IfAsync', 'InlineIf']) {
    const base = orig(`compile${type}`);
    set(`compile${type}`, function (node, frame, ...rest) {
      if (node['cond'] && (node['cond'] as Node).typename !== 'BrinePyCall') node['cond'] = call('truthy', node, node['cond']);
      // `a if c` without `else` is undefined when c is false (Jinja), not ''.
      if (type === 'InlineIf' && node['else_'] === null) node['else_'] = new nodes['Symbol']!(node.lineno, node.colno, '\0undefined');
      base.call(this, node, frame, ...rest);
    });
  }
  const compileFor = orig('compileFor');
  set('compileFor', function (node, frame) {
    const arr = node['arr'] as Node;
    if (arr.typename !== 'BrinePyCall' && arr.typename !== 'BrineLoopFilter') {
      const pair = (node['name'] as Node).typename === 'Array';
      // `for x in items if cond`: nunjucks parsed `items if cond` as an inline if without else.
      const filtered = arr.typename === 'InlineIf' && arr['else_'] === null;
      const items = filtered ? (arr['body'] as Node) : arr;
      const iterated = call(pair ? 'iter2' : 'iter', node, items, describe(this, items));
      node['arr'] = filtered ? new LoopFilter(node.lineno, node.colno, iterated, node['name'], arr['cond']) : iterated;
    }
    compileFor.call(this, node, frame);
  });
  // The filter's condition sees the loop's names, bound per item, as the loop body will.
  set('compileBrineLoopFilter', function (node, frame) {
    const target = node['names'] as Node;
    const names =
      target.typename === 'Array' ? (target['children'] as Node[]).map((n) => n['value'] as string) : [target['value'] as string];
    const scope = (frame as { push(): { set(name: string, id: string): void } }).push();
    const ids = names.map((name) => {
      const id = (this as Compiler & { _tmpid(): string })._tmpid();
      scope.set(name, id);
      return id;
    });
    this._emit('runtime.brine.filterLoop(');
    this._compileExpression(node['arr'], frame);
    this._emit(`, function(${ids.join(', ')}) { return runtime.brine.truthy(`);
    this._compileExpression(node['cond'], scope);
    this._emit(`); }, ${names.length > 1})`);
  });
  set('compileOutput', function (node, frame) {
    for (const child of node['children'] as Node[]) {
      if (child.typename === 'TemplateData') {
        if (child['value']) {
          this._emit(`${this.buffer} += `);
          this.compile(child, frame);
          this._emitLine(';');
        }
        continue;
      }
      this._emit(`${this.buffer} += `);
      emitCall(this, child, frame, 'out', [child, describe(this, child)]);
      this._emitLine(';');
    }
  });
  // `{% set a, b = x %}` unpacks in Jinja; nunjucks would give both names x. Refuse rather than differ.
  const compileSet = orig('compileSet');
  set('compileSet', function (node, frame) {
    if ((node['targets'] as Node[]).length > 1) {
      this.fail('{% set a, b = ... %} (unpacking) is not supported: set each name on its own', node.lineno, node.colno);
    }
    compileSet.call(this, node, frame);
  });
  set('compileBrineLoopControl', function (node) {
    this._emitLine(`${node['keyword'] as string};`);
  });
  set('compileBrineDo', function (node, frame) {
    this._compileExpression(node['expr'], frame);
    this._emitLine(';');
  });
  set('compileBrineImportData', function (node, frame) {
    this._emit(
      `(lineno = ${node.lineno}, colno = ${node.colno}, runtime.brine.importData(env, context, ${JSON.stringify(this.templateName)}, `,
    );
    this._emit(`${JSON.stringify(node['kind'])}, `);
    this._compileExpression(node['name'], frame);
    this._emit(`, ${node['withContext'] === true}))`);
  });
  // Errors from helpers carry no line: place them where the template was when they were thrown.
  // Each template function's catch records its file (the innermost one wins), for errors raised in an imported template.
  proto['_emitFuncEnd'] = function (
    this: Omit<Compiler, 'buffer'> & { _closeScopeLevels(): void; buffer: string | null },
    noReturn?: boolean,
  ) {
    if (!noReturn) this._emitLine(`cb(null, ${this.buffer});`);
    this._closeScopeLevels();
    this._emitLine('} catch (e) {');
    this._emitLine(`  cb(runtime.brine.fail(e, lineno, colno, ${JSON.stringify(this.templateName)}));`);
    this._emitLine('}');
    this._emitLine('}');
    this.buffer = null;
  };
  const handleError = nj.runtime['handleError'] as (e: unknown, l: number, c: number) => Error;
  nj.runtime['handleError'] = (err: unknown, lineno: number, colno: number) =>
    err instanceof py.PyError ? located(err, lineno, colno) : handleError(err, lineno, colno);
}

interface Tokenizer {
  in_code: boolean;
  str: string;
  index: number;
  lineno: number;
  colno: number;
  current(): string;
  forward(): void;
  isFinished(): boolean;
  brineCurly?: number;
  brineDot?: boolean;
}

interface Token {
  type: string;
  value: string;
  lineno: number;
  colno: number;
}

/**
 * Two things Jinja's lexer does that nunjucks' does not: a `}` that closes a
 * dict literal is a `}` even where `}}` follows (`{% set d = {'a': {'b': 1}} %}`),
 * and string literals take Python's escapes (`'\d+'` keeps its backslash,
 * `'\x41'` is `A`).
 */
function patchLexer(): void {
  // The Tokenizer class is not exported; its prototype is that of what lex() returns.
  const proto = Object.getPrototypeOf(nj.lexer.lex('')) as Record<string, unknown>;
  const nextToken = proto['nextToken'] as (this: Tokenizer) => Token | null;
  proto['nextToken'] = function (this: Tokenizer) {
    if (this.in_code && (this.brineCurly ?? 0) > 0 && this.current() === '}') {
      const { lineno, colno } = this;
      this.forward();
      this.brineCurly!--;
      return { type: nj.lexer['TOKEN_RIGHT_CURLY']!, value: '}', lineno, colno };
    }
    const tok = nextToken.call(this);
    // After a `.`, `true`/`false`/`none` are names, as in Jinja (`salt.test.true()`).
    const afterDot = this.brineDot === true;
    this.brineDot = tok !== null && tok.type === nj.lexer['TOKEN_OPERATOR'] && tok.value === '.';
    if (afterDot && tok !== null && (tok.type === nj.lexer['TOKEN_BOOLEAN'] || tok.type === nj.lexer['TOKEN_NONE'])) {
      tok.type = nj.lexer['TOKEN_SYMBOL']!;
    }
    if (tok?.type === nj.lexer['TOKEN_LEFT_CURLY']) this.brineCurly = (this.brineCurly ?? 0) + 1;
    else if (tok?.type === nj.lexer['TOKEN_RIGHT_CURLY']) this.brineCurly = Math.max(0, (this.brineCurly ?? 0) - 1);
    else if (tok?.type === nj.lexer['TOKEN_VARIABLE_END'] || tok?.type === nj.lexer['TOKEN_BLOCK_END']) this.brineCurly = 0;
    return tok;
  };
  proto['_parseString'] = function (this: Tokenizer, delimiter: string) {
    this.forward();
    let raw = '';
    while (!this.isFinished() && this.current() !== delimiter) {
      if (this.current() === '\\') {
        raw += '\\';
        this.forward();
      }
      raw += this.current();
      this.forward();
    }
    this.forward();
    return pythonUnescape(raw);
  };
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '\n': '',
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

/** Python's escapes in a string literal; an unknown escape keeps its backslash, as Python's does. */
function pythonUnescape(raw: string): string {
  return raw.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{1,3}|[\s\S])/g, (m, esc: string) => {
    if (/^[xuU]/.test(esc) && esc.length > 1) return String.fromCodePoint(Number.parseInt(esc.slice(1), 16));
    if (/^[0-7]+$/.test(esc)) return String.fromCodePoint(Number.parseInt(esc, 8));
    return SIMPLE_ESCAPES[esc] ?? m;
  });
}

/**
 * Loop depth, so `break`/`continue` outside a `for` is a parse error rather than
 * invalid JavaScript; and list, tuple and dict literals that end in a comma.
 */
function patchParser(nodes: NunjucksInternals['nodes']): void {
  const proto = nj.parser.Parser.prototype;
  const T = nj.lexer;
  proto['parseAggregate'] = function (this: Parser & { skip(type: string): boolean }) {
    const tok = this.nextToken();
    const kind =
      tok.type === T['TOKEN_LEFT_PAREN']
        ? 'Group'
        : tok.type === T['TOKEN_LEFT_BRACKET']
          ? 'Array'
          : tok.type === T['TOKEN_LEFT_CURLY']
            ? 'Dict'
            : null;
    if (!kind) return null;
    const node = new nodes[kind]!(tok.lineno, tok.colno) as Node & { children: Node[]; addChild(n: Node): void };
    const closers = [T['TOKEN_RIGHT_PAREN'], T['TOKEN_RIGHT_BRACKET'], T['TOKEN_RIGHT_CURLY']];
    for (;;) {
      if (closers.includes(this.peekToken().type)) {
        this.nextToken();
        break;
      }
      if (node.children.length > 0) {
        if (!this.skip(T['TOKEN_COMMA']!)) this.fail('parseAggregate: expected comma after expression', tok.lineno, tok.colno);
        if (closers.includes(this.peekToken().type)) {
          this.nextToken();
          // `(x,)` is a one-item tuple.
          if (kind === 'Group') node['brineTuple'] = true;
          break;
        }
      }
      if (kind === 'Dict') {
        const key = this.parsePrimary();
        if (!this.skip(T['TOKEN_COLON']!)) this.fail('parseAggregate: expected colon after dict key', tok.lineno, tok.colno);
        const value = this.parseExpression();
        node.addChild(new nodes['Pair']!(key.lineno, key.colno, key, value));
      } else node.addChild(this.parseExpression());
    }
    return node;
  };
  const parseFor = proto['parseFor'] as (this: Parser) => Node;
  proto['parseFor'] = function (this: Parser) {
    this.brineLoops = (this.brineLoops ?? 0) + 1;
    try {
      return parseFor.call(this);
    } finally {
      this.brineLoops--;
    }
  };
  // The body of a macro, call block or set block is a function of its own: a loop around it cannot be left from inside.
  for (const name of ['parseMacro', 'parseCall', 'parseSet', 'parseFilterStatement']) {
    const base = proto[name] as (this: Parser) => Node;
    proto[name] = function (this: Parser) {
      const outer = this.brineLoops;
      this.brineLoops = 0;
      try {
        return base.call(this);
      } finally {
        this.brineLoops = outer;
      }
    };
  }
}

interface Extension {
  tags: string[];
  parse(parser: Parser, nodes: NunjucksInternals['nodes']): Node;
}

/** `{% do expr %}` (jinja2.ext.do). */
const doExtension: Extension = {
  tags: ['do'],
  parse(parser) {
    const tok = parser.nextToken();
    const expr = parser.parseExpression();
    parser.advanceAfterBlockEnd(tok.value);
    return new Do(tok.lineno, tok.colno, expr);
  },
};

/** `{% break %}` / `{% continue %}` (jinja2.ext.loopcontrols). */
const loopControls: Extension = {
  tags: ['break', 'continue'],
  parse(parser) {
    const tok = parser.nextToken();
    if (!parser.brineLoops) parser.fail(`'${tok.value}' outside a for loop`, tok.lineno, tok.colno);
    parser.advanceAfterBlockEnd(tok.value);
    return new Loop(tok.lineno, tok.colno, tok.value);
  },
};

/**
 * Salt's SerializerExtension tags: `{% import_yaml 'f' as x %}` (also `_json`,
 * `_text`; `with context` as Jinja's import takes it) and
 * `{% load_yaml as x %}...{% endload %}` (also `_json`, `_text`).
 */
const serializerTags: Extension = {
  tags: ['import_yaml', 'import_json', 'import_text', 'load_yaml', 'load_json', 'load_text'],
  parse(parser, nodes) {
    const tok = parser.nextToken();
    const [verb, kind] = tok.value.split('_') as [string, string];
    let value: Node;
    if (verb === 'import') {
      const name = parser.parseExpression();
      if (!parser.skipSymbol('as')) parser.fail(`expected 'as' after ${tok.value} <file>`, tok.lineno, tok.colno);
      const target = parser.parsePrimary();
      let withContext = false;
      if (parser.skipSymbol('with')) {
        if (!parser.skipSymbol('context')) parser.fail("expected 'context' after 'with'", tok.lineno, tok.colno);
        withContext = true;
      } else if (parser.skipSymbol('without')) {
        if (!parser.skipSymbol('context')) parser.fail("expected 'context' after 'without'", tok.lineno, tok.colno);
      }
      parser.advanceAfterBlockEnd(tok.value);
      value = new ImportData(tok.lineno, tok.colno, kind, name, withContext);
      return new nodes['Set']!(tok.lineno, tok.colno, [target], value);
    }
    if (!parser.skipSymbol('as')) parser.fail(`expected 'as' after ${tok.value}`, tok.lineno, tok.colno);
    const target = parser.parsePrimary();
    parser.advanceAfterBlockEnd(tok.value);
    const body = parser.parseUntilBlocks('endload');
    parser.advanceAfterBlockEnd();
    const capture = new nodes['Capture']!(tok.lineno, tok.colno, body);
    const filter = new nodes['Filter']!(
      tok.lineno,
      tok.colno,
      new nodes['Symbol']!(tok.lineno, tok.colno, tok.value),
      new nodes['NodeList']!(tok.lineno, tok.colno, [capture]),
    );
    return new nodes['Set']!(tok.lineno, tok.colno, [target], filter);
  },
};

/** Filters that take an undefined value on purpose; every other filter refuses one, as under StrictUndefined. */
const TAKES_UNDEFINED = new Set(['default', 'd']);

/** Wraps the environment's filters (nunjucks' and Salt's) so an undefined input is an error, not ''. */
export function strictFilters(env: nunjucks.Environment): void {
  const filters = (env as unknown as { filters: Record<string, (...args: unknown[]) => unknown> }).filters;
  for (const [name, filter] of Object.entries(filters)) {
    if (TAKES_UNDEFINED.has(name)) continue;
    filters[name] = function (this: unknown, ...args: unknown[]) {
      if (args[0] === undefined)
        throw new py.PyError(`an undefined value is given to the '${name}' filter (a missing pillar or grains key?)`);
      return filter.apply(this, args);
    };
  }
}

export const saltExtensions: Record<string, Extension> = { do: doExtension, loopcontrols: loopControls, serializer: serializerTags };

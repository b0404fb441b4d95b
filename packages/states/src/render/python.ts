/**
 * Python's value semantics for the Jinja stage: how Salt's Jinja (Python) prints,
 * compares, adds and formats the values a template holds. The template engine is
 * JavaScript; every operator and every `{{ }}` goes through here, so a value is
 * either what Python would make of it or an error, never a JavaScript artefact
 * (`NaN`, `[object Object]`, `true`, `undefined`).
 */

/** An expression Python would refuse (TypeError, KeyError, …); the renderer adds file and line. */
export class PyError extends Error {}

/** Marks a JS array that stands for a Python tuple (from `(a, b)` in a template): it prints as `(a, b)`. */
export const TUPLE = Symbol.for('brine.py.tuple');

export const tuple = <T>(items: T[]): T[] => Object.assign(items, { [TUPLE]: true });
const isTuple = (v: unknown): boolean => Array.isArray(v) && (v as unknown as Record<symbol, unknown>)[TUPLE] === true;

/** The Python type name of a value, for error messages. */
export function typeName(v: unknown): string {
  if (v === undefined) return 'Undefined';
  if (v === null) return 'NoneType';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'string' || v instanceof String) return 'str';
  if (Array.isArray(v)) return isTuple(v) ? 'tuple' : 'list';
  if (typeof v === 'function') return 'function';
  return isPlainDict(v) ? 'dict' : 'object';
}

export function isPlainDict(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

// ---------------------------------------------------------------- printing

/** `str(value)`: what `{{ value }}` prints. */
export function pyStr(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof String) return v.toString(); // nunjucks' SafeString (Markup)
  return pyRepr(v);
}

/** `repr(value)`. */
export function pyRepr(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return reprString(v);
    case 'boolean':
      return v ? 'True' : 'False';
    case 'number':
      return reprNumber(v);
    case 'bigint':
      return v.toString();
    case 'undefined':
      throw new PyError('an undefined value cannot be printed (a missing pillar or grains key?)');
    case 'function':
      throw new PyError('a function cannot be printed (missing parentheses in a call?)');
  }
  if (v === null) return 'None';
  if (v instanceof String) return reprString(v.toString());
  if (Array.isArray(v)) {
    const items = v.map(pyRepr);
    if (isTuple(v)) return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
    return `[${items.join(', ')}]`;
  }
  if (isPlainDict(v)) {
    return `{${Object.keys(v)
      .map((k) => `${reprString(k)}: ${pyRepr(v[k])}`)
      .join(', ')}}`;
  }
  // A value with its own printable form (a hidden secret prints as <secret>).
  if (typeof (v as { toString?: unknown }).toString === 'function' && (v as object).toString !== Object.prototype.toString) {
    return String(v);
  }
  throw new PyError(`a value of type ${typeName(v)} cannot be printed`);
}

/** Python 3's `repr(str)`: single quotes unless the text has `'` and no `"`; non-printables escaped. */
function reprString(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${hex(code, 2)}`;
    else if (code > 0x7f && !isPrintable(ch)) {
      out += code <= 0xff ? `\\x${hex(code, 2)}` : code <= 0xffff ? `\\u${hex(code, 4)}` : `\\U${hex(code, 8)}`;
    } else out += ch;
  }
  return out + quote;
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
/** Python's str.isprintable for one non-ASCII character: not a control, format, surrogate, private, unassigned or separator (but space). */
const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;
const isPrintable = (ch: string) => !NOT_PRINTABLE.test(ch);

/**
 * A whole number up to 2**53 prints as an int (JSON and YAML do not keep `2.0`
 * apart from `2`); any other as Python's float repr: shortest round-trip digits, exponent form below
 * 1e-4 and from 1e16, as `1e-05`.
 */
function reprNumber(n: number): string {
  if (Number.isNaN(n)) throw new PyError('the result is not a number (NaN)');
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  if (Number.isSafeInteger(n)) return Object.is(n, -0) ? '0' : String(n);
  const [mant, expText] = n.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(n);
}

// ---------------------------------------------------------------- truth and equality

export function truthy(v: unknown, what = 'a condition'): boolean {
  if (v === undefined) throw new PyError(`an undefined value is used in ${what} (a missing pillar or grains key?)`);
  if (v === null || v === false || v === 0 || v === '' || v === 0n) return false;
  if (typeof v === 'number') {
    if (Number.isNaN(v)) throw new PyError('the result is not a number (NaN)');
    return true;
  }
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof String) return v.length > 0;
  if (isPlainDict(v)) return Object.keys(v).length > 0;
  return true;
}

export function pyEq(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof String) return pyEq(a.toString(), b);
  if (b instanceof String) return pyEq(a, b.toString());
  if (isNumeric(a) && isNumeric(b)) return Number(a) === Number(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => pyEq(x, b[i]));
  if (isPlainDict(a) && isPlainDict(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && pyEq(a[k], b[k]));
  }
  return false;
}

const isNumeric = (v: unknown): v is number | boolean | bigint => typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint';

function order(a: unknown, b: unknown, op: string): number {
  if (isNumeric(a) && isNumeric(b)) {
    const x = Number(a);
    const y = Number(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      if (!pyEq(a[i], b[i])) return order(a[i], b[i], op);
    }
    return a.length - b.length;
  }
  throw new PyError(`'${op}' not supported between instances of '${typeName(a)}' and '${typeName(b)}'`);
}

export function compare(op: string, a: unknown, b: unknown): boolean {
  if (a === undefined || b === undefined)
    throw new PyError(`an undefined value is compared with '${op}' (a missing pillar or grains key?)`);
  switch (op) {
    case '==':
    case '===':
      return pyEq(a, b);
    case '!=':
    case '!==':
      return !pyEq(a, b);
    case '<':
      return order(a, b, op) < 0;
    case '>':
      return order(a, b, op) > 0;
    case '<=':
      return order(a, b, op) <= 0;
    case '>=':
      return order(a, b, op) >= 0;
  }
  throw new PyError(`unknown comparison '${op}'`);
}

export function contains(container: unknown, item: unknown): boolean {
  if (typeof container === 'string' || container instanceof String) {
    if (typeof item !== 'string' && !(item instanceof String)) {
      throw new PyError(`'in <string>' requires string as left operand, not ${typeName(item)}`);
    }
    return container.includes(item.toString());
  }
  if (Array.isArray(container)) return container.some((x) => pyEq(x, item));
  if (isPlainDict(container)) return typeof item === 'string' && Object.hasOwn(container, item);
  throw new PyError(`argument of type '${typeName(container)}' is not iterable`);
}

// ---------------------------------------------------------------- arithmetic

const unsupported = (op: string, a: unknown, b: unknown) =>
  new PyError(`unsupported operand type(s) for ${op}: '${typeName(a)}' and '${typeName(b)}'`);

function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return undefined;
}

const checked = (n: number): number => {
  if (Number.isNaN(n)) throw new PyError('the result is not a number (NaN)');
  return n;
};

const plainString = (v: unknown): string | undefined => (typeof v === 'string' ? v : v instanceof String ? v.toString() : undefined);

export function add(a: unknown, b: unknown): unknown {
  const x = num(a);
  const y = num(b);
  if (x !== undefined && y !== undefined) return checked(x + y);
  const sa = plainString(a);
  const sb = plainString(b);
  if (sa !== undefined && sb !== undefined) return sa + sb;
  if (Array.isArray(a) && Array.isArray(b)) return isTuple(a) && isTuple(b) ? tuple([...a, ...b]) : [...a, ...b];
  throw unsupported('+', a, b);
}

export function sub(a: unknown, b: unknown): unknown {
  const x = num(a);
  const y = num(b);
  if (x !== undefined && y !== undefined) return checked(x - y);
  throw unsupported('-', a, b);
}

export function mul(a: unknown, b: unknown): unknown {
  const x = num(a);
  const y = num(b);
  if (x !== undefined && y !== undefined) return checked(x * y);
  const [seq, n] = x === undefined ? [a, b] : [b, a];
  const count = num(n);
  if (count !== undefined && Number.isInteger(count)) {
    const s = plainString(seq);
    if (s !== undefined) return s.repeat(Math.max(0, count));
    if (Array.isArray(seq)) return Array.from({ length: Math.max(0, count) }, () => seq).flat();
  }
  throw unsupported('*', a, b);
}

function divisor(op: string, a: unknown, b: unknown): [number, number] {
  const x = num(a);
  const y = num(b);
  if (x === undefined || y === undefined) throw unsupported(op, a, b);
  if (y === 0) throw new PyError(op === '%' ? 'integer modulo by zero' : 'division by zero');
  return [x, y];
}

export function div(a: unknown, b: unknown): unknown {
  const [x, y] = divisor('/', a, b);
  return checked(x / y);
}

export function floorDiv(a: unknown, b: unknown): unknown {
  const [x, y] = divisor('//', a, b);
  return checked(Math.floor(x / y));
}

export function mod(a: unknown, b: unknown): unknown {
  const s = plainString(a);
  if (s !== undefined) return percentFormat(s, b);
  const [x, y] = divisor('%', a, b);
  // Python's modulo takes the divisor's sign.
  return checked(((x % y) + y) % y);
}

export function pow(a: unknown, b: unknown): unknown {
  const x = num(a);
  const y = num(b);
  if (x === undefined || y === undefined) throw unsupported('** or pow()', a, b);
  return checked(x ** y);
}

export function neg(a: unknown): unknown {
  const x = num(a);
  if (x === undefined) throw new PyError(`bad operand type for unary -: '${typeName(a)}'`);
  return checked(-x);
}

/** Jinja's `~`: both sides as `str()`. */
export const concat = (a: unknown, b: unknown): string => pyStr(a) + pyStr(b);

// ---------------------------------------------------------------- string formatting

/** `'fmt' % args`: Python's printf-style formatting (`%s %r %d %i %f %e %g %x %o %c %%`, flags, width, precision, `%(key)s`). */
export function percentFormat(fmt: string, args: unknown): string {
  const mapping = isPlainDict(args) ? args : undefined;
  const values = isTuple(args) ? (args as unknown[]) : [args];
  let next = 0;
  const take = (): unknown => {
    if (next >= values.length) throw new PyError('not enough arguments for format string');
    return values[next++];
  };
  const out = fmt.replace(
    /%(?:\(([^)]*)\))?([-+ 0#]*)(\*|\d+)?(?:\.(\*|\d+))?([sradifeEgGxXoc%])/g,
    (_m, key: string | undefined, flags: string, width: string | undefined, prec: string | undefined, conv: string) => {
      if (conv === '%') return '%';
      const w = width === '*' ? Number(take()) : width === undefined ? undefined : Number(width);
      const p = prec === '*' ? Number(take()) : prec === undefined ? undefined : Number(prec);
      let value: unknown;
      if (key !== undefined) {
        if (!mapping) throw new PyError('format requires a mapping');
        if (!Object.hasOwn(mapping, key)) throw new PyError(`KeyError: ${reprString(key)}`);
        value = mapping[key];
      } else value = take();
      return formatOne(value, conv, flags, w, p);
    },
  );
  if (!mapping && next < values.length) throw new PyError('not all arguments converted during string formatting');
  return out;
}

function formatOne(value: unknown, conv: string, flags: string, width: number | undefined, prec: number | undefined): string {
  let body: string;
  let numeric = false;
  switch (conv) {
    case 's':
      body = pyStr(value);
      if (prec !== undefined) body = body.slice(0, prec);
      break;
    case 'r':
    case 'a':
      body = pyRepr(value);
      break;
    case 'c':
      body = typeof value === 'number' ? String.fromCodePoint(value) : pyStr(value);
      break;
    default: {
      const n = num(value);
      if (n === undefined) throw new PyError(`%${conv} format: a real number is required, not ${typeName(value)}`);
      numeric = true;
      body = formatNumber(n, conv, prec, flags.includes('#'));
      if (n >= 0 && !body.startsWith('-')) {
        if (flags.includes('+')) body = `+${body}`;
        else if (flags.includes(' ')) body = ` ${body}`;
      }
    }
  }
  if (width !== undefined && body.length < width) {
    if (flags.includes('-')) body = body.padEnd(width);
    else if (numeric && flags.includes('0')) {
      const sign = /^[-+ ]/.test(body) ? body[0]! : '';
      body = sign + body.slice(sign.length).padStart(width - sign.length, '0');
    } else body = body.padStart(width);
  }
  return body;
}

function formatNumber(n: number, conv: string, prec: number | undefined, alt: boolean): string {
  switch (conv) {
    case 'd':
    case 'i':
    case 'u':
      return String(Math.trunc(n));
    case 'f':
    case 'F':
      return n.toFixed(prec ?? 6);
    case 'e':
    case 'E': {
      const s = pyExponent(n.toExponential(prec ?? 6));
      return conv === 'E' ? s.toUpperCase() : s;
    }
    case 'g':
    case 'G': {
      const p = prec === 0 ? 1 : (prec ?? 6);
      const exp = n === 0 ? 0 : Math.floor(Math.log10(Math.abs(n)));
      let s = exp < -4 || exp >= p ? pyExponent(n.toExponential(p - 1)) : n.toFixed(Math.max(0, p - 1 - exp));
      if (!alt) s = s.replace(/\.?0+(?=e|$)/, '');
      return conv === 'G' ? s.toUpperCase() : s;
    }
    case 'x':
    case 'X': {
      const s = (alt ? '0x' : '') + Math.trunc(Math.abs(n)).toString(16);
      return (n < 0 ? '-' : '') + (conv === 'X' ? s.toUpperCase() : s);
    }
    case 'o':
      return (n < 0 ? '-' : '') + (alt ? '0o' : '') + Math.trunc(Math.abs(n)).toString(8);
  }
  throw new PyError(`unsupported format character '${conv}'`);
}

/** JS writes `1.5e+0`; Python `1.5e+00`. */
const pyExponent = (s: string) => s.replace(/e([+-])(\d)$/, 'e$10$2');

/** `'{} {name:>8}'.format(...)`: Python's str.format with positional and keyword fields, indexing and format specs. */
export function strFormat(fmt: string, args: unknown[], kwargs: Record<string, unknown>): string {
  let auto = 0;
  return fmt.replace(
    /\{\{|\}\}|\{([^{}!:]*)(?:!([rsa]))?(?::([^{}]*))?\}/g,
    (m, field: string | undefined, conv: string | undefined, spec: string | undefined) => {
      if (m === '{{') return '{';
      if (m === '}}') return '}';
      const [, head = '', rest = ''] = /^([^.[]*)(.*)$/.exec(field ?? '')!;
      let value: unknown;
      if (head === '') value = argAt(args, auto++);
      else if (/^\d+$/.test(head)) value = argAt(args, Number(head));
      else if (Object.hasOwn(kwargs, head)) value = kwargs[head];
      else throw new PyError(`KeyError: ${reprString(head)}`);
      for (const part of rest.matchAll(/\.(\w+)|\[([^\]]*)\]/g)) {
        const key = part[1] ?? part[2]!;
        const index = /^\d+$/.test(key) && Array.isArray(value) ? Number(key) : key;
        if (value === null || typeof value !== 'object' || !Object.hasOwn(value, index)) throw new PyError(`KeyError: ${reprString(key)}`);
        value = (value as Record<string | number, unknown>)[index];
      }
      const text = conv === 'r' || conv === 'a' ? pyRepr(value) : value;
      return applySpec(text, spec ?? '');
    },
  );
}

function argAt(args: unknown[], i: number): unknown {
  if (i >= args.length) throw new PyError(`IndexError: Replacement index ${i} out of range for positional args tuple`);
  return args[i];
}

function applySpec(value: unknown, spec: string): string {
  if (spec === '') return pyStr(value);
  const m = /^(?:(.)?([<>=^]))?([-+ ])?(#)?(0)?(\d+)?([,_])?(?:\.(\d+))?([bcdeEfFgGnosxX%])?$/.exec(spec);
  if (!m) throw new PyError(`Invalid format specifier '${spec}'`);
  const [, fillCh, alignCh, sign, alt, zero, widthText, group, precText, type] = m;
  const prec = precText === undefined ? undefined : Number(precText);
  let body: string;
  const n = num(value);
  const isNum = n !== undefined && typeof value !== 'boolean';
  if (isNum && type !== 's') {
    if (type === '%') body = `${(n * 100).toFixed(prec ?? 6)}%`;
    else if (type === undefined || type === 'n') body = prec === undefined ? pyRepr(n) : formatNumber(n, 'g', prec, false);
    else if (type === 'b') body = Math.trunc(n).toString(2);
    else body = formatNumber(n, type, prec ?? (type === 'd' ? undefined : 6), alt !== undefined);
    if (group) body = body.replace(/^(-?\d+)/, (d) => d.replace(/\B(?=(\d{3})+(?!\d))/g, group));
    if (n >= 0 && sign === '+') body = `+${body}`;
    else if (n >= 0 && sign === ' ') body = ` ${body}`;
  } else {
    if (type !== undefined && type !== 's') throw new PyError(`Unknown format code '${type}' for object of type '${typeName(value)}'`);
    body = pyStr(value);
    if (prec !== undefined) body = body.slice(0, prec);
  }
  const width = widthText === undefined ? 0 : Number(widthText);
  const fill = fillCh ?? (zero && !alignCh ? '0' : ' ');
  const align = alignCh ?? (zero && isNum ? '=' : isNum ? '>' : '<');
  const pad = Math.max(0, width - body.length);
  if (pad === 0) return body;
  switch (align) {
    case '<':
      return body + fill.repeat(pad);
    case '>':
      return fill.repeat(pad) + body;
    case '^':
      return fill.repeat(Math.floor(pad / 2)) + body + fill.repeat(Math.ceil(pad / 2));
    default: {
      const s = /^[-+ ]/.test(body) ? body[0]! : '';
      return s + fill.repeat(pad) + body.slice(s.length);
    }
  }
}

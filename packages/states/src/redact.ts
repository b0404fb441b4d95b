import { isSecretKeyName } from './pillar/secret-scan.js';

/** What a redacted value reads as in results, output and logs. */
export const REDACTED = '<redacted>';

/**
 * Values shorter than this are not redacted: they cannot be meaningful secrets,
 * and replacing every "on" or "vg0" would make output unreadable.
 */
export const MIN_SECRET_LENGTH = 4;

/**
 * The set of secret strings of one run (pillar values rendered into states,
 * values fetched through the secret provider) and the means to blank them out of
 * anything that leaves the run. Multi-line values are also registered line by
 * line, so a diff that splits one into lines cannot show it either.
 */
export class Redactor {
  private readonly secrets = new Set<string>();
  /** Numbers read from pillar: blanked only where they stand alone, never inside a longer number. */
  private readonly numbers = new Set<string>();
  private pattern: RegExp | null = null;

  add(value: string | number | bigint | Uint8Array): void {
    if (typeof value === 'number' || typeof value === 'bigint') {
      const digits = String(value);
      if (digits.length >= MIN_SECRET_LENGTH && !this.numbers.has(digits)) {
        this.numbers.add(digits);
        this.pattern = null;
      }
      return;
    }
    const text = typeof value === 'string' ? value : Buffer.from(value).toString('utf8');
    for (const part of [text, ...text.split(/\r?\n/)]) {
      for (const s of [part, part.trim()]) {
        if (s.length >= MIN_SECRET_LENGTH && !this.secrets.has(s)) {
          this.secrets.add(s);
          this.pattern = null;
        }
      }
    }
  }

  get size(): number {
    return this.secrets.size + this.numbers.size;
  }

  string(text: string): string {
    if (this.size === 0) return text;
    if (!this.pattern) {
      // Longest first, so a secret that contains another is blanked whole.
      const alternatives = [
        ...[...this.secrets].map((s) => ({ length: s.length, source: escapeRegExp(s) })),
        ...[...this.numbers].map((n) => ({ length: n.length, source: `(?<![0-9])${escapeRegExp(n)}(?![0-9])` })),
      ].sort((a, b) => b.length - a.length);
      this.pattern = new RegExp(alternatives.map((a) => a.source).join('|'), 'g');
    }
    return text.replace(this.pattern, REDACTED);
  }

  /** A copy of `value` with every string (mapping keys included) redacted. */
  deep<T>(value: T): T {
    if (this.size === 0) return value;
    return this.walk(value) as T;
  }

  private walk(value: unknown): unknown {
    if (typeof value === 'string') return this.string(value);
    if (Array.isArray(value)) return value.map((v) => this.walk(v));
    if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[this.string(k)] = this.walk(v);
      return out;
    }
    return value;
  }
}

/**
 * What a template's pillar reads redact (a sink for `templateVars`): a value read under a key named
 * like a secret (luks:password, api_key); the rest shows, as Salt shows it. `onSecret` is told of each.
 */
export const redactSecretReads =
  (redactor: Redactor, onSecret?: () => void) =>
  (value: string | number | bigint, path: readonly string[]): void => {
    if (!path.some(isSecretKeyName)) return;
    redactor.add(value);
    onSecret?.();
  };

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

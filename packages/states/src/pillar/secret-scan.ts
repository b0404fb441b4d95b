// Scans of the pillar tree as text (what the operator wrote, Jinja and all), never as rendered:
// `master secret audit` and the master's warning at start, and `master secret rekey`, which
// must leave every byte but the ciphertexts as it was.
import { readPillarTexts } from './pillar-files.js';

/** A value under a key named like a secret, stored in plaintext. Never holds the value. */
export interface PlaintextSecret {
  file: string;
  line: number;
  key: string;
}

/** Words that make a key name a secret's: a whole part of the name (`db_password`, `api-key`), or in it for the long ones. */
const SECRET_PARTS = new Set(['password', 'passwd', 'passphrase', 'key', 'secret', 'token', 'pass', 'psk']);
const SECRET_WORDS = ['password', 'passphrase', 'secret', 'token'];
/** A mapping key with a value on its line; `- ` list items of mappings too. */
const KEY_LINE = /^\s*(?:-\s+)?(['"]?)([A-Za-z0-9_.-]+)\1\s*:(?:\s+(.*))?$/;
/** Values that hold nothing secret, or nothing written here (a template expression, an alias). */
const NOT_A_VALUE = /^(?:~|null|true|false|\[\]|\{\}|''|""|\{\{.*|\{%.*|\*\S+)$/i;

export function isSecretKeyName(key: string): boolean {
  const lower = key.toLowerCase();
  const parts = lower.split(/[_.-]+/);
  // `key_pillar`, `password_pillar`: the name of a pillar path, not a value.
  if (parts.at(-1) === 'pillar') return false;
  return parts.some((p) => SECRET_PARTS.has(p)) || SECRET_WORDS.some((w) => lower.includes(w));
}

/**
 * Plaintext values under keys named like secrets (`password`, `passphrase`, `key`, `secret`,
 * `token`, …) in the pillar tree: `!secret` ones included (marked, but readable by whoever gets
 * the files), `!encrypted` ones and template expressions not. A text scan: it flags what an
 * operator would read as a secret, and can miss one a template builds.
 */
export function scanPlaintextSecrets(roots: readonly string[]): PlaintextSecret[] {
  const found: PlaintextSecret[] = [];
  for (const { name, file, text } of readPillarTexts(roots)) {
    if (name === 'top.sls') continue;
    text.split('\n').forEach((line, i) => {
      const m = KEY_LINE.exec(line.replace(/\s+#.*$/, ''));
      if (!m || !isSecretKeyName(m[2]!)) return;
      const value = (m[3] ?? '').trim();
      if (value === '' || value.startsWith('!encrypted') || NOT_A_VALUE.test(value)) return;
      found.push({ file, line: i + 1, key: m[2]! });
    });
  }
  return found;
}

/** `!encrypted <base64>`, the base64 optionally quoted; group 3 is the ciphertext. */
const ENCRYPTED = /(!encrypted[ \t]+)(['"]?)([A-Za-z0-9+/]+={0,2})\2/g;

/** A ciphertext in a pillar file, and where. */
export interface CiphertextAt {
  line: number;
  ciphertext: string;
}

export function findCiphertexts(text: string): CiphertextAt[] {
  return [...text.matchAll(ENCRYPTED)].map((m) => ({
    line: text.slice(0, m.index).split('\n').length,
    ciphertext: m[3]!,
  }));
}

/** The text with each ciphertext replaced by what `reseal` makes of it; every other byte as it was. */
export function replaceCiphertexts(text: string, reseal: (found: CiphertextAt) => string): string {
  return text.replace(ENCRYPTED, (_all, tag: string, quote: string, ciphertext: string, offset: number) => {
    const line = text.slice(0, offset).split('\n').length;
    return `${tag}${quote}${reseal({ line, ciphertext })}${quote}`;
  });
}

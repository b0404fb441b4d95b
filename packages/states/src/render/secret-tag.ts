// The `!secret` and `!encrypted` tags pillar files may use; here, not in pillar/, so the YAML loader needs nothing
// from the pillar compiler that uses it.
import { Type } from 'js-yaml';

/** What a secret prints as, wherever it is shown. */
export const HIDDEN = '<secret>';

/** A value that prints and serializes as HIDDEN, whatever it holds. */
export abstract class HiddenValue {
  toString(): string {
    return HIDDEN;
  }

  toJSON(): string {
    return HIDDEN;
  }
}

/**
 * A pillar value written `!secret` in a pillar file. It is kept out of the pillar
 * that templates see (and that the master sends a minion for rendering); a state
 * reaches it only by name (`key_pillar`), fetched raw when it runs. Printing or
 * serializing the wrapper never shows the value.
 */
export class PillarSecret extends HiddenValue {
  constructor(readonly value: string) {
    super();
  }
}

/** `!secret <scalar>`: always a string, as a passphrase is, whatever it looks like. */
export const secretYamlType = new Type('!secret', {
  kind: 'scalar',
  resolve: (data: unknown) => typeof data === 'string' && data.length > 0,
  construct: (data: string) => new PillarSecret(data),
  instanceOf: PillarSecret,
});

/**
 * A pillar value written `!encrypted <base64>`: sealed to the master's pillar key
 * (see the master's pillar-crypto.ts), so the pillar tree holds no plaintext. It
 * behaves like `!secret` (never in templates or the pillar minions render with)
 * and only the master opens it, when it hands the value to the state that names
 * it. `file` is where it was read from, for errors; private, so walkers that
 * gather a pillar's strings (redaction) see only the ciphertext.
 */
export class EncryptedSecret extends HiddenValue {
  #file = '';

  constructor(readonly ciphertext: string) {
    super();
  }

  get file(): string {
    return this.#file;
  }

  /** Notes the pillar file it came from (the YAML loader does not know it). */
  from(file: string): this {
    this.#file = file;
    return this;
  }
}

/** `!encrypted <base64>`: one line of base64 as `master secret encrypt` prints it. */
export const encryptedYamlType = new Type('!encrypted', {
  kind: 'scalar',
  resolve: (data: unknown) => typeof data === 'string' && /^[A-Za-z0-9+/]+={0,2}$/.test(data),
  construct: (data: string) => new EncryptedSecret(data),
  instanceOf: EncryptedSecret,
});

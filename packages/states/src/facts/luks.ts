import { noSecrets, SecretUnavailableError } from '../host/secrets.js';
import { commandFact, failure, type CommandOutput, type Fact } from './fact.js';

const LUKS_MAGIC = Buffer.from('LUKS\xba\xbe', 'latin1');
const HEADER_BYTES = 8;

/** True if the device starts with a LUKS1/LUKS2 header: magic and a known version, read without a process. */
export const luksHeader: Fact<[device: string], boolean, Buffer> = {
  name: 'luks.header',
  read: (host, device) => host.fs.readHead(device, HEADER_BYTES),
  parse: (head) => head.length === HEADER_BYTES && head.subarray(0, 6).equals(LUKS_MAGIC) && [1, 2].includes(head.readUInt16BE(6)),
};

/** cryptsetup's verdict, for a device without the primary magic (a LUKS2 header whose first copy is damaged). */
export const cryptsetupIsLuks = commandFact(
  'cryptsetup.isLuks',
  (device: string) => ['cryptsetup', 'isLuks', device],
  (out, device): boolean => {
    if (out.exitCode !== 0 && out.exitCode !== 1) throw new Error(`cryptsetup isLuks ${device} failed: ${failure(out)}`);
    return out.exitCode === 0;
  },
);

/**
 * Which key slot a passphrase held in pillar opens: `{ slot }` (null: none), or why the passphrase
 * could not be tried (`unavailable`: not in this minion's pillar, or empty).
 */
export type KeySlot = { slot: number | null } | { unavailable: string };

/** What reading `luks.keySlot` gave: cryptsetup's output, or why it did not run. */
export type KeySlotRaw = CommandOutput | { unavailable: string };

/**
 * `cryptsetup open --test-passphrase -v --key-file=- <device>` with the pillar value at `keyPillar`
 * on stdin (never argv), its buffer zeroed once cryptsetup is done. cryptsetup tries the slots in
 * order and names the first that opens ("Key slot 1 unlocked."); exit 2 is "no slot accepts it".
 * Works alike on LUKS1 and LUKS2 (LUKS2 slots of priority "ignore" are not tried without --key-slot).
 */
export const luksKeySlot: Fact<[device: string, keyPillar: string], KeySlot, KeySlotRaw> = {
  name: 'luks.keySlot',
  async read(host, device, keyPillar) {
    let key: Buffer;
    try {
      key = await (host.secrets ?? noSecrets).fetch(keyPillar);
    } catch (err) {
      if (err instanceof SecretUnavailableError) return { unavailable: err.message };
      throw err;
    }
    try {
      if (key.length === 0) return { unavailable: `pillar value '${keyPillar}' is empty` };
      const { exitCode, stdout, stderr, error } = await host.runner.run(
        'cryptsetup',
        ['open', '--test-passphrase', '-v', '--key-file=-', device],
        { stdin: key },
      );
      return { exitCode, stdout, stderr, ...(error !== undefined && { error }) };
    } finally {
      key.fill(0);
    }
  },
  parse(raw, device) {
    if ('unavailable' in raw) return { unavailable: raw.unavailable };
    if (raw.exitCode === 2) return { slot: null };
    const unlocked = /^Key slot (\d+) unlocked\.$/m.exec(raw.stdout);
    if (raw.exitCode !== 0 || !unlocked) throw new Error(`cryptsetup open --test-passphrase ${device} failed: ${failure(raw)}`);
    return { slot: Number(unlocked[1]) };
  },
};

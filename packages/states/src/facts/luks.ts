import { commandFact, failure, type Fact } from './fact.js';

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

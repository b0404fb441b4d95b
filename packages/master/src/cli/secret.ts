import type { Command } from 'commander';
import { BrineError, currentOperator, globalOptions } from '@brine/common';
import { loadMasterConfig, type MasterConfig } from '../config.js';

const configOf = (cmd: Command): MasterConfig => loadMasterConfig(globalOptions(cmd).config);

/** Bounds what stdin may bring: a passphrase or a key file, not a disk image. */
const MAX_VALUE_BYTES = 64 * 1024;

/** All of stdin, as bytes the caller zeroes. */
async function readStdin(what: string): Promise<Buffer> {
  if (process.stdin.isTTY) process.stderr.write(`${what}, then Ctrl-D:\n`);
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    length += chunk.length;
    if (length > MAX_VALUE_BYTES) {
      for (const c of chunks) c.fill(0);
      throw new BrineError('usage', `standard input holds more than ${MAX_VALUE_BYTES} bytes`);
    }
  }
  const all = Buffer.concat(chunks, length);
  for (const c of chunks) c.fill(0);
  return all;
}

/** A pillar path as `key_pillar` names it: colon-separated parts, none empty. */
function checkPath(path: string): string {
  if (!/^[^:\s]+(:[^:\s]+)*$/.test(path)) throw new BrineError('usage', `--path '${path}' is not a pillar path such as luks:password`);
  return path;
}

async function encrypt(opts: { path: string; minion?: string }, cmd: Command): Promise<void> {
  const path = checkPath(opts.path);
  const [{ minionIdProblem }, { encryptValue, loadPillarCrypto, pillarKeyPaths, pillarPublicKey }] = await Promise.all([
    import('@brine/protocol'),
    import('../pillar-crypto.js'),
  ]);
  await loadPillarCrypto();
  const problem = opts.minion === undefined ? undefined : minionIdProblem(opts.minion);
  if (problem) throw new BrineError('usage', `--minion: ${problem}`);
  const config = configOf(cmd);
  const { publicKey, created } = pillarPublicKey(config.pki_dir);
  if (created) process.stderr.write(`made the master's pillar key: ${pillarKeyPaths(config.pki_dir).secret}\n`);
  const input = await readStdin(`the value for ${path}`);
  // One line typed or piped in ends with a newline that is not part of the value.
  const end = input.at(-1) === 0x0a ? (input.at(-2) === 0x0d ? 2 : 1) : 0;
  const value = input.subarray(0, input.length - end);
  try {
    if (value.length === 0) throw new BrineError('usage', 'standard input is empty: nothing to encrypt');
    process.stdout.write(`!encrypted ${encryptValue(value, { path, ...(opts.minion && { minion: opts.minion }) }, publicKey)}\n`);
  } finally {
    input.fill(0);
  }
}

/** Break-glass: prints a value, for root only, and only once the audit log holds who asked for which. */
async function decrypt(cmd: Command): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new BrineError('permission_denied', 'master secret decrypt is for root on the master only (break-glass; it is audited)');
  }
  const config = configOf(cmd);
  const [{ loadPillarCrypto, openValue, PillarKeyring }, { AuditLog }] = await Promise.all([
    import('../pillar-crypto.js'),
    import('../audit.js'),
  ]);
  await loadPillarCrypto();
  const input = await readStdin('the !encrypted value');
  const ciphertext = input
    .toString('utf8')
    .trim()
    .replace(/^!encrypted\s+/, '')
    .replace(/^(['"])(.*)\1$/, '$2');
  const ring = new PillarKeyring(config.pki_dir);
  const opened = openValue(ciphertext, (id) => ring.key(id));
  try {
    const audit = await AuditLog.open(config.audit_log);
    audit.write({
      event: 'secret_decrypted',
      path: opened.binding.path,
      ...(opened.binding.minion && { minion: opened.binding.minion }),
      reason: 'master secret decrypt (break-glass)',
      ...currentOperator(),
    });
    await audit.close();
    process.stderr.write(
      `bound to pillar key '${opened.binding.path}'${opened.binding.minion ? ` of minion '${opened.binding.minion}'` : ''}\n`,
    );
    // Zeroed (below) only once written out: stdout may hold on to the buffer until then.
    await new Promise<void>((done, failed) => process.stdout.write(opened.value, (err) => (err ? failed(err) : done())));
    if (process.stdout.isTTY) process.stdout.write('\n');
  } finally {
    opened.value.fill(0);
  }
}

async function rekey(cmd: Command): Promise<void> {
  const config = configOf(cmd);
  const [{ rekeyPillar }, { loadPillarCrypto }, { AuditLog }] = await Promise.all([
    import('../pillar-rekey.js'),
    import('../pillar-crypto.js'),
    import('../audit.js'),
  ]);
  await loadPillarCrypto();
  // Opened first: a rekey that cannot be recorded must not happen.
  const audit = await AuditLog.open(config.audit_log);
  try {
    const done = rekeyPillar(config.pillar_roots, config.pki_dir);
    audit.write({
      event: 'secret_rekeyed',
      count: done.values,
      reason: `pillar key ${done.oldKeyId ?? '(none)'} replaced by ${done.keyId}; ${done.files.length} files rewritten`,
      ...currentOperator(),
    });
    for (const file of done.files) process.stdout.write(`rewrote ${file}\n`);
    process.stdout.write(
      `${done.values} values sealed to pillar key ${done.keyId}${done.oldKeyId ? `; pillar key ${done.oldKeyId} is gone` : ''}\n`,
    );
  } finally {
    await audit.close();
  }
}

async function auditTree(opts: { json?: boolean }, cmd: Command): Promise<void> {
  const { scanPlaintextSecrets } = await import('@brine/states');
  const found = scanPlaintextSecrets(configOf(cmd).pillar_roots);
  if (opts.json) process.stdout.write(`${JSON.stringify(found)}\n`);
  else for (const f of found) process.stdout.write(`${f.file}:${f.line}: ${f.key} is plaintext\n`);
  if (found.length > 0) {
    if (!opts.json)
      process.stderr.write(`${found.length} plaintext values under keys named like secrets: encrypt them with master secret encrypt\n`);
    process.exitCode = 1;
  }
}

/** `master secret …`: encrypted pillar values (docs/OPERATIONS.md, "Encrypted pillar values"). */
export function registerSecretCommand(program: Command): void {
  const secret = program.command('secret').description('encrypted pillar values: encrypt, rekey, audit; decrypt (break-glass)');

  secret
    .command('encrypt')
    .description("read a value on stdin and print it as '!encrypted <base64>' for a pillar file, sealed to the master's pillar key")
    .requiredOption('--path <path>', 'the pillar path the value is for (key_pillar), e.g. luks:password; it opens only there')
    .option('--minion <id>', "the minion whose pillar it is for; it opens for no other minion's")
    .action((opts: { path: string; minion?: string }, cmd: Command) => encrypt(opts, cmd));

  secret
    .command('decrypt')
    .description('break-glass, root only, audited: read an !encrypted value on stdin and print the plaintext')
    .action((_opts: object, cmd: Command) => decrypt(cmd));

  secret
    .command('rekey')
    .description('seal every !encrypted value under pillar_roots to a new pillar key (each file replaced atomically); the old key is gone')
    .action((_opts: object, cmd: Command) => rekey(cmd));

  secret
    .command('audit')
    .description('list plaintext values under keys named like secrets (password, passphrase, key, secret, token); exits 1 if any')
    .option('--json', 'print [{"file", "line", "key"}]')
    .action((opts: { json?: boolean }, cmd: Command) => auditTree(opts, cmd));
}

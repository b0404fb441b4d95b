import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Every temporary directory a test makes (os.tmpdir() follows TMPDIR) lands in
 * one directory per run, removed when the run ends, so tests need no cleanup of
 * their own to leave /tmp as they found it.
 */
export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'brine-test-run-'));
  // Traversable like /tmp itself (each test's own directory stays 0700): a test running a CLI as another user needs the path.
  chmodSync(dir, 0o755);
  process.env['TMPDIR'] = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}

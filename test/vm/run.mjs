#!/usr/bin/env node
// @ts-check
// The one command: run a shell command in a fresh VM and exit with its status.
// Usage is printed by --help; docs/VM-HARNESS.md has the details.
import { parseArgs } from 'node:util';
import { prepareVm, runInVm, VmError, VmTimeoutError } from './harness.mjs';

const USAGE = `usage: node test/vm/run.mjs [options] -- <shell command>
  --disk IMG             attach a raw image (repeatable; /dev/vda, /dev/vdb, … in order)
  --systemd              boot systemd as PID 1; the command runs from a unit after multi-user.target
  --job-after TARGET     with --systemd, run the command after this target instead (e.g. basic.target)
  --setup SCRIPT         shell script run before the command (with --systemd: before systemd starts)
  --forward G=H          guest 10.0.2.100:G reaches host 127.0.0.1:H (repeatable; G may be ADDR:PORT)
  --env NAME=VALUE       export to the command (repeatable)
  --share DIR            mount host DIR read-write at the same path in the guest
  --timeout S            limit for the whole run, boot included (default 300)
  --console              print the guest console to stderr afterwards
  --provision            only install packages and build the kernel and initramfs, then exit
Exit status: the command's; 124 when it timed out; 125 when the harness failed.`;

/** @param {string} spec @returns {import('./harness.mjs').Forward} */
function parseForward(spec) {
  const m = /^(?:(10\.0\.2\.\d+):)?(\d+)=(\d+)$/.exec(spec);
  if (!m) throw new Error(`--forward wants GUESTPORT=HOSTPORT or ADDR:GUESTPORT=HOSTPORT, got ${spec}`);
  return { ...(m[1] ? { guestHost: m[1] } : {}), guestPort: Number(m[2]), hostPort: Number(m[3]) };
}

/** @param {string} spec @returns {[string, string]} */
function parseEnv(spec) {
  const at = spec.indexOf('=');
  if (at < 1) throw new Error(`--env wants NAME=VALUE, got ${spec}`);
  return [spec.slice(0, at), spec.slice(at + 1)];
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      disk: { type: 'string', multiple: true, default: [] },
      systemd: { type: 'boolean', default: false },
      'job-after': { type: 'string' },
      setup: { type: 'string' },
      forward: { type: 'string', multiple: true, default: [] },
      env: { type: 'string', multiple: true, default: [] },
      share: { type: 'string' },
      timeout: { type: 'string', default: '300' },
      console: { type: 'boolean', default: false },
      provision: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.provision) {
    console.log(JSON.stringify(await prepareVm(), null, 2));
    return 0;
  }
  const timeoutS = Number(values.timeout);
  if (positionals.length === 0 || !(timeoutS > 0)) {
    console.error(USAGE);
    return 2;
  }
  const result = await runInVm({
    command: positionals.join(' '),
    disks: values.disk,
    systemd: values.systemd,
    jobAfter: values['job-after'],
    ...(values.setup !== undefined ? { setup: values.setup } : {}),
    forwards: values.forward.map(parseForward),
    env: Object.fromEntries(values.env.map(parseEnv)),
    ...(values.share !== undefined ? { shareDir: values.share } : {}),
    timeoutMs: Math.round(timeoutS * 1000),
  });
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  if (values.console) process.stderr.write(`--- guest console ---\n${result.consoleLog}`);
  process.stderr.write(
    `brine-vm: exit ${result.exitCode}; boot ${(result.bootMs / 1000).toFixed(1)} s, command started at ${(result.startMs / 1000).toFixed(1)} s, total ${(result.durationMs / 1000).toFixed(1)} s\n`,
  );
  return result.exitCode;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof VmError ? `brine-vm: ${error.name}: ${error.message}` : error);
    process.exit(error instanceof VmTimeoutError ? 124 : 125);
  },
);

#!/usr/bin/env node
// `npm run package`: builds brine-master and brine-minion as Debian packages (dpkg-deb) and as
// .tar.gz of the same tree, into dist/release/. Each is self-contained: a private Node runtime
// under /usr/lib/brine/<name>/, the esbuild bundle of that CLI only, zeromq with just the
// linux-x64 glibc build of its native addon, pino-pretty and (master) etcd3 with its .proto
// files and libsodium-wrappers, each bundled into one file.
//
// Why a private node binary rather than a Node single-executable application: Node 20's SEA
// runs one CommonJS script, so the code-split ESM bundle (whose lazy chunks keep the minion's
// start fast) would have to be flattened, and the zeromq addon extracted to disk at every
// start. The node binary beside the unchanged bundle starts exactly as the tested build does.
// The runtime is the node running this script (the build host's, Node >= 20), stripped.
//
// Options: --version V (default: package.json's), --out DIR, --only master|minion, --fast (gzip -1
// instead of xz: for tests, which check what is installed, not how small the file is).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { bundleCli, EXTERNAL, packageVersion, ROOT } from './bundle.mjs';

const { values: opts } = parseArgs({
  options: {
    version: { type: 'string', default: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version },
    out: { type: 'string', default: join(ROOT, 'dist', 'release') },
    only: { type: 'string' },
    fast: { type: 'boolean', default: false },
  },
});
const VERSION = opts.version;
if (!/^[0-9][A-Za-z0-9.+~-]*$/.test(VERSION)) fail(`--version ${JSON.stringify(VERSION)} is not a Debian version`);

/** What each package holds beyond its CLI. */
const PACKAGES = {
  master: {
    summary: 'Brine master: serves each minion its own pillar and LUKS key',
    depends: 'adduser, libc6 (>= 2.28), libstdc++6',
    // The TPM2 libraries systemd-creds loads to seal the master's keys (`master keys seal`).
    recommends: 'libjemalloc2, libtss2-esys-3.0.2-0, libtss2-rc0, libtss2-mu0, libtss2-tcti-device0',
    docs: ['README.md', 'docs/INSTALL.md', 'docs/OPERATIONS.md', 'docs/SECURITY.md', 'docs/STATES.md', 'docs/PROTOCOL.md', 'docs/HA.md'],
  },
  minion: {
    summary: 'Brine minion: unlocks encrypted volumes at boot with a key only the master holds',
    // No perl: the command spawner (packages/states/src/host/spawner.ts) runs on perl-base,
    // which is Essential (always installed, never a Depends); without perl, commands spawn directly.
    depends: 'libc6 (>= 2.28), libstdc++6',
    // With the TPM2 libraries, systemd-creds seals the minion's key to its machine (key_protection).
    recommends: 'cryptsetup-bin, lvm2, libtss2-esys-3.0.2-0, libtss2-rc0, libtss2-mu0, libtss2-tcti-device0',
    docs: ['README.md', 'docs/INSTALL.md', 'docs/OPERATIONS.md', 'docs/SECURITY.md', 'docs/STATES.md'],
  },
};

function fail(message) {
  process.stderr.write(`package: ${message}\n`);
  process.exit(2);
}

function checkHost() {
  if (process.platform !== 'linux' || process.arch !== 'x64')
    fail(`packages are built for linux-x64 with the node running this script; this is ${process.platform}-${process.arch}`);
  if (!process.report.getReport().header.glibcVersionRuntime) fail('this node is not a glibc build; the packages target Debian (glibc)');
  if (Number(process.versions.node.split('.')[0]) < 20) fail(`Node ${process.versions.node} is too old to ship: Brine needs Node >= 20`);
  for (const tool of ['dpkg-deb', 'tar']) {
    if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).status !== 0) fail(`${tool} is missing (Debian: apt-get install dpkg tar)`);
  }
}

/** The native addon zeromq loads on this host: the linux-x64 glibc build, and only it. */
function zeromqAddon(requireFrom) {
  requireFrom('zeromq');
  const addons = Object.keys(requireFrom.cache).filter((f) => f.endsWith('.node') && f.includes('zeromq'));
  if (addons.length !== 1 || !/linux[/\\]x64[/\\]node[/\\]glibc-/.test(addons[0]))
    fail(`expected zeromq's linux-x64 glibc addon, loaded ${addons.join(', ') || 'none'}`);
  return addons[0];
}

/** One CommonJS file for a dependency the bundle loads at run time; returns the package dirs it took code from. */
async function bundleDependency(entry, outfile, plugins = []) {
  const result = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    metafile: true,
    plugins,
    logLevel: 'error',
  });
  return Object.keys(result.metafile.inputs)
    .map(packageDirOf)
    .filter((d) => d !== undefined);
}

/** zeromq's loader searches a directory of prebuilt addons; the package has one, beside the code. */
const ADDON_BESIDE = {
  name: 'brine-zeromq-addon',
  setup(b) {
    b.onResolve({ filter: /[/\\]load-addon(\.js)?$/ }, (args) => ({ path: args.path, namespace: 'brine-addon' }));
    b.onLoad({ filter: /.*/, namespace: 'brine-addon' }, () => ({
      contents: 'Object.defineProperty(exports, "__esModule", { value: true }); exports.default = require("./addon.node");',
      loader: 'js',
    }));
    b.onResolve({ filter: /\.node$/ }, (args) => ({ path: args.path, external: true }));
  },
};

function packageDirOf(input) {
  const file = input.replace(/^[a-z-]+:/, '');
  const i = file.lastIndexOf('node_modules/');
  if (i < 0) return undefined;
  const rest = file.slice(i + 'node_modules/'.length).split('/');
  return join(ROOT, file.slice(0, i), 'node_modules', ...(rest[0].startsWith('@') ? rest.slice(0, 2) : rest.slice(0, 1)));
}

/** Licence texts of everything shipped besides Brine's own code. */
function thirdPartyNotice(packageDirs, nodeLicense) {
  const parts = [`Node.js ${process.version} (usr/lib/brine/*/node)\n\n${nodeLicense}`];
  for (const dir of [...new Set(packageDirs)].sort()) {
    const { name, version, license } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const texts = readdirSync(dir)
      .filter((f) => /^(licen[cs]e|copying|notice)/i.test(f))
      .map((f) => readFileSync(join(dir, f), 'utf8').trim());
    parts.push(`${name} ${version} (${license ?? 'see below'})\n\n${texts.join('\n\n') || `License: ${license}`}`);
  }
  return `${parts.join(`\n\n${'-'.repeat(72)}\n\n`)}\n`;
}

function nodeLicenseText() {
  const prefix = dirname(dirname(process.execPath));
  for (const candidate of [join(prefix, 'share', 'doc', 'nodejs', 'LICENSE'), join(prefix, 'LICENSE'), '/usr/share/doc/nodejs/LICENSE']) {
    if (existsSync(candidate)) return readFileSync(candidate, 'utf8').trim();
  }
  fail(`cannot find the licence of ${process.execPath} (looked under ${prefix}); it must ship with the runtime`);
}

/** The node binary, without its debug symbols (99 MB -> 86 MB) when `strip` is there. */
function copyRuntime(to) {
  mkdirSync(dirname(to), { recursive: true });
  const stripped = spawnSync('strip', ['--strip-all', '-o', to, process.execPath], { stdio: 'ignore' });
  if (stripped.status !== 0) copyFileSync(process.execPath, to);
  chmodSync(to, 0o755);
}

function write(file, text, mode = 0o644) {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  chmodSync(file, mode);
}

function filesUnder(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

async function stage(name, root) {
  const spec = PACKAGES[name];
  const pkg = join(ROOT, 'packages', name);
  const lib = join(root, 'usr', 'lib', 'brine', name);
  const requireFrom = createRequire(join(pkg, 'package.json'));

  copyRuntime(join(lib, 'node'));
  write(
    join(lib, 'package.json'),
    `${JSON.stringify({ name: `brine-${name}`, version: VERSION, private: true, type: 'module' }, null, 2)}\n`,
  );
  const entry = readFileSync(join(pkg, 'bin', `${name}.js`), 'utf8').replace(/^#!.*\n/, `#!/usr/lib/brine/${name}/node\n`);
  write(join(lib, 'bin', `${name}.js`), entry, 0o755);
  await bundleCli(name, join(lib, 'dist', 'bundle'), VERSION, { sourcemap: false });

  const shipped = [];
  const zmqDir = join(lib, 'node_modules', 'zeromq');
  shipped.push(...(await bundleDependency(requireFrom.resolve('zeromq'), join(zmqDir, 'index.js'), [ADDON_BESIDE])));
  copyFileSync(zeromqAddon(requireFrom), join(zmqDir, 'addon.node'));
  write(join(zmqDir, 'package.json'), '{ "name": "zeromq", "main": "index.js" }\n');
  // Resolved from @brine/common, whose logger loads it on a terminal.
  const common = createRequire(requireFrom.resolve('@brine/common'));
  const prettyDir = join(lib, 'node_modules', 'pino-pretty');
  shipped.push(...(await bundleDependency(common.resolve('pino-pretty'), join(prettyDir, 'index.js'))));
  write(join(prettyDir, 'package.json'), '{ "name": "pino-pretty", "main": "index.js" }\n');
  if (name === 'master') {
    // A cluster master's etcd client: one file in lib/, which reads ../proto/*.proto at run time.
    const etcdDir = join(lib, 'node_modules', 'etcd3');
    const etcdEntry = requireFrom.resolve('etcd3');
    shipped.push(...(await bundleDependency(etcdEntry, join(etcdDir, 'lib', 'index.js'))));
    cpSync(join(dirname(requireFrom.resolve('etcd3/package.json')), 'proto'), join(etcdDir, 'proto'), { recursive: true });
    write(join(etcdDir, 'package.json'), '{ "name": "etcd3", "main": "lib/index.js" }\n');
    // libsodium (pillar-crypto.ts requires its CommonJS build at run time): the wrappers and the
    // WebAssembly module they load, in one CommonJS file.
    const sodiumDir = join(lib, 'node_modules', 'libsodium-wrappers');
    shipped.push(...(await bundleDependency(requireFrom.resolve('libsodium-wrappers'), join(sodiumDir, 'index.js'))));
    write(join(sodiumDir, 'package.json'), '{ "name": "libsodium-wrappers", "main": "index.js" }\n');
  }
  // The application bundle's own dependencies (commander, yaml, pino, tweetnacl, ...).
  const app = await build({
    entryPoints: [join(pkg, 'dist', 'cli', 'main.js')],
    bundle: true,
    write: false,
    outdir: '/nonexistent',
    splitting: true,
    format: 'esm',
    platform: 'node',
    external: EXTERNAL,
    metafile: true,
    logLevel: 'error',
  });
  shipped.push(
    ...Object.keys(app.metafile.inputs)
      .map(packageDirOf)
      .filter((d) => d !== undefined),
  );

  for (const alias of [name, `brine-${name}`]) {
    mkdirSync(join(root, 'usr', 'bin'), { recursive: true });
    symlinkSync(`../lib/brine/${name}/bin/${name}.js`, join(root, 'usr', 'bin', alias));
  }
  write(join(root, 'etc', 'brine', name), readFileSync(join(pkg, 'etc', name)));
  write(join(root, 'lib', 'systemd', 'system', `brine-${name}.service`), readFileSync(join(pkg, 'systemd', `brine-${name}.service`)));
  const doc = join(root, 'usr', 'share', 'doc', `brine-${name}`);
  for (const file of spec.docs) write(join(doc, file.replace(/^docs\//, '')), readFileSync(join(ROOT, file)));
  write(join(doc, 'THIRD-PARTY'), thirdPartyNotice(shipped, nodeLicenseText()));

  const installedKiB = filesUnder(root).reduce((sum, f) => sum + Math.ceil(statSync(f).size / 1024), 0);
  const debian = join(root, 'DEBIAN');
  write(
    join(debian, 'control'),
    [
      `Package: brine-${name}`,
      `Version: ${VERSION}`,
      'Architecture: amd64',
      `Maintainer: ${process.env.BRINE_MAINTAINER ?? 'Brine maintainers <maintainers@brine.invalid>'}`,
      `Installed-Size: ${installedKiB}`,
      `Depends: ${spec.depends}`,
      `Recommends: ${spec.recommends}`,
      'Section: admin',
      'Priority: optional',
      `Description: ${spec.summary}`,
      ' Part of Brine, a Salt-like master/minion orchestrator whose minions unlock',
      ' encrypted disks at boot with no key stored on the server. Ships its own',
      ` Node.js runtime (${process.version}) under /usr/lib/brine/${name}.`,
      '',
    ].join('\n'),
  );
  write(join(debian, 'conffiles'), `/etc/brine/${name}\n`);
  for (const script of ['postinst', 'prerm', 'postrm']) write(join(debian, script), readFileSync(join(pkg, 'debian', script)), 0o755);
  const sums = filesUnder(root)
    .filter((f) => !f.startsWith(debian))
    .map((f) => `${createHash('md5').update(readFileSync(f)).digest('hex')}  ${relative(root, f)}`);
  write(join(debian, 'md5sums'), `${sums.join('\n')}\n`);
  return installedKiB;
}

checkHost();
const names = opts.only ? [opts.only] : Object.keys(PACKAGES);
for (const n of names) if (!(n in PACKAGES)) fail(`--only ${n}: expected master or minion`);
if (packageVersion('master') !== packageVersion('minion')) fail('packages/master and packages/minion disagree on the version');
const out = opts.out;
mkdirSync(out, { recursive: true });
const report = [];
for (const name of names) {
  const root = join(out, 'stage', `brine-${name}`);
  rmSync(root, { recursive: true, force: true });
  const installedKiB = await stage(name, root);
  const deb = join(out, `brine-${name}_${VERSION}_amd64.deb`);
  const tarball = join(out, `brine-${name}_${VERSION}_amd64.tar.gz`);
  execFileSync('dpkg-deb', ['--root-owner-group', ...(opts.fast ? ['-Zgzip', '-z1'] : ['-Zxz']), '--build', root, deb], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  // The same tree for hosts without dpkg, to unpack at /; the maintainer scripts ride along for reference.
  cpSync(join(root, 'DEBIAN'), join(root, 'usr', 'share', 'doc', `brine-${name}`, 'maintainer-scripts'), { recursive: true });
  execFileSync('tar', [
    '--owner=0',
    '--group=0',
    '--sort=name',
    `--use-compress-program=gzip -${opts.fast ? 1 : 9}`,
    '-cf',
    tarball,
    '-C',
    root,
    'usr',
    'etc',
    'lib',
  ]);
  rmSync(root, { recursive: true, force: true });
  report.push({
    package: `brine-${name}`,
    version: VERSION,
    deb,
    deb_bytes: statSync(deb).size,
    tar_gz_bytes: statSync(tarball).size,
    installed_kib: installedKiB,
  });
}
rmSync(join(out, 'stage'), { recursive: true, force: true });
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
for (const r of report) {
  process.stdout.write(
    `${r.package.padEnd(13)} ${r.version}  .deb ${(r.deb_bytes / 1e6).toFixed(1)} MB  .tar.gz ${(r.tar_gz_bytes / 1e6).toFixed(1)} MB  installed ${(r.installed_kib / 1024).toFixed(1)} MiB\n`,
  );
}

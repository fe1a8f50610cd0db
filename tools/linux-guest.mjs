#!/usr/bin/env node
// Fetches Debian's i686 kernel and busybox-static with `apt-get download` (multi-arch i386) and
// builds an initramfs for them: a real-world guest for `ringvisor run --kernel ... --initrd ...`.
//
//   node tools/linux-guest.mjs [--out DIR] [--quiet]     prints the paths of bzImage and initramfs
//
// Everything lands in DIR (default .cache/linux in the repo) and is reused on the next run.
// The init mounts proc/sys/devtmpfs, loads the virtio modules from the same kernel package
// (passing the kernel command line's virtio_mmio.device= entries to virtio_mmio), prints the
// marker RINGVISOR-INIT-OK and starts a shell on the console; with `rv.poweroff` on the command
// line it powers off right after the marker (used by the boot benchmark).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outDir = resolve(args.includes('--out') ? args[args.indexOf('--out') + 1] : join(repo, '.cache', 'linux'));
const quiet = args.includes('--quiet');
const say = (msg) => { if (!quiet) process.stderr.write(`[linux-guest] ${msg}\n`); };

/** Modules the init loads, in dependency order after resolution. */
const WANTED_MODULES = ['virtio_mmio', 'virtio_blk', 'virtio_console', 'virtio_rng'];
const INIT_MARKER = 'RINGVISOR-INIT-OK';

function fail(msg) {
  process.stderr.write(`[linux-guest] error: ${msg}\n`);
  process.exit(1);
}

function sh(cmd, argv, opts = {}) {
  say(`${cmd} ${argv.join(' ')}`);
  const r = spawnSync(cmd, argv, { encoding: 'utf8', ...opts });
  if (r.error) fail(`${cmd}: ${r.error.message}`);
  return r;
}

function ensureApt() {
  if (spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0) {
    fail('apt-get is not available: a Debian-based host is needed to fetch the kernel (or pass --out to a directory that already holds bzImage and initramfs.cpio.gz)');
  }
  const foreign = execFileSync('dpkg', ['--print-foreign-architectures'], { encoding: 'utf8' });
  if (!foreign.split('\n').includes('i386')) {
    if (process.getuid?.() !== 0) fail('the i386 architecture is not enabled and this is not root: run `dpkg --add-architecture i386 && apt-get update` as root');
    sh('dpkg', ['--add-architecture', 'i386']);
    sh('apt-get', ['update', '-qq']);
  }
}

/** The versioned kernel package behind Debian's linux-image-686 metapackage. */
function kernelPackage() {
  let r = sh('apt-cache', ['depends', 'linux-image-686:i386']);
  let m = /Depends: (linux-image-[\w.-]+-686)/.exec(r.stdout);
  if (!m) {
    // A stale or missing package list: refresh once (partial mirror failures are tolerated).
    sh('apt-get', ['update', '-qq']);
    r = sh('apt-cache', ['depends', 'linux-image-686:i386']);
    m = /Depends: (linux-image-[\w.-]+-686)/.exec(r.stdout);
  }
  if (!m) fail(`cannot find Debian's i686 kernel package (apt-cache depends linux-image-686:i386 said: ${r.stdout.trim() || r.stderr.trim()})`);
  return m[1];
}

function download(pkg, dir) {
  const have = readdirSync(dir).find((f) => f.startsWith(pkg.split(':')[0] + '_') && f.endsWith('.deb'));
  if (have) return join(dir, have);
  const r = sh('apt-get', ['download', '-q', pkg], { cwd: dir });
  if (r.status !== 0) fail(`apt-get download ${pkg} failed: ${r.stderr.trim().split('\n').pop()}`);
  const got = readdirSync(dir).find((f) => f.startsWith(pkg.split(':')[0] + '_') && f.endsWith('.deb'));
  if (!got) fail(`apt-get download ${pkg} produced no .deb`);
  return join(dir, got);
}

function extract(deb, into) {
  if (existsSync(into)) return into;
  mkdirSync(into + '.tmp', { recursive: true });
  sh('dpkg-deb', ['-x', deb, into + '.tmp']);
  renameSync(into + '.tmp', into);
  return into;
}

function walk(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out); else out.push(p);
  }
  return out;
}

/** Module name → file, and each module's dependencies from its .modinfo ("depends=a,b"). */
function moduleIndex(modulesRoot) {
  const byName = new Map();
  for (const file of walk(modulesRoot)) {
    if (!file.endsWith('.ko')) continue;
    const name = file.slice(file.lastIndexOf('/') + 1, -3).replace(/-/g, '_');
    byName.set(name, file);
  }
  const depsOf = (name) => {
    const bytes = readFileSync(byName.get(name));
    const at = bytes.indexOf('depends=');
    if (at < 0) return [];
    const end = bytes.indexOf(0, at);
    const list = bytes.subarray(at + 8, end).toString('latin1');
    return list ? list.split(',').map((d) => d.replace(/-/g, '_')) : [];
  };
  return { byName, depsOf };
}

function resolveModules(index) {
  const order = [];
  const visit = (name, chain) => {
    if (order.includes(name)) return;
    if (!index.byName.has(name)) fail(`kernel module ${name} not found in the kernel package`);
    if (chain.includes(name)) fail(`module dependency cycle: ${[...chain, name].join(' -> ')}`);
    for (const dep of index.depsOf(name)) visit(dep, [...chain, name]);
    order.push(name);
  };
  for (const m of WANTED_MODULES) visit(m, []);
  // virtio_rng registers with the hw_random core, which Debian builds as a module too.
  if (index.byName.has('rng_core') && !order.includes('rng_core')) order.splice(order.indexOf('virtio_rng'), 0, 'rng_core');
  return order;
}

function initScript(modules) {
  const loads = modules
    .map((m) => (m === 'virtio_mmio' ? `insmod /lib/modules/${m}.ko $mmio` : `insmod /lib/modules/${m}.ko`))
    .join('\n');
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mkdir -p /proc /sys /dev /tmp /mnt /sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# busybox insmod does not read module options from the kernel command line: pass them on.
mmio=""
for w in $(cat /proc/cmdline); do
  case $w in virtio_mmio.device=*) mmio="$mmio device=\${w#virtio_mmio.device=}" ;; esac
done
${loads}
echo ${INIT_MARKER}
case " $(cat /proc/cmdline) " in
  *" rv.poweroff "*) poweroff -f ;;
esac
exec setsid cttyhack sh
`;
}

/** A cpio "newc" archive, the format the kernel unpacks into its initial root file system. */
function cpio(entries) {
  const chunks = [];
  let ino = 1;
  const pad4 = (n) => (4 - (n % 4)) % 4;
  const hex = (n) => n.toString(16).padStart(8, '0');
  const push = ({ name, mode, data = Buffer.alloc(0), rdevMajor = 0, rdevMinor = 0 }) => {
    const nameBytes = Buffer.from(name + '\0');
    const fields = [ino++, mode, 0, 0, 1, 0, data.length, 0, 0, rdevMajor, rdevMinor, nameBytes.length, 0];
    const header = Buffer.from('070701' + fields.map(hex).join(''), 'ascii');
    chunks.push(header, nameBytes, Buffer.alloc(pad4(header.length + nameBytes.length)), data, Buffer.alloc(pad4(data.length)));
  };
  for (const e of entries) push(e);
  push({ name: 'TRAILER!!!', mode: 0 });
  return Buffer.concat(chunks);
}

function buildInitramfs(busybox, modulesRoot, target) {
  const index = moduleIndex(modulesRoot);
  const modules = resolveModules(index);
  say(`initramfs modules: ${modules.join(' ')}`);
  const dir = (name) => ({ name, mode: 0o040755 });
  const entries = [
    dir('bin'), dir('dev'), dir('proc'), dir('sys'), dir('lib'), dir('lib/modules'),
    { name: 'dev/console', mode: 0o020600, rdevMajor: 5, rdevMinor: 1 },
    { name: 'bin/busybox', mode: 0o100755, data: readFileSync(busybox) },
    { name: 'init', mode: 0o100755, data: Buffer.from(initScript(modules)) },
    ...modules.map((m) => ({ name: `lib/modules/${m}.ko`, mode: 0o100644, data: readFileSync(index.byName.get(m)) })),
  ];
  writeFileSync(target + '.tmp', gzipSync(cpio(entries), { level: 9 }));
  renameSync(target + '.tmp', target);
}

function main() {
  mkdirSync(outDir, { recursive: true });
  const bzImage = join(outDir, 'bzImage');
  const initrd = join(outDir, 'initramfs.cpio.gz');
  const manifestPath = join(outDir, 'manifest.json');
  if (existsSync(bzImage) && existsSync(initrd) && existsSync(manifestPath)) {
    say(`cached in ${outDir}`);
  } else {
    ensureApt();
    const debs = join(outDir, 'debs');
    mkdirSync(debs, { recursive: true });
    const kpkg = kernelPackage();
    const kernelDeb = download(`${kpkg}:i386`, debs);
    const busyboxDeb = download('busybox-static:i386', debs);
    const kroot = extract(kernelDeb, join(outDir, 'kernel'));
    const broot = extract(busyboxDeb, join(outDir, 'busybox'));
    const vmlinuz = readdirSync(join(kroot, 'boot')).find((f) => f.startsWith('vmlinuz-'));
    if (!vmlinuz) fail(`no vmlinuz in ${kernelDeb}`);
    writeFileSync(bzImage, readFileSync(join(kroot, 'boot', vmlinuz)));
    const release = vmlinuz.slice('vmlinuz-'.length);
    buildInitramfs(join(broot, 'bin', 'busybox'), join(kroot, 'lib', 'modules', release), initrd);
    writeFileSync(manifestPath, JSON.stringify({ kernelPackage: kpkg, release, marker: INIT_MARKER }, null, 2) + '\n');
  }
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  say(`kernel ${manifest.release}: ${bzImage} (${statSync(bzImage).size} bytes), ${initrd} (${statSync(initrd).size} bytes)`);
  // The kernel package's System.map, for profiling (Debian's is a placeholder naming the -dbg package).
  const systemMap = join(outDir, 'kernel', 'boot', `System.map-${manifest.release}`);
  process.stdout.write(JSON.stringify({ bzImage, initrd, ...manifest, ...(existsSync(systemMap) ? { systemMap } : {}) }) + '\n');
}

main();

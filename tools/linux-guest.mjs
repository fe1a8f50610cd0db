#!/usr/bin/env node
// Fetches Debian's kernel and busybox-static with `apt-get download` and builds an initramfs for
// them: a real-world guest for `ringvisor run --kernel ... --initrd ...`. `--arch i386` (default):
// linux-image-686 (multi-arch i386); `--arch amd64`: linux-image-amd64, for the 'x86-64' CPU model.
//
//   node tools/linux-guest.mjs [--arch i386|amd64] [--out DIR] [--quiet]
//                                        prints the paths of bzImage, vmlinux and initramfs
//
// vmlinux is the same kernel uncompressed (an ELF of the architecture, for `--kernel` without the
// in-guest decompressor): the bzImage's payload (setup header payload_offset/payload_length,
// protocol 2.08+) decompressed by the host's xz (or by Node's zlib for a gzip payload).
//
// Everything lands in DIR (default .cache/linux for i386, .cache/linux-amd64 for amd64, in the
// repo) and is reused on the next run; a
// change to the initramfs layout bumps INITRAMFS_VERSION, which rebuilds only the initramfs.
// PID 1 is busybox init: its sysinit script mounts proc/sys/devtmpfs, loads the virtio modules
// from the same kernel package (the devices come from the machine's ACPI tables) and, in a Xen
// domain (amd64: `--vmm para`), xen-blkfront for the xenbus disk (/dev/xvda), prints the marker
// RINGVISOR-INIT-OK, and init keeps a shell on the console; `poweroff` in that shell goes through
// init (processes stopped, file systems synced) to the kernel's ACPI power-off. With `rv.poweroff`
// on the command line it powers off right after the marker (used by the boot benchmark).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const option = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);

/** Per Debian architecture: the kernel metapackage, its flavour suffix and the default cache. */
const ARCHES = {
  i386: { metapackage: 'linux-image-686', flavour: '686', cache: 'linux' },
  amd64: { metapackage: 'linux-image-amd64', flavour: 'amd64', cache: 'linux-amd64' },
};
const arch = option('--arch') ?? 'i386';
if (!(arch in ARCHES)) {
  process.stderr.write(`[linux-guest] error: --arch ${arch}: known are ${Object.keys(ARCHES).join(', ')}\n`);
  process.exit(1);
}
const { metapackage, flavour, cache } = ARCHES[arch];
const outDir = resolve(option('--out') ?? join(repo, '.cache', cache));
const quiet = args.includes('--quiet');
const say = (msg) => { if (!quiet) process.stderr.write(`[linux-guest] ${msg}\n`); };

/** Modules the init loads, in dependency order after resolution. */
const WANTED_MODULES = ['virtio_mmio', 'virtio_blk', 'virtio_console', 'virtio_rng'];
/** Modules loaded only in a Xen domain (xenbus registers /sys/bus/xen there alone), per architecture. */
const XEN_MODULES = { i386: [], amd64: ['xen_blkfront'] }[arch];
const INIT_MARKER = 'RINGVISOR-INIT-OK';
/**
 * Bump when the initramfs contents change, so cached copies are rebuilt. 2: busybox init,
 * ACPI-discovered virtio; 3: xen-blkfront in Xen domains; 4: /sbin/poweroff for the kernel's orderly_poweroff; 5: /bin/hello32.
 */
const INITRAMFS_VERSION = 5;

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
  const native = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
  const foreign = execFileSync('dpkg', ['--print-foreign-architectures'], { encoding: 'utf8' });
  if (arch !== native && !foreign.split('\n').includes(arch)) {
    if (process.getuid?.() !== 0) fail(`the ${arch} architecture is not enabled and this is not root: run \`dpkg --add-architecture ${arch} && apt-get update\` as root`);
    sh('dpkg', ['--add-architecture', arch]);
    sh('apt-get', ['update', '-qq']);
  }
}

/** The versioned kernel package behind Debian's kernel metapackage for the architecture. */
function kernelPackage() {
  const versioned = new RegExp(`Depends: (linux-image-[\\w.-]+-${flavour})`);
  let r = sh('apt-cache', ['depends', `${metapackage}:${arch}`]);
  let m = versioned.exec(r.stdout);
  if (!m) {
    // A stale or missing package list: refresh once (partial mirror failures are tolerated).
    sh('apt-get', ['update', '-qq']);
    r = sh('apt-cache', ['depends', `${metapackage}:${arch}`]);
    m = versioned.exec(r.stdout);
  }
  if (!m) fail(`cannot find Debian's ${arch} kernel package (apt-cache depends ${metapackage}:${arch} said: ${r.stdout.trim() || r.stderr.trim()})`);
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

function resolveModules(index, wanted) {
  const order = [];
  const visit = (name, chain) => {
    if (order.includes(name)) return;
    if (!index.byName.has(name)) fail(`kernel module ${name} not found in the kernel package`);
    if (chain.includes(name)) fail(`module dependency cycle: ${[...chain, name].join(' -> ')}`);
    for (const dep of index.depsOf(name)) visit(dep, [...chain, name]);
    order.push(name);
  };
  for (const m of wanted) visit(m, []);
  // virtio_rng registers with the hw_random core, which Debian builds as a module too.
  if (wanted.includes('virtio_rng') && index.byName.has('rng_core') && !order.includes('rng_core')) order.splice(order.indexOf('virtio_rng'), 0, 'rng_core');
  return order;
}

/**
 * /bin/hello32: a static i386 ELF (built here byte by byte, no toolchain) that writes a line with
 * int $0x80 and exits 0 — a 32-bit process for a 64-bit kernel's compatibility mode (IA32 emulation).
 */
function hello32() {
  const base = 0x08048000;
  const headers = 52 + 2 * 32;
  const text = Buffer.from('hello from a 32-bit process\n');
  const code = (message) => {
    const b = Buffer.alloc(34);
    let at = 0;
    const op = (byte, imm) => { b[at++] = byte; b.writeUInt32LE(imm, at); at += 4; };
    op(0xb8, 4); op(0xbb, 1); op(0xb9, message); op(0xba, text.length); // write(1, message, length)
    b[at++] = 0xcd; b[at++] = 0x80;
    op(0xb8, 1); b[at++] = 0x31; b[at++] = 0xdb; // exit(0)
    b[at++] = 0xcd; b[at++] = 0x80;
    return b.subarray(0, at);
  };
  const program = code(base + headers + code(0).length);
  const size = headers + program.length + text.length;
  const elf = Buffer.alloc(size);
  elf.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1], 0); // ELFCLASS32, little-endian, version 1
  elf.writeUInt16LE(2, 16); // ET_EXEC
  elf.writeUInt16LE(3, 18); // EM_386
  elf.writeUInt32LE(1, 20);
  elf.writeUInt32LE(base + headers, 24); // e_entry
  elf.writeUInt32LE(52, 28); // e_phoff
  elf.writeUInt16LE(52, 40); // e_ehsize
  elf.writeUInt16LE(32, 42); // e_phentsize
  elf.writeUInt16LE(2, 44); // e_phnum
  // PT_LOAD of the whole file, read and execute; PT_GNU_STACK, read and write (no executable stack).
  [[1, 0, base, base, size, size, 5, 0x1000], [0x6474e551, 0, 0, 0, 0, 0, 6, 16]]
    .forEach((fields, i) => fields.forEach((v, j) => elf.writeUInt32LE(v, 52 + i * 32 + j * 4)));
  elf.set(program, headers);
  elf.set(text, headers + program.length);
  return elf;
}

/** The sysinit script busybox init runs first (/etc/init.d/rcS). */
function rcScript(modules, xenModules) {
  const loads = modules.map((m) => `insmod /lib/modules/${m}.ko`).join('\n');
  const xenLoads = xenModules.map((m) => `[ -d /sys/bus/xen ] && insmod /lib/modules/${m}.ko`).join('\n');
  return `#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mkdir -p /proc /sys /dev /tmp /mnt /sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
${loads}
${xenLoads}
echo ${INIT_MARKER}
case " $(cat /proc/cmdline) " in
  *" rv.poweroff "*) poweroff -f ;;
esac
`;
}

/** busybox init's table: the script above, then a shell on the console for as long as it runs. */
const INITTAB = `::sysinit:/etc/init.d/rcS
::respawn:/bin/cttyhack /bin/sh
::shutdown:/bin/sync
`;

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
  const modules = resolveModules(index, WANTED_MODULES);
  const xenModules = resolveModules(index, XEN_MODULES).filter((m) => !modules.includes(m));
  say(`initramfs modules: ${modules.join(' ')}${xenModules.length > 0 ? `; in a Xen domain: ${xenModules.join(' ')}` : ''}`);
  const dir = (name) => ({ name, mode: 0o040755 });
  // init runs sysinit through /bin/sh before rcS installs the other applet links.
  const link = (name, target) => ({ name, mode: 0o120777, data: Buffer.from(target) });
  const entries = [
    dir('bin'), dir('dev'), dir('proc'), dir('sys'), dir('lib'), dir('lib/modules'), dir('etc'), dir('etc/init.d'),
    { name: 'dev/console', mode: 0o020600, rdevMajor: 5, rdevMinor: 1 },
    { name: 'bin/busybox', mode: 0o100755, data: readFileSync(busybox) },
    { name: 'bin/hello32', mode: 0o100755, data: hello32() },
    link('bin/sh', 'busybox'),
    link('init', 'bin/busybox'),
    // The kernel's own power-off helper (orderly_poweroff: a Xen domain's control/shutdown, ACPI's power button).
    dir('sbin'), link('sbin/poweroff', '../bin/busybox'),
    { name: 'etc/inittab', mode: 0o100644, data: Buffer.from(INITTAB) },
    { name: 'etc/init.d/rcS', mode: 0o100755, data: Buffer.from(rcScript(modules, xenModules)) },
    ...[...modules, ...xenModules].map((m) => ({ name: `lib/modules/${m}.ko`, mode: 0o100644, data: readFileSync(index.byName.get(m)) })),
  ];
  writeFileSync(target + '.tmp', gzipSync(cpio(entries), { level: 9 }));
  renameSync(target + '.tmp', target);
}

/** Why no vmlinux could be made; the bzImage and initramfs are still good, so this only warns. */
class NoVmlinux extends Error {}
const cannot = (msg) => { throw new NoVmlinux(msg); };

/** Setup header offsets (Documentation/arch/x86/boot.rst). */
const HDR_SETUP_SECTS = 0x1f1;
const HDR_MAGIC = 0x202;
const HDR_VERSION = 0x206;
const HDR_PAYLOAD_OFFSET = 0x248;
const HDR_PAYLOAD_LENGTH = 0x24c;

/** The compressed kernel inside a bzImage: payload_offset counts from the protected-mode part. */
function bzImagePayload(image) {
  if (image.length < 0x250 || image.readUInt32LE(HDR_MAGIC) !== 0x53726448) cannot('bzImage has no setup header ("HdrS" at 0x202)');
  const version = image.readUInt16LE(HDR_VERSION);
  if (version < 0x0208) cannot(`bzImage boot protocol ${(version >> 8)}.${version & 0xff} has no payload fields (need 2.08)`);
  const start = ((image[HDR_SETUP_SECTS] || 4) + 1) * 512 + image.readUInt32LE(HDR_PAYLOAD_OFFSET);
  const length = image.readUInt32LE(HDR_PAYLOAD_LENGTH);
  if (start + length > image.length) cannot(`bzImage payload ${start}+${length} runs past the file (${image.length} bytes)`);
  return image.subarray(start, start + length);
}

/** A gzip payload; zlib rejects trailing bytes, so retry without the 4-byte size some kernel builds append. */
function gunzip(payload) {
  try {
    return gunzipSync(payload);
  } catch {
    try {
      return gunzipSync(payload.subarray(0, payload.length - 4));
    } catch (error) {
      return cannot(`the bzImage's gzip payload does not decompress: ${error.message}`);
    }
  }
}

/**
 * Decompresses the bzImage's payload into an uncompressed vmlinux ELF, unless one newer than it is
 * cached; returns its path, or null after saying (even with --quiet) why there is none.
 */
function extractVmlinux(bzImage, target) {
  try {
    if (!existsSync(target) || statSync(target).mtimeMs < statSync(bzImage).mtimeMs) decompressPayload(bzImage, target);
    return target;
  } catch (error) {
    if (!(error instanceof NoVmlinux)) throw error;
    process.stderr.write(`[linux-guest] warning: no vmlinux: ${error.message}\n`);
    return null;
  }
}

function decompressPayload(bzImage, target) {
  const payload = bzImagePayload(readFileSync(bzImage));
  let elf;
  if (payload[0] === 0xfd && payload.subarray(1, 6).toString('latin1') === '7zXZ\0') {
    // The kernel build appends the uncompressed size after the stream: read the first stream only.
    say(`xz --decompress --stdout --single-stream < the bzImage payload (${payload.length} bytes)`);
    const r = spawnSync('xz', ['--decompress', '--stdout', '--single-stream'], { input: payload, maxBuffer: 1 << 30 });
    if (r.error?.code === 'ENOENT') cannot('the bzImage payload is xz-compressed and `xz` is not installed (apt-get install xz-utils)');
    if (r.error) cannot(`xz: ${r.error.message}`);
    if (r.status !== 0) cannot(`xz could not decompress the bzImage payload: ${r.stderr.toString().trim()}`);
    elf = r.stdout;
  } else if (payload[0] === 0x1f && payload[1] === 0x8b) {
    say('gunzip the bzImage payload (Node zlib)');
    elf = gunzip(payload);
  } else {
    cannot(`bzImage payload is neither xz nor gzip (starts ${payload.subarray(0, 6).toString('hex')}); cannot make a vmlinux`);
  }
  if (elf.readUInt32BE(0) !== 0x7f454c46) cannot('the decompressed bzImage payload is not an ELF file');
  writeFileSync(target + '.tmp', elf);
  renameSync(target + '.tmp', target);
  say(`vmlinux: ${target} (${elf.length} bytes, uncompressed from ${payload.length})`);
}

/** Replaces the manifest by rename, never in place (a cache directory may share files by hard link). */
function writeManifest(path, manifest) {
  writeFileSync(path + '.tmp', JSON.stringify(manifest, null, 2) + '\n');
  renameSync(path + '.tmp', path);
}

function main() {
  mkdirSync(outDir, { recursive: true });
  const bzImage = join(outDir, 'bzImage');
  const initrd = join(outDir, 'initramfs.cpio.gz');
  const manifestPath = join(outDir, 'manifest.json');
  const cached = existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')) : null;
  const kroot = join(outDir, 'kernel');
  const broot = join(outDir, 'busybox');
  if (existsSync(bzImage) && existsSync(initrd) && cached?.initramfsVersion === INITRAMFS_VERSION) {
    say(`cached in ${outDir}`);
  } else if (existsSync(bzImage) && cached && existsSync(kroot) && existsSync(broot)) {
    say(`initramfs version ${cached.initramfsVersion ?? 1} is stale: rebuilding it as version ${INITRAMFS_VERSION}`);
    buildInitramfs(join(broot, 'bin', 'busybox'), join(kroot, 'lib', 'modules', cached.release), initrd);
    writeManifest(manifestPath, { ...cached, initramfsVersion: INITRAMFS_VERSION });
  } else {
    ensureApt();
    const debs = join(outDir, 'debs');
    mkdirSync(debs, { recursive: true });
    const kpkg = kernelPackage();
    const kernelDeb = download(`${kpkg}:${arch}`, debs);
    const busyboxDeb = download(`busybox-static:${arch}`, debs);
    extract(kernelDeb, kroot);
    extract(busyboxDeb, broot);
    const vmlinuz = readdirSync(join(kroot, 'boot')).find((f) => f.startsWith('vmlinuz-'));
    if (!vmlinuz) fail(`no vmlinuz in ${kernelDeb}`);
    writeFileSync(bzImage, readFileSync(join(kroot, 'boot', vmlinuz)));
    const release = vmlinuz.slice('vmlinuz-'.length);
    buildInitramfs(join(broot, 'bin', 'busybox'), join(kroot, 'lib', 'modules', release), initrd);
    writeManifest(manifestPath, { kernelPackage: kpkg, release, marker: INIT_MARKER, initramfsVersion: INITRAMFS_VERSION });
  }
  const vmlinux = extractVmlinux(bzImage, join(outDir, 'vmlinux'));
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const sizes = [bzImage, ...(vmlinux ? [vmlinux] : []), initrd].map((f) => `${f} (${statSync(f).size} bytes)`);
  say(`kernel ${manifest.release}: ${sizes.join(', ')}`);
  // The kernel package's System.map, for profiling (Debian's is a placeholder naming the -dbg package).
  const systemMap = join(outDir, 'kernel', 'boot', `System.map-${manifest.release}`);
  process.stdout.write(JSON.stringify({ bzImage, ...(vmlinux ? { vmlinux } : {}), initrd, ...manifest, ...(existsSync(systemMap) ? { systemMap } : {}) }) + '\n');
}

main();

// A bzImage handed to the PV builder: Xen's loader (libxc's xc_dom_bzimageloader) takes the ELF
// vmlinux out of the compressed payload the setup header points at (boot protocol 2.08+:
// payload_offset at 0x248, payload_length at 0x24c, from the protected-mode code after the
// setup sectors). xz payloads go through the host's `xz`, as tools/linux-guest.mjs does; gzip
// through Node's zlib. The header is the user's: every offset is checked.
import { spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { XenElfError } from '../xen-elf.js';

/** Uncompressed kernels larger than this are refused (Debian's is 65 MiB). */
const MAX_VMLINUX = 512 << 20;

/** True when `image` carries a Linux setup header ("HdrS" at 0x202). */
export function isBzImage(image: Uint8Array): boolean {
  return image.length > 0x250 && image[0x202] === 0x48 && image[0x203] === 0x64 && image[0x204] === 0x72 && image[0x205] === 0x53;
}

/** The compressed payload and its format; throws XenElfError for a header that points outside the file. */
export function bzImagePayload(image: Uint8Array): { format: 'xz' | 'gzip'; bytes: Uint8Array } {
  if (!isBzImage(image)) throw new XenElfError('not a bzImage (no setup header)');
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const version = view.getUint16(0x206, true);
  if (version < 0x208) throw new XenElfError(`boot protocol ${version >> 8}.${(version & 0xff).toString().padStart(2, '0')}: the payload fields need 2.08 or later`);
  const setupSects = image[0x1f1] || 4;
  const start = (setupSects + 1) * 512 + view.getUint32(0x248, true);
  const length = view.getUint32(0x24c, true);
  if (start + length > image.length || length < 6) throw new XenElfError('truncated bzImage: the payload lies outside the file');
  const bytes = image.subarray(start, start + length);
  if (bytes[0] === 0xfd && bytes[1] === 0x37 && bytes[2] === 0x7a && bytes[3] === 0x58 && bytes[4] === 0x5a && bytes[5] === 0) return { format: 'xz', bytes };
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return { format: 'gzip', bytes };
  throw new XenElfError(`bzImage payload is neither xz nor gzip (starts ${Buffer.from(bytes.subarray(0, 6)).toString('hex')})`);
}

/** The vmlinux inside a bzImage. */
export function unpackBzImage(image: Uint8Array): Uint8Array {
  const { format, bytes } = bzImagePayload(image);
  let elf: Uint8Array;
  if (format === 'xz') {
    // The kernel build appends the uncompressed size after the stream: read the first stream only.
    const r = spawnSync('xz', ['--decompress', '--stdout', '--single-stream'], { input: bytes, maxBuffer: MAX_VMLINUX });
    if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') throw new XenElfError('the bzImage payload is xz-compressed and `xz` is not installed');
    if (r.error) throw new XenElfError(`xz: ${r.error.message}`);
    if (r.status !== 0) throw new XenElfError(`xz could not decompress the bzImage payload: ${r.stderr.toString().trim().split('\n')[0]}`);
    elf = new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.byteLength);
  } else {
    try {
      elf = gunzipSync(bytes, { maxOutputLength: MAX_VMLINUX });
    } catch (error) {
      throw new XenElfError(`gzip could not decompress the bzImage payload: ${(error as Error).message}`);
    }
  }
  if (elf.length < 4 || elf[0] !== 0x7f || elf[1] !== 0x45 || elf[2] !== 0x4c || elf[3] !== 0x46) {
    throw new XenElfError('the decompressed bzImage payload is not an ELF file');
  }
  return elf;
}

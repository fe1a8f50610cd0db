/** Builders for small crafted boot images (ELF32, multiboot headers, bzImage-shaped buffers). */

export function le32(bytes: Uint8Array, offset: number, value: number): void {
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(offset, value >>> 0, true);
}

export function le16(bytes: Uint8Array, offset: number, value: number): void {
  new DataView(bytes.buffer, bytes.byteOffset).setUint16(offset, value, true);
}

export interface TestSegment {
  paddr: number;
  vaddr?: number;
  data: Uint8Array;
  memsz?: number;
}

/** An i386 ET_EXEC ELF with one PT_LOAD per segment; data follows the headers at 0x1000 steps. */
export function buildElf32(entry: number, segments: TestSegment[], extra?: (image: Uint8Array) => void): Uint8Array {
  return buildElf(32, entry, segments, extra);
}

/** An x86-64 ELF executable (virtual addresses as signed numbers, e.g. -0x7f000000 for 0xffffffff81000000). */
export function buildElf64(entry: number, segments: TestSegment[]): Uint8Array {
  return buildElf(64, entry, segments);
}

function buildElf(bits: 32 | 64, entry: number, segments: TestSegment[], extra?: (image: Uint8Array) => void): Uint8Array {
  const wide = bits === 64;
  const phoff = wide ? 64 : 52;
  const phsize = wide ? 56 : 32;
  let dataOffset = 0x1000;
  const offsets = segments.map((segment) => {
    const at = dataOffset;
    dataOffset += Math.ceil(Math.max(segment.data.length, 1) / 0x1000) * 0x1000;
    return at;
  });
  const image = new Uint8Array(dataOffset);
  const view = new DataView(image.buffer);
  const word = (at: number, value: number): void => {
    if (wide) view.setBigInt64(at, BigInt(value), true);
    else le32(image, at, value);
  };
  image.set([0x7f, 0x45, 0x4c, 0x46, wide ? 2 : 1, 1, 1], 0);
  le16(image, 16, 2);
  le16(image, 18, wide ? 62 : 3);
  le32(image, 20, 1);
  word(24, entry);
  word(wide ? 32 : 28, phoff);
  le16(image, wide ? 52 : 40, phoff);
  le16(image, wide ? 54 : 42, phsize);
  le16(image, wide ? 56 : 44, segments.length);
  segments.forEach((segment, i) => {
    const ph = phoff + i * phsize;
    le32(image, ph, 1);
    const fields = [offsets[i], segment.vaddr ?? segment.paddr, segment.paddr, segment.data.length, segment.memsz ?? segment.data.length];
    fields.forEach((value, f) => word(ph + (wide ? 8 + 8 * f : 4 + 4 * f), value));
    image.set(segment.data, offsets[i]);
  });
  extra?.(image);
  return image;
}

/** Writes a multiboot header (magic, flags, checksum, optional address fields) at `offset`. */
export function putMultibootHeader(image: Uint8Array, offset: number, flags: number, addresses?: number[]): void {
  le32(image, offset, 0x1badb002);
  le32(image, offset + 4, flags);
  le32(image, offset + 8, -(0x1badb002 + flags));
  addresses?.forEach((value, i) => le32(image, offset + 12 + 4 * i, value));
}

export interface BzImageFields {
  version?: number;
  setupSects?: number;
  loadflags?: number;
  initrdAddrMax?: number;
  cmdlineSize?: number;
  xloadflags?: number;
  initSize?: number;
}

/** A bzImage-shaped buffer: boot sector + setup sectors with a 2.15 header, then `kernel`. */
export function buildBzImage(kernel: Uint8Array, fields: BzImageFields = {}): Uint8Array {
  const setupSects = fields.setupSects ?? 4;
  const image = new Uint8Array((setupSects + 1) * 512 + kernel.length);
  image[0x1f1] = setupSects;
  le16(image, 0x1fe, 0xaa55);
  image[0x200] = 0xeb;
  image[0x201] = 0x6a; // header ends at 0x26c, as in 2.15 kernels
  le32(image, 0x202, 0x53726448);
  le16(image, 0x206, fields.version ?? 0x020f);
  image[0x211] = fields.loadflags ?? 0x01;
  le32(image, 0x214, 0x100000);
  le32(image, 0x22c, fields.initrdAddrMax ?? 0x7fffffff);
  le16(image, 0x236, fields.xloadflags ?? 0x1);
  le32(image, 0x238, fields.cmdlineSize ?? 2048);
  le32(image, 0x260, fields.initSize ?? 0x10000);
  image.set(kernel, (setupSects + 1) * 512);
  return image;
}

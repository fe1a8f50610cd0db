// Recognising a para-virtualized kernel without knowing any strategy: an ELF32 image with a PT_NOTE
// segment holding a note named "Xen" (Xen's ELF notes, elfnote.h) is booted as 'xen-pv'.

const PT_NOTE = 4;

/** True for an ELF32 little-endian image with at least one "Xen" note in a PT_NOTE segment. */
export function hasXenNotes(image: Uint8Array): boolean {
  if (image.length < 52 || image[0] !== 0x7f || image[1] !== 0x45 || image[2] !== 0x4c || image[3] !== 0x46) return false;
  if (image[4] !== 1 || image[5] !== 1) return false;
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const phoff = view.getUint32(28, true);
  const phentsize = view.getUint16(42, true);
  const phnum = view.getUint16(44, true);
  if (phentsize < 32 || phoff + phnum * phentsize > image.length) return false;
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (view.getUint32(ph, true) !== PT_NOTE) continue;
    const offset = view.getUint32(ph + 4, true);
    const size = view.getUint32(ph + 16, true);
    if (offset + size > image.length) return false;
    let at = offset;
    while (at + 12 <= offset + size) {
      const nameSize = view.getUint32(at, true);
      const descSize = view.getUint32(at + 4, true);
      if (nameSize > size || descSize > size) break;
      if (nameSize === 4 && at + 16 <= image.length && String.fromCharCode(...image.subarray(at + 12, at + 15)) === 'Xen') return true;
      at += 12 + ((nameSize + 3) & ~3) + ((descSize + 3) & ~3);
    }
  }
  return false;
}

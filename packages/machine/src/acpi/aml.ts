// AML (ACPI Machine Language) encoding for the few constructs the board's DSDT needs (ACPI 6.5,
// chapter 20 "ACPI Machine Language Specification"). Each function returns the encoded bytes of
// one term, so a definition block reads like its ASL: scope('\\_SB_', device('VR00', name(...))).

// Opcodes (20.3 "AML Byte Stream Byte Values").
export const ZERO_OP = 0x00;
export const ONE_OP = 0x01;
export const NAME_OP = 0x08;
export const BYTE_PREFIX = 0x0a;
export const WORD_PREFIX = 0x0b;
export const DWORD_PREFIX = 0x0c;
export const STRING_PREFIX = 0x0d;
export const QWORD_PREFIX = 0x0e;
export const SCOPE_OP = 0x10;
export const BUFFER_OP = 0x11;
export const PACKAGE_OP = 0x12;
export const EXT_OP_PREFIX = 0x5b;
/** DeviceOp follows ExtOpPrefix. */
export const DEVICE_OP = 0x82;
export const ROOT_CHAR = 0x5c;
export const DUAL_NAME_PREFIX = 0x2e;
/** PkgLength counts itself: one byte holds up to 63, four bytes up to 2^28 - 1. */
const PKG_LENGTH_MAX = 2 ** 28 - 1;

/** Thrown for AML the builder cannot encode (a bad name, an oversized package). */
export class AmlError extends Error {
  override readonly name = 'AmlError';
}

/**
 * PkgLength for a body of `bodyLength` bytes (20.2.4): the encoded length includes the PkgLength
 * bytes themselves. One byte: bits 5-0 hold the length. Longer: bits 7-6 of the lead byte count the
 * bytes that follow, bits 3-0 hold the low nibble, and each following byte the next 8 bits.
 */
export function pkgLength(bodyLength: number): number[] {
  if (bodyLength + 1 <= 0x3f) return [bodyLength + 1];
  for (let extra = 1; extra <= 3; extra++) {
    const total = bodyLength + 1 + extra;
    if (total < 2 ** (4 + 8 * extra)) {
      const bytes = [(extra << 6) | (total & 0x0f)];
      for (let i = 0; i < extra; i++) bytes.push(Math.floor(total / 2 ** (4 + 8 * i)) & 0xff);
      return bytes;
    }
  }
  throw new AmlError(`package of ${bodyLength} bytes exceeds the PkgLength limit ${PKG_LENGTH_MAX}`);
}

/** A NameSeg (20.2.2): four characters from A-Z, 0-9 and '_', not starting with a digit; short names pad with '_'. */
export function nameSeg(name: string): number[] {
  if (!/^[A-Z_][A-Z0-9_]{0,3}$/.test(name)) throw new AmlError(`'${name}' is not an AML NameSeg`);
  return [...name.padEnd(4, '_')].map((c) => c.charCodeAt(0));
}

/** A NameString: `NAME`, `\NAME` (from the root) or `\A.B` / `A.B` (two segments). */
export function nameString(path: string): number[] {
  const root = path.startsWith('\\');
  const segments = (root ? path.slice(1) : path).split('.');
  const prefix = root ? [ROOT_CHAR] : [];
  if (segments.length === 1) return [...prefix, ...nameSeg(segments[0])];
  if (segments.length === 2) return [...prefix, DUAL_NAME_PREFIX, ...nameSeg(segments[0]), ...nameSeg(segments[1])];
  throw new AmlError(`name path '${path}' has more than two segments`);
}

/** An Integer constant in its shortest encoding (ZeroOp, OneOp, Byte/Word/DWord/QWordConst). */
export function integer(value: number): number[] {
  if (!Number.isSafeInteger(value) || value < 0) throw new AmlError(`${value} is not an AML integer`);
  if (value === 0) return [ZERO_OP];
  if (value === 1) return [ONE_OP];
  const bytes = (count: number): number[] => Array.from({ length: count }, (_, i) => Math.floor(value / 2 ** (8 * i)) & 0xff);
  if (value <= 0xff) return [BYTE_PREFIX, value];
  if (value <= 0xffff) return [WORD_PREFIX, ...bytes(2)];
  if (value <= 0xffffffff) return [DWORD_PREFIX, ...bytes(4)];
  return [QWORD_PREFIX, ...bytes(8)];
}

/** A String constant: ASCII 0x01-0x7F, NUL-terminated. */
export function string(text: string): number[] {
  const codes = [...text].map((c) => c.charCodeAt(0));
  if (codes.some((c) => c < 1 || c > 0x7f)) throw new AmlError(`'${text}' is not an AML ASCII string`);
  return [STRING_PREFIX, ...codes, 0];
}

/** DefName: Name(path, object). */
export function name(path: string, object: number[]): number[] {
  return [NAME_OP, ...nameString(path), ...object];
}

/** DefScope: Scope(path) { terms }. */
export function scope(path: string, ...terms: number[][]): number[] {
  const body = [...nameString(path), ...terms.flat()];
  return [SCOPE_OP, ...pkgLength(body.length), ...body];
}

/** DefDevice: Device(name) { terms }. */
export function device(path: string, ...terms: number[][]): number[] {
  const body = [...nameString(path), ...terms.flat()];
  return [EXT_OP_PREFIX, DEVICE_OP, ...pkgLength(body.length), ...body];
}

/** DefBuffer: Buffer(size) { bytes } with the size as an integer term. */
export function buffer(bytes: readonly number[]): number[] {
  const body = [...integer(bytes.length), ...bytes];
  return [BUFFER_OP, ...pkgLength(body.length), ...body];
}

/** DefPackage: Package(n) { elements } (NumElements is one byte: at most 255). */
export function packageOf(elements: readonly number[][]): number[] {
  if (elements.length > 0xff) throw new AmlError(`package of ${elements.length} elements (at most 255)`);
  const body = [elements.length, ...elements.flat()];
  return [PACKAGE_OP, ...pkgLength(body.length), ...body];
}

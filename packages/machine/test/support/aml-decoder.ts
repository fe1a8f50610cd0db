// An independent reader for the AML subset the board's DSDT uses (ACPI 6.5 chapter 20), so tests
// check the encoder's output by decoding it back into a tree rather than comparing bytes.

export type AmlNode =
  | { readonly op: 'scope' | 'device'; readonly name: string; readonly children: AmlNode[] }
  | { readonly op: 'name'; readonly name: string; readonly value: AmlValue };

export type AmlValue = number | string | { readonly buffer: number[] } | { readonly package: AmlValue[] };

export class AmlReader {
  private at = 0;
  constructor(private readonly bytes: Uint8Array) {}

  /** Decodes terms until `end` (default: the whole input) and fails on anything left unexplained. */
  terms(end = this.bytes.length): AmlNode[] {
    const nodes: AmlNode[] = [];
    while (this.at < end) nodes.push(this.term());
    if (this.at !== end) throw new Error(`term overran its package: at ${this.at}, end ${end}`);
    return nodes;
  }

  private byte(): number {
    if (this.at >= this.bytes.length) throw new Error('AML ends early');
    return this.bytes[this.at++];
  }

  /** PkgLength: returns the absolute end of the package that starts at the PkgLength's first byte. */
  private pkgEnd(): number {
    const start = this.at;
    const lead = this.byte();
    const follow = lead >> 6;
    if (follow === 0) return start + (lead & 0x3f);
    if (lead & 0x30) throw new Error('reserved PkgLength bits set');
    let length = lead & 0x0f;
    for (let i = 0; i < follow; i++) length += this.byte() * 2 ** (4 + 8 * i);
    return start + length;
  }

  private nameSeg(): string {
    let seg = '';
    for (let i = 0; i < 4; i++) seg += String.fromCharCode(this.byte());
    if (!/^[A-Z_][A-Z0-9_]{3}$/.test(seg)) throw new Error(`bad NameSeg '${seg}'`);
    return seg;
  }

  private nameString(): string {
    let prefix = '';
    if (this.bytes[this.at] === 0x5c) {
      this.at++;
      prefix = '\\';
    }
    if (this.bytes[this.at] === 0x2e) {
      this.at++;
      return `${prefix}${this.nameSeg()}.${this.nameSeg()}`;
    }
    return prefix + this.nameSeg();
  }

  private term(): AmlNode {
    const op = this.byte();
    switch (op) {
      case 0x08: return { op: 'name', name: this.nameString(), value: this.value() };
      case 0x10: {
        const end = this.pkgEnd();
        const name = this.nameString();
        return { op: 'scope', name, children: this.terms(end) };
      }
      case 0x5b: {
        if (this.byte() !== 0x82) throw new Error('only DeviceOp is expected after ExtOpPrefix');
        const end = this.pkgEnd();
        const name = this.nameString();
        return { op: 'device', name, children: this.terms(end) };
      }
      default: throw new Error(`unexpected opcode 0x${op.toString(16)} at ${this.at - 1}`);
    }
  }

  private little(count: number): number {
    let value = 0;
    for (let i = 0; i < count; i++) value += this.byte() * 2 ** (8 * i);
    return value;
  }

  private value(): AmlValue {
    const op = this.byte();
    switch (op) {
      case 0x00: return 0;
      case 0x01: return 1;
      case 0x0a: return this.little(1);
      case 0x0b: return this.little(2);
      case 0x0c: return this.little(4);
      case 0x0e: return this.little(8);
      case 0x0d: {
        let text = '';
        for (let c = this.byte(); c !== 0; c = this.byte()) text += String.fromCharCode(c);
        return text;
      }
      case 0x11: {
        const end = this.pkgEnd();
        const size = this.value();
        if (typeof size !== 'number') throw new Error('buffer size is not an integer');
        const bytes = Array.from(this.bytes.subarray(this.at, end));
        this.at = end;
        if (bytes.length !== size) throw new Error(`buffer holds ${bytes.length} bytes, declares ${size}`);
        return { buffer: bytes };
      }
      case 0x12: {
        const end = this.pkgEnd();
        const count = this.byte();
        const elements: AmlValue[] = [];
        while (this.at < end) elements.push(this.value());
        if (elements.length !== count) throw new Error(`package holds ${elements.length} elements, declares ${count}`);
        return { package: elements };
      }
      default: throw new Error(`unexpected data opcode 0x${op.toString(16)} at ${this.at - 1}`);
    }
  }
}

/** Small and large resource descriptors of a _CRS buffer, the End Tag's checksum verified. */
export function decodeResources(bytes: readonly number[]): { type: string; [field: string]: number | string }[] {
  const out: { type: string; [field: string]: number | string }[] = [];
  let at = 0;
  for (;;) {
    const tag = bytes[at];
    if (tag === undefined) throw new Error('resource template without End Tag');
    if (tag & 0x80) {
      const length = bytes[at + 1] | (bytes[at + 2] << 8);
      const body = bytes.slice(at + 3, at + 3 + length);
      const u32 = (o: number) => (body[o] | (body[o + 1] << 8) | (body[o + 2] << 16) | (body[o + 3] << 24)) >>> 0;
      if (tag === 0x86) out.push({ type: 'Memory32Fixed', writable: body[0] & 1, base: u32(1), length: u32(5) });
      else out.push({ type: `large 0x${tag.toString(16)}` });
      at += 3 + length;
      continue;
    }
    const type = (tag >> 3) & 0x0f;
    const length = tag & 7;
    const body = bytes.slice(at + 1, at + 1 + length);
    if (type === 0x4) {
      const mask = body[0] | (body[1] << 8);
      out.push({ type: 'IRQ', mask, flags: length === 3 ? body[2] : 'edge-high' });
    } else if (type === 0xf) {
      const sum = bytes.slice(0, at + 2).reduce((a, b) => a + b, 0);
      if ((sum & 0xff) !== 0) throw new Error('resource template checksum is wrong');
      if (at + 2 !== bytes.length) throw new Error('bytes after the End Tag');
      return out;
    } else {
      out.push({ type: `small 0x${type.toString(16)}` });
    }
    at += 1 + length;
  }
}

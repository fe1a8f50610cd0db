// What a virtio-blk test driver puts in a request (virtio spec v1.1, section 5.2.6): the type and
// status codes, the 16-byte header, and recognisable data.
export const T_IN = 0;
export const T_OUT = 1;
export const T_FLUSH = 4;
export const T_GET_ID = 8;
export const T_DISCARD = 11;
export const S_OK = 0;
export const S_IOERR = 1;
export const S_UNSUPP = 2;

export function header(type: number, sector: number | bigint): Uint8Array {
  const h = new Uint8Array(16);
  const v = new DataView(h.buffer);
  v.setUint32(0, type, true);
  v.setBigUint64(8, BigInt(sector), true);
  return h;
}

export function pattern(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff);
}

// virtio-blk wire format (virtio spec v1.1, section 5.2): feature bits, configuration layout,
// request types and status codes.

export const SECTOR_SIZE = 512;

/** Feature bits the device may offer (section 5.2.3). */
export const VIRTIO_BLK_F_SEG_MAX = 2;
export const VIRTIO_BLK_F_RO = 5;
export const VIRTIO_BLK_F_BLK_SIZE = 6;
export const VIRTIO_BLK_F_FLUSH = 9;
export const VIRTIO_BLK_F_DISCARD = 13;

/** Byte offsets in `struct virtio_blk_config` (section 5.2.4). */
export const BlkConfig = {
  /** u64: disk size in 512-byte sectors; Linux sets the disk size from it. */
  capacity: 0,
  /** u32: most data segments per request (VIRTIO_BLK_F_SEG_MAX); Linux sizes its scatterlists by it. */
  segMax: 12,
  /** u32: logical block size (VIRTIO_BLK_F_BLK_SIZE). */
  blkSize: 20,
  /** u32: most sectors per discard segment (VIRTIO_BLK_F_DISCARD). */
  maxDiscardSectors: 36,
  /** u32: most segments per discard request. */
  maxDiscardSeg: 40,
  /** u32: discard granularity in sectors. */
  discardSectorAlignment: 44,
  /** Size of the structure up to and including the discard fields. */
  size: 48,
} as const;

/** Request types (`struct virtio_blk_req.type`). */
export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_T_DISCARD = 11;

/** Status byte the device writes last (section 5.2.6). */
export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

/** The request header: type u32, reserved u32, sector u64. */
export const REQUEST_HEADER_SIZE = 16;
/** GET_ID answers with a serial of at most 20 bytes, NUL-padded. */
export const VIRTIO_BLK_ID_BYTES = 20;
/** One `struct virtio_blk_discard_write_zeroes`: sector u64, num_sectors u32, flags u32. */
export const DISCARD_SEGMENT_SIZE = 16;

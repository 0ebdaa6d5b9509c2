/**
 * The gunzip stream for layers, archives and build contexts. zlib's default output chunk is
 * 16 KiB, and each chunk is one round trip to the thread pool (a wake-up there and one back on
 * the event loop): unpacking the pull bench's 1.8 GB image took ~110 000 of them. With 1 MiB
 * chunks, the four layers applied at once on a quiet machine went from 13.4–13.6 s to 9.0–10.0 s
 * and their CPU time from 20 to 14–15 s (docs/ARCHITECTURE.md, stop 16).
 */
import { createGunzip, type Gunzip } from "node:zlib";

export const GUNZIP_CHUNK = 1 << 20;

export function gunzip(): Gunzip {
  return createGunzip({ chunkSize: GUNZIP_CHUNK });
}

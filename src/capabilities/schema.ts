/**
 * The shape of a node's capabilities (probed by the node module, exchanged in the handshake
 * payload and in stats, stored with each peer). Every field is bounded.
 * @module
 */
import { z } from "zod";

/** A GPU seen on the node. */
export const GpuSchema = z.object({
  vendor: z.enum(["nvidia", "amd"]),
  name: z.string().max(128),
  memoryMB: z.number().int().min(0).nullable(),
});

/** A node's capabilities (bounded, validated at the edge like any payload). */
export const CapabilitiesSchema = z.object({
  os: z.string().max(32),
  arch: z.string().max(32),
  cpuModel: z.string().max(128).nullable(),
  cores: z.number().int().min(0).max(4096).nullable(),
  threads: z.number().int().min(0).max(8192),
  aes: z.boolean().nullable(),
  avx2: z.boolean().nullable(),
  memTotalMB: z.number().int().min(0).nullable(),
  memFreeMB: z.number().int().min(0).nullable(),
  hugePagesTotal: z.number().int().min(0).nullable(),
  hugePagesFree: z.number().int().min(0).nullable(),
  gpus: z.array(GpuSchema).max(64),
  miners: z.array(z.object({
    type: z.string().max(32),
    version: z.string().max(64).nullable(),
  })).max(32),
});

/** A node's capabilities. */
export type Capabilities = z.infer<typeof CapabilitiesSchema>;

/**
 * What a node can mine with: the bounded schema exchanged in the handshake and in stats and stored
 * with each peer, and the probe that fills it from `/proc`, `/sys`, `node:os` and `nvidia-smi`
 * (anything unreadable is unknown, never guessed).
 *
 * @example
 * ```ts
 * import { CapabilitiesSchema, probeCapabilities, summarizeCapabilities } from "./mod.ts";
 * const caps = CapabilitiesSchema.parse(await probeCapabilities({ skipCommands: true }));
 * console.log(summarizeCapabilities(caps)); // "linux/x86_64, ... (2C/2T, AES, AVX2), RAM ..."
 * ```
 * @module
 */
export { type Capabilities, CapabilitiesSchema, GpuSchema } from "./schema.ts";
export {
  parseCpuinfo,
  parseMeminfo,
  probeCapabilities,
  type ProbeOptions,
  randomxWarnings,
  summarizeCapabilities,
} from "./probe.ts";

/**
 * Issue 7 (discovery, part 1): the beacon format (network byte order, size-bounded, unknown
 * versions ignored) and the pending list's bounds: a spoofed beacon for a registered ID changes
 * nothing, and 10,000 fake beacons keep the list capped and the tracked state bounded.
 */
import assert from "node:assert/strict";
import {
  type Beacon,
  BEACON_SIZE,
  decodeBeacon,
  encodeBeacon,
  PendingList,
} from "../src/node/mod.ts";

const ID = "0123456789abcdef0123456789abcdef";
const BEACON: Beacon = {
  id: ID,
  role: "worker",
  protocol: 1,
  port: 9091,
  threads: 16,
  memTotalMB: 32_000,
  aes: true,
  avx2: true,
  hugePages: false,
  gpus: 2,
};

function randomId(): string {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

Deno.test("beacon: round-trips in network byte order; malformed and unknown versions are ignored", () => {
  const bytes = encodeBeacon(BEACON);
  assert.equal(bytes.length, BEACON_SIZE);
  assert.deepEqual([...bytes.subarray(0, 10)], [0x4d, 0x43, 0x4c, 0x42, 1, 1, 0, 1, 0x23, 0x83]);
  assert.equal(
    [...bytes.subarray(10, 26)].map((b) => b.toString(16).padStart(2, "0")).join(""),
    ID,
  );
  assert.deepEqual(decodeBeacon(bytes), BEACON);
  const v2 = bytes.slice();
  v2[4] = 2;
  assert.equal(decodeBeacon(v2), null);
  const badMagic = bytes.slice();
  badMagic[0] = 0;
  assert.equal(decodeBeacon(badMagic), null);
  const badRole = bytes.slice();
  badRole[5] = 9;
  assert.equal(decodeBeacon(badRole), null);
  assert.equal(decodeBeacon(bytes.subarray(0, 20)), null);
  assert.equal(decodeBeacon(new Uint8Array(4096)), null);
  const padded = new Uint8Array(BEACON_SIZE + 1);
  padded.set(bytes);
  assert.equal(decodeBeacon(padded), null);
  // Unknown CPU flags and huge pages (a node that cannot read /proc) stay unknown on the wire.
  const unknown = { ...BEACON, aes: null, avx2: null, hugePages: null };
  const u = encodeBeacon(unknown);
  assert.equal(u[32], 8 | 16);
  assert.deepEqual(decodeBeacon(u), unknown);
});

Deno.test("pending: nothing known is touched, entries expire, the list and sources stay bounded", () => {
  let now = 1_000_000;
  const registered = "fedcba9876543210fedcba9876543210";
  const list = new PendingList("aa".repeat(16), {
    isKnown: (id) => id === registered,
    now: () => now,
    maxEntries: 64,
    maxSources: 128,
  });
  assert.equal(list.offer(BEACON, "10.0.0.5"), "added");
  assert.equal(list.list()[0].address, "10.0.0.5:9091");
  now += 1000;
  assert.equal(list.offer(BEACON, "10.0.0.5"), "refreshed");
  // A spoofed beacon claiming a registered node's ID, from another address: ignored.
  assert.equal(list.offer({ ...BEACON, id: registered }, "10.0.0.66"), "known");
  assert.equal(list.get(registered), undefined);
  assert.equal(list.offer({ ...BEACON, id: "aa".repeat(16) }, "10.0.0.7"), "self");
  // Silence expires an entry after 15 s.
  now += 15_001;
  assert.deepEqual(list.list(), []);

  // A flood: 10,000 fake IDs from one source are mostly rate-limited ...
  for (let i = 0; i < 10_000; i++) list.offer({ ...BEACON, id: randomId() }, "10.0.0.99");
  assert.ok(list.list().length <= 5, `${list.list().length} entries from one source`);
  assert.ok(list.counters["rate-limited"] >= 9_990);
  // ... and 10,000 from as many spoofed sources fill the list to its cap, no further, while the
  // rate-limit table keeps at most maxSources entries.
  for (let i = 0; i < 10_000; i++) {
    list.offer({ ...BEACON, id: randomId() }, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  }
  assert.equal(list.list().length, 64);
  assert.ok(list.counters.full > 9_000);
  assert.equal(list.sources, 128);
});

import assert from "node:assert/strict";
import { x25519 } from "@noble/curves/ed25519.js";
import {
  aeadDecrypt,
  aeadEncrypt,
  dh,
  HandshakeState,
  keyPairFromPrivate,
  NoiseError,
} from "../src/transport/mod.ts";

const hex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (b) => parseInt(b, 16));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

interface Vector {
  protocol_name: string;
  init_prologue: string;
  init_static?: string;
  init_ephemeral: string;
  init_remote_static?: string;
  resp_prologue: string;
  resp_static?: string;
  resp_ephemeral: string;
  handshake_hash: string;
  messages: { payload: string; ciphertext: string }[];
}

/** Loads the shared vectors (../shared/vectors); falls back to the committed copy. */
async function loadVectors(): Promise<Vector[]> {
  const shared = new URL("../../shared/vectors/noise_cacophony.json", import.meta.url);
  const local = new URL("./fixtures/noise_cacophony.json", import.meta.url);
  let text: string;
  try {
    text = await Deno.readTextFile(shared);
    assert.equal(text, await Deno.readTextFile(local), "committed copy of the vectors is stale");
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    text = await Deno.readTextFile(local);
  }
  return JSON.parse(text).vectors;
}

const vectors = await loadVectors();

for (const v of vectors) {
  Deno.test(`noise vector ${v.protocol_name} reproduced byte for byte`, () => {
    const kp = (h?: string) => h ? keyPairFromPrivate(hex(h)) : undefined;
    const init = new HandshakeState({
      protocolName: v.protocol_name,
      initiator: true,
      prologue: hex(v.init_prologue),
      s: kp(v.init_static),
      e: kp(v.init_ephemeral),
      rs: v.init_remote_static ? hex(v.init_remote_static) : undefined,
    });
    const resp = new HandshakeState({
      protocolName: v.protocol_name,
      initiator: false,
      prologue: hex(v.resp_prologue),
      s: kp(v.resp_static),
      e: kp(v.resp_ephemeral),
    });
    let i = 0;
    for (; !init.finished; i++) {
      const [w, r] = i % 2 === 0 ? [init, resp] : [resp, init];
      const ct = w.writeMessage(hex(v.messages[i].payload));
      assert.equal(toHex(ct), v.messages[i].ciphertext, `handshake message ${i}`);
      assert.equal(toHex(r.readMessage(ct)), v.messages[i].payload);
    }
    assert.ok(resp.finished);
    assert.equal(toHex(init.handshakeHash), v.handshake_hash);
    assert.equal(toHex(resp.handshakeHash), v.handshake_hash);
    const ic = init.split();
    const rc = resp.split();
    for (; i < v.messages.length; i++) {
      const [w, r] = i % 2 === 0 ? [ic, rc] : [rc, ic];
      const ct = w.send.encryptWithAd(new Uint8Array(), hex(v.messages[i].payload));
      assert.equal(toHex(ct), v.messages[i].ciphertext, `transport message ${i}`);
      assert.equal(toHex(r.recv.decryptWithAd(new Uint8Array(), ct)), v.messages[i].payload);
    }
  });
}

Deno.test("the XX/SHA256 vector is present (the suite miner-cli uses)", () => {
  assert.ok(vectors.some((v) => v.protocol_name === "Noise_XX_25519_ChaChaPoly_SHA256"));
});

function xxPair() {
  const a = new HandshakeState({
    protocolName: "Noise_XX_25519_ChaChaPoly_SHA256",
    initiator: true,
    s: keyPairFromPrivate(x25519.utils.randomSecretKey()),
  });
  const b = new HandshakeState({
    protocolName: "Noise_XX_25519_ChaChaPoly_SHA256",
    initiator: false,
    s: keyPairFromPrivate(x25519.utils.randomSecretKey()),
  });
  b.readMessage(a.writeMessage());
  a.readMessage(b.writeMessage());
  b.readMessage(a.writeMessage());
  return { a: a.split(), b: b.split() };
}

Deno.test("tampered, replayed, reordered and foreign transport frames are rejected", () => {
  const ad = new Uint8Array();
  const s1 = xxPair();
  const s2 = xxPair();
  const m0 = s1.a.send.encryptWithAd(ad, new TextEncoder().encode("hello"));
  const m1 = s1.a.send.encryptWithAd(ad, new TextEncoder().encode("world"));
  // tampered
  const bad = m0.slice();
  bad[2] ^= 1;
  assert.throws(() => s1.b.recv.decryptWithAd(ad, bad), NoiseError);
  // reordered: m1 before m0
  assert.throws(() => s1.b.recv.decryptWithAd(ad, m1), NoiseError);
  // in order works
  assert.equal(new TextDecoder().decode(s1.b.recv.decryptWithAd(ad, m0)), "hello");
  // replayed
  assert.throws(() => s1.b.recv.decryptWithAd(ad, m0), NoiseError);
  assert.equal(new TextDecoder().decode(s1.b.recv.decryptWithAd(ad, m1)), "world");
  // from a different session
  const other = s2.a.send.encryptWithAd(ad, new TextEncoder().encode("x"));
  assert.throws(() => s1.b.recv.decryptWithAd(ad, other), NoiseError);
});

Deno.test("native X25519 agrees with @noble/curves and rejects low-order points", () => {
  for (let i = 0; i < 20; i++) {
    const a = x25519.utils.randomSecretKey();
    const b = x25519.utils.randomSecretKey();
    assert.deepEqual(
      dh(a, x25519.getPublicKey(b)),
      x25519.getSharedSecret(a, x25519.getPublicKey(b)),
    );
    assert.deepEqual(keyPairFromPrivate(a).publicKey, x25519.getPublicKey(a));
  }
  assert.throws(() => dh(x25519.utils.randomSecretKey(), new Uint8Array(32)), NoiseError);
});

Deno.test("AEAD round trip and tag check", () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const ad = new TextEncoder().encode("ad");
  const ct = aeadEncrypt(key, 7, ad, new TextEncoder().encode("payload"));
  assert.equal(new TextDecoder().decode(aeadDecrypt(key, 7, ad, ct)), "payload");
  assert.throws(() => aeadDecrypt(key, 8, ad, ct), NoiseError);
  assert.throws(() => aeadDecrypt(key, 7, new Uint8Array(), ct), NoiseError);
});

// Checks, in this browser, the inclusion proof the page shows: the record's leaf hash
// (RFC 9162: SHA-256 of 0x00 || record) folded with the proof hashes must give the
// checkpoint's root, and the checkpoint (a C2SP signed note) must carry a valid Ed25519
// signature by a trusted key named as its origin. Nothing here trusts the server's verdict.
"use strict";

const b64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const join = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
};
const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
const leafHash = (data) => sha256(join(new Uint8Array([0]), data));
const nodeHash = (left, right) => sha256(join(new Uint8Array([1]), left, right));

// RFC 9162 section 2.1.3.2: the root an inclusion proof implies.
async function rootFromInclusion(leaf, index, size, proof) {
  if (index < 0 || index >= size) throw new Error(`leaf ${index} is outside a tree of size ${size}`);
  let fn = index, sn = size - 1, r = leaf;
  for (const p of proof) {
    if (sn === 0) throw new Error("the proof is longer than the tree is deep");
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error("the proof is shorter than the tree is deep");
  return r;
}

// A vkey: <name>+<key id hex>+<base64 of 0x01 || 32-byte Ed25519 key>.
function parseKey(vkey) {
  const first = vkey.indexOf("+"), second = vkey.indexOf("+", first + 1);
  if (first < 0 || second < 0) throw new Error(`${vkey} is not a verifier key`);
  const name = vkey.slice(0, first), id = vkey.slice(first + 1, second);
  const encoded = vkey.slice(second + 1);
  const data = b64(encoded);
  if (data.length !== 33 || data[0] !== 1) throw new Error(`${vkey} is not an Ed25519 key`);
  return { name, id, type: data.slice(0, 1), raw: data.slice(1) };
}

async function checkSignature(note, origin, keys) {
  const split = note.lastIndexOf("\n\n");
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2).split("\n").filter((l) => l !== "");
  const enc = new TextEncoder();
  for (const vkey of keys) {
    const key = parseKey(vkey);
    if (key.name !== origin) continue;
    const id = (await sha256(join(enc.encode(key.name + "\n"), key.type, key.raw))).slice(0, 4);
    if (hex(id) !== key.id) throw new Error(`key ${key.name} has a wrong key id`);
    for (const line of lines) {
      const [dash, name, sig] = line.split(" ");
      if (dash !== "\u2014" || name !== key.name) continue;
      const data = b64(sig);
      if (hex(data.slice(0, 4)) !== key.id) continue;
      const pub = await crypto.subtle.importKey("raw", key.raw, { name: "Ed25519" }, false, ["verify"]);
      if (await crypto.subtle.verify({ name: "Ed25519" }, pub, data.slice(4), enc.encode(text))) {
        return vkey;
      }
      throw new Error(`the signature by ${key.name} does not verify`);
    }
  }
  throw new Error(`no trusted key named ${origin} signed the checkpoint`);
}

async function check(proof, keys) {
  const record = new TextEncoder().encode(proof.record);
  const seq = JSON.parse(proof.record).seq;
  if (seq !== proof.index) throw new Error(`the record's seq is ${seq}, expected ${proof.index}`);
  const root = await rootFromInclusion(
    await leafHash(record), proof.index, proof.tree_size, proof.hashes.map(b64));
  if (hex(root) !== hex(b64(proof.root))) {
    throw new Error(`the proof gives root ${hex(root)}, the checkpoint says ${hex(b64(proof.root))}`);
  }
  const origin = proof.checkpoint.split("\n", 1)[0];
  const signer = await checkSignature(proof.checkpoint, origin, keys);
  return `verified: record ${proof.index} is in ${origin}@${proof.tree_size}, signed by ${signer}`;
}

document.addEventListener("DOMContentLoaded", async () => {
  const out = document.getElementById("browser-verdict");
  const data = document.getElementById("proof-data");
  if (!out || !data) return;
  const show = (state, text) => { out.dataset.state = state; out.textContent = text; };
  if (!window.crypto || !crypto.subtle) {
    show("unavailable", "not checked: this page is not a secure context (serve it over HTTPS or on localhost)");
    return;
  }
  const keys = JSON.parse(document.getElementById("trusted-keys").textContent);
  if (!keys.length) { show("unavailable", "not checked: the console trusts no public key"); return; }
  try {
    show("verified", "✓ " + await check(JSON.parse(data.textContent), keys));
  } catch (err) {
    show("failed", "✗ " + err.message);
  }
});

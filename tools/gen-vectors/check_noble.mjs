// check_noble.mjs - re-check the primitive-level vectors with the exact JavaScript libraries
// upstream uses (@noble/curves 1.9.7, @noble/ciphers 1.3.0, @noble/hashes 1.8.0,
// @scure/bip39 1.6.0; crypto-facts 0.1). Optional, not a ctest (needs npm):
//
//   mkdir /tmp/noble && cd /tmp/noble && npm install @noble/curves@1.9.7 @noble/ciphers@1.3.0 \
//       @noble/hashes@1.8.0 @scure/bip39@1.6.0
//   NODE_PATH=/tmp/noble/node_modules node tools/gen-vectors/check_noble.mjs vectors
//
// Checks: ed25519.json (noble sign, and noble verify with its default {zip215:true} against the
// `zip215` verdict and with {zip215:false} for information), x25519.json (noble x25519 and
// edwardsToMontgomery), hkdf.json, aead.json (noble xchacha20poly1305), bip39.json,
// mls-simplified.json, json-stringify.json (JSON.stringify); and vc, vp, zcap, didkey,
// did-document, dm, session-token, http-signature, media with a small JS model of upstream's
// code paths (crypto-facts 1-8): exact documents and every compat verdict.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const require = createRequire(path.join(process.env.NODE_PATH || '.', 'x.js'));
const { ed25519, x25519, edwardsToMontgomeryPub } = require('@noble/curves/ed25519');
const { xchacha20poly1305 } = require('@noble/ciphers/chacha');
const { hkdf } = require('@noble/hashes/hkdf');
const { sha256, sha512 } = require('@noble/hashes/sha2');
const bip39 = require('@scure/bip39');
const { wordlist } = require('@scure/bip39/wordlists/english');

const dir = process.argv[2] || 'vectors';
const load = (n) => JSON.parse(readFileSync(path.join(dir, n + '.json'), 'utf8')).tests;
const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (h) => Uint8Array.from(Buffer.from(h, 'hex'));
const te = new TextEncoder();
let ok = 0, bad = 0;
const counts = {};
function check(file, t, cond, what) {
  counts[file] = counts[file] || [0, 0];
  counts[file][0]++;
  if (cond) { ok++; return; }
  bad++; counts[file][1]++;
  console.log(`DIFF ${file} tc ${t.tc_id} ${t.label}: ${what}`);
}
const tryv = (f) => { try { return f(); } catch (e) { return e; } };

for (const t of load('ed25519')) {
  if (t.op === 'sign') {
    check('ed25519', t, hex(ed25519.getPublicKey(unhex(t.seed32))) === t.public_key, 'public key');
    check('ed25519', t, hex(ed25519.sign(unhex(t.message), unhex(t.seed32))) === t.signature, 'signature');
  }
  const v = tryv(() => ed25519.verify(unhex(t.signature), unhex(t.message), unhex(t.public_key)));
  check('ed25519', t, (v === true) === (t.zip215 === 'valid'), `noble default verify gave ${v}`);
}
for (const t of load('x25519')) {
  if (t.op === 'x25519') {
    const r = tryv(() => hex(x25519.getSharedSecret(unhex(t.secret_key), unhex(t.public_key))));
    check('x25519', t, t.result === 'valid' ? r === t.shared_secret : r instanceof Error, `noble gave ${r}`);
  } else {
    const h = sha512(unhex(t.seed32)).slice(0, 32);
    h[0] &= 248; h[31] &= 127; h[31] |= 64;
    check('x25519', t, hex(h) === t.x25519_secret_key, 'secret');
    check('x25519', t, hex(edwardsToMontgomeryPub(unhex(t.ed25519_public_key))) === t.x25519_public_key, 'public');
  }
}
for (const t of load('hkdf')) {
  const r = tryv(() => hex(hkdf(sha256, unhex(t.ikm), t.salt === '' ? undefined : unhex(t.salt), unhex(t.info), t.length)));
  check('hkdf', t, t.result === 'invalid' ? r instanceof Error : r === t.okm, `noble gave ${r}`);
}
for (const t of load('aead')) {
  if (t.aead !== 'xchacha20poly1305') continue;
  if (t.op === 'seal') {
    const c = xchacha20poly1305(unhex(t.key), unhex(t.nonce)).encrypt(unhex(t.plaintext));
    check('aead', t, hex(c) === t.ciphertext, 'ciphertext');
  } else {
    const r = tryv(() => hex(xchacha20poly1305(unhex(t.key), unhex(t.nonce)).decrypt(unhex(t.ciphertext))));
    check('aead', t, t.result === 'valid' ? r === t.plaintext : r instanceof Error, `noble gave ${r}`);
  }
}
for (const t of load('bip39')) {
  if (t.op === 'entropy-mnemonic') {
    const r = tryv(() => bip39.entropyToMnemonic(unhex(t.entropy), wordlist));
    check('bip39', t, t.result === 'valid' ? r === t.mnemonic : r instanceof Error, `scure gave ${r}`);
  } else {
    const r = tryv(() => hex(bip39.mnemonicToSeedSync(t.mnemonic)));
    check('bip39', t, t.result === 'invalid' ? r instanceof Error : r === t.seed64, `scure gave ${r}`);
    if (t.result !== 'invalid') {
      check('bip39', t, hex(ed25519.getPublicKey(unhex(t.seed32))) === t.ed25519_public_key, 'ed25519 key');
      check('bip39', t, (t.result === 'valid') === bip39.validateMnemonic(t.mnemonic, wordlist), 'validateMnemonic');
    }
  }
}
for (const t of load('mls-simplified')) {
  const H = (ikm, salt, info) => hex(hkdf(sha256, ikm, salt === undefined ? undefined : te.encode(salt), te.encode(info), 32));
  if (t.op === 'epoch-keys') {
    check('mls', t, H(unhex(t.epoch_secret), 'harmony-mls-epoch-salt-v1', `harmony-mls-message-${t.epoch}`) === t.message_key, 'message key');
    check('mls', t, H(unhex(t.epoch_secret), 'harmony-mls-epoch-salt-v1', `harmony-mls-media-${t.epoch}`) === t.media_key, 'media key');
  } else if (t.op === 'advance') {
    const ikm = new Uint8Array([...unhex(t.epoch_secret), ...unhex(t.commit_secret)]);
    check('mls', t, H(ikm, 'harmony-mls-advance-salt-v1', 'harmony-mls-epoch-advance') === t.new_epoch_secret, 'advance');
  } else if (t.op === 'welcome-key') {
    check('mls', t, H(unhex(t.init_key), undefined, 'harmony-mls-welcome') === t.welcome_key, 'welcome key');
  } else if (t.op === 'keypackage') {
    const si = JSON.stringify({ protocolVersion: 1, cipherSuite: 1, initKey: Array.from(unhex(t.x25519_public_key)), leafNode: { did: t.did } });
    check('mls', t, si === t.signing_input, 'signing input');
    check('mls', t, hex(ed25519.sign(te.encode(si), unhex(t.seed32))) === t.signature, 'signature');
  }
}
for (const t of load('json-stringify')) {
  const r = tryv(() => JSON.stringify(JSON.parse(t.input)));
  check('json-stringify', t, t.result === 'invalid' ? r instanceof Error : r === t.output, `JS gave ${r}`);
}

// ---- VC / VP / ZCAP: a small model of upstream's packages/vc and packages/zcap written in JS
// (crypto-facts 2 and 3), so that JS itself orders the keys and serialises the signing input.
const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
function b58enc(bytes) {
  let n = 0n; for (const b of bytes) n = n * 256n + BigInt(b);
  let s = ''; while (n > 0n) { s = B58[Number(n % 58n)] + s; n /= 58n; }
  for (const b of bytes) { if (b !== 0) break; s = '1' + s; }
  return s;
}
function b58dec(str) {
  let n = 0n;
  for (const ch of str) { const i = B58.indexOf(ch); if (i < 0) throw new Error('bad base58'); n = n * 58n + BigInt(i); }
  const out = []; while (n > 0n) { out.unshift(Number(n % 256n)); n /= 256n; }
  for (const ch of str) { if (ch !== '1') break; out.unshift(0); }
  return Uint8Array.from(out);
}
const didOf = (pk) => 'did:key:z' + b58enc(new Uint8Array([0xed, 0x01, ...pk]));
function resolve(did) {
  try {
    if (typeof did !== 'string' || !did.startsWith('did:key:z')) return null;
    const mb = did.slice(did.indexOf('did:key:') + 8);
    const raw = b58dec(mb.slice(1));
    let i = 0; while (raw[i] & 0x80) i++; i++;
    const codec = raw[0] | ((raw[1] & 0x7f) << 7);
    if (codec !== 0xed || raw.length - i !== 32) return null;
    const pk = raw.slice(i);
    const xpk = edwardsToMontgomeryPub(pk);
    const edMB = mb, xMB = 'z' + b58enc(new Uint8Array([0xec, 0x01, ...xpk]));
    return { verificationMethod: [{ id: did + '#' + edMB, publicKeyMultibase: edMB }, { id: did + '#' + xMB, publicKeyMultibase: xMB }] };
  } catch { return null; }
}
function keyFromDoc(doc, vmId) {
  const vm = (doc.verificationMethod || []).find((v) => v.id === vmId);
  if (!vm || !vm.publicKeyMultibase.startsWith('z')) return null;
  const raw = b58dec(vm.publicKeyMultibase.slice(1));
  let i = 0; while (raw[i] & 0x80) i++; i++;
  return raw.slice(i);
}
function proofOk(doc, signer) {
  try {
    const { proof, ...rest } = doc;
    const d = resolve(signer); if (!d) return false;
    const key = keyFromDoc(d, proof.verificationMethod); if (!key) return false;
    const msg = JSON.stringify({ ...rest, proofPurpose: proof.proofPurpose, created: proof.created, verificationMethod: proof.verificationMethod });
    return ed25519.verify(b58dec(proof.proofValue.slice(1)), te.encode(msg), key);
  } catch { return false; }
}
function sign(doc, seed, vm, purpose, created) {
  const msg = JSON.stringify({ ...doc, proofPurpose: purpose, created, verificationMethod: vm });
  const sig = ed25519.sign(te.encode(msg), seed);
  return { ...doc, proof: { type: 'Ed25519Signature2020', created, verificationMethod: vm, proofPurpose: purpose, proofValue: 'z' + b58enc(sig) } };
}
const vmOf = (did) => did + '#' + did.replace('did:key:', '');
function vcVerify(vc, now) {
  let ok = true;
  if (!vc['@context'] || !vc.issuer || !vc.issuanceDate || !vc.credentialSubject?.id || !(vc.type || []).includes('VerifiableCredential')) ok = false;
  if (vc.expirationDate && new Date(vc.expirationDate) < now) ok = false;
  if (!proofOk(vc, vc.issuer)) ok = false;
  return ok;
}
function vpVerify(vp, now) {
  if (!proofOk(vp, vp.holder)) return false;
  return (vp.verifiableCredential || []).every((c) => vcVerify(c, now));
}
function zcapVerify(inv, chain, now) {
  const cap = chain.find((c) => c.id === inv.capability);
  if (!cap) return false;
  let ok = inv.invoker === cap.invoker;
  if (!proofOk(inv, inv.invoker)) ok = false;
  if (!(cap.allowedAction || []).includes(inv.action)) ok = false;
  for (const c of chain) {
    for (const cv of c.caveats || []) if (cv.type === 'harmony:Expiry' && new Date(cv.value) < now) ok = false;
    if (!proofOk(c, c.delegator)) ok = false;
  }
  for (const c of chain) if (c.parentCapability && !chain.find((p) => p.id === c.parentCapability)) ok = false;
  return ok;
}
for (const t of load('vc')) {
  if (t.op === 'issue') {
    const seed = unhex(t.issuer_seed32), did = didOf(ed25519.getPublicKey(seed));
    const vc = { '@context': ['https://www.w3.org/2018/credentials/v1'], id: t.id, type: ['VerifiableCredential', t.type], issuer: did,
      issuanceDate: t.issuance_date, credentialSubject: { id: t.subject_did, ...JSON.parse(t.claims) } };
    if (t.expiration_date !== undefined) vc.expirationDate = t.expiration_date;
    check('vc', t, JSON.stringify(sign(vc, seed, vmOf(did), 'assertionMethod', t.created)) === t.credential, 'issued credential');
  } else {
    const v = vcVerify(JSON.parse(t.credential), new Date(t.now));
    check('vc', t, v === t.compat.valid, `upstream model says ${v}`);
  }
}
for (const t of load('vp')) {
  if (t.op === 'create') {
    const seed = unhex(t.holder_seed32), did = didOf(ed25519.getPublicKey(seed));
    const vp = { '@context': ['https://www.w3.org/2018/credentials/v1'], type: ['VerifiablePresentation'], holder: did, verifiableCredential: JSON.parse(t.credentials) };
    check('vp', t, JSON.stringify(sign(vp, seed, vmOf(did), 'authentication', t.created)) === t.presentation, 'presentation');
  } else {
    const v = vpVerify(JSON.parse(t.presentation), new Date(t.now));
    check('vp', t, v === t.compat.valid, `upstream model says ${v}`);
  }
}
for (const t of load('zcap')) {
  if (t.op === 'root') {
    const seed = unhex(t.owner_seed32), did = didOf(ed25519.getPublicKey(seed));
    const cap = { '@context': ['https://w3id.org/zcap/v1'], id: t.id, invoker: did, delegator: did, allowedAction: JSON.parse(t.allowed_action), scope: JSON.parse(t.scope) };
    check('zcap', t, JSON.stringify(sign(cap, seed, vmOf(did), 'capabilityDelegation', t.created)) === t.capability, 'root');
  } else if (t.op === 'delegate' && t.result === 'valid') {
    const seed = unhex(t.signer_seed32), parent = JSON.parse(t.parent);
    const cap = { '@context': ['https://w3id.org/zcap/v1'], id: t.id, parentCapability: parent.id, invoker: t.invoker_did, delegator: parent.invoker,
      allowedAction: JSON.parse(t.allowed_action), scope: JSON.parse(t.scope), caveats: t.caveats === undefined ? undefined : JSON.parse(t.caveats) };
    check('zcap', t, JSON.stringify(sign(cap, seed, vmOf(parent.invoker), 'capabilityDelegation', t.created)) === t.capability, 'delegation');
  } else if (t.op === 'invoke') {
    const seed = unhex(t.invoker_seed32), cap = JSON.parse(t.capability);
    const inv = { capability: cap.id, invoker: cap.invoker, action: t.action, target: t.target };
    check('zcap', t, JSON.stringify(sign(inv, seed, vmOf(cap.invoker), 'capabilityInvocation', t.created)) === t.invocation, 'invocation');
  } else if (t.op === 'verify') {
    const v = zcapVerify(JSON.parse(t.invocation), JSON.parse(t.chain), new Date(t.now));
    check('zcap', t, v === t.compat.valid, `upstream model says ${v}`);
  }
}

// ---- did:key, DID documents, DM, tokens, HTTP signatures, media, the rest of MLS
const nodeCrypto = require('node:crypto');
const b64 = (u8) => Buffer.from(u8).toString('base64');
const binStr = (u8) => String.fromCharCode(...u8);
const H32 = (ikm, salt, info) => hkdf(sha256, ikm, salt === undefined ? undefined : te.encode(salt), te.encode(info), 32);
function didDocument(did) {
  const d = resolve(did); if (!d) return null;
  const ed = d.verificationMethod[0], x = d.verificationMethod[1];
  return JSON.stringify({ '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/suites/ed25519-2020/v1', 'https://w3id.org/security/suites/x25519-2020/v1'],
    id: did, verificationMethod: [{ id: ed.id, type: 'Ed25519VerificationKey2020', controller: did, publicKeyMultibase: ed.publicKeyMultibase },
      { id: x.id, type: 'X25519KeyAgreementKey2020', controller: did, publicKeyMultibase: x.publicKeyMultibase }],
    authentication: [ed.id], assertionMethod: [ed.id], keyAgreement: [x.id] });
}
for (const t of load('didkey')) {
  if (t.op === 'encode') {
    const pk = unhex(t.public_key);
    check('didkey', t, didOf(pk) === t.did, 'did');
    check('didkey', t, 'z' + b58enc(new Uint8Array([0xec, 0x01, ...edwardsToMontgomeryPub(pk)])) === t.x25519_multibase, 'x25519 multibase');
  } else {
    check('didkey', t, (resolve(t.did) !== null) === t.compat.valid, 'resolution');
  }
}
for (const t of load('did-document')) {
  const doc = didDocument(t.did);
  check('did-document', t, t.compat.valid ? doc === t.did_document : doc === null, `model gave ${doc}`);
}
const xsk = (seed) => { const h = sha512(seed).slice(0, 32); h[0] &= 248; h[31] &= 127; h[31] |= 64; return h; };
for (const t of load('dm')) {
  if (t.op === 'dm') {
    const a = unhex(t.alice_seed32), b = unhex(t.bob_seed32);
    const shared = x25519.getSharedSecret(xsk(a), edwardsToMontgomeryPub(ed25519.getPublicKey(b)));
    check('dm', t, hex(shared) === t.shared_secret, 'shared secret');
    const key = H32(shared, 'harmony-dm-salt-v1', 'harmony-dm-key');
    check('dm', t, hex(key) === t.key, 'dm key');
    check('dm', t, hex(xchacha20poly1305(key, unhex(t.nonce)).encrypt(unhex(t.plaintext))) === t.ciphertext, 'ciphertext');
  } else if (t.op === 'provider-key') {
    const shared = x25519.getSharedSecret(unhex(t.my_x25519_secret_key), unhex(t.their_x25519_public_key));
    check('dm', t, hex(H32(shared, undefined, 'harmony-encrypt')) === t.key, 'provider key');
  } else if (t.op === 'open') {
    const r = tryv(() => hex(xchacha20poly1305(unhex(t.key), unhex(t.nonce)).decrypt(unhex(t.ciphertext))));
    check('dm', t, t.result === 'valid' ? r === t.plaintext : r instanceof Error, `noble gave ${r}`);
  }
}
for (const t of load('session-token')) {
  if (t.op === 'issue') {
    if (t.result !== 'valid') continue;
    const payload = JSON.stringify({ did: t.did, iat: t.issued_at, exp: t.expires_at });
    const sig = ed25519.sign(te.encode(payload), unhex(t.server_seed32));
    check('session-token', t, payload === t.payload && btoa(payload) + '.' + btoa(binStr(sig)) === t.token, 'token');
  } else {
    const v = (() => { try {
      const [p, s] = t.token.split('.');
      const text = atob(p), claims = JSON.parse(text);
      if (claims.exp < t.now) return false;
      const sig = Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
      return ed25519.verify(sig, te.encode(text), unhex(t.server_public_key));
    } catch { return false; } })();
    check('session-token', t, v === t.compat.valid, `upstream model says ${v}`);
  }
}
for (const t of load('http-signature')) {
  if (t.op === 'sign') {
    const seed = unhex(t.seed32), did = didOf(ed25519.getPublicKey(seed));
    const sig = ed25519.sign(te.encode(`${t.timestamp}:${t.method}:${t.url}`), seed);
    check('http-signature', t, did === t.did && `Harmony-Ed25519 ${did} ${t.timestamp} ${b64(sig)}` === t.authorization, 'header');
  } else {
    const v = (() => { try {
      const parts = t.authorization.split(' ');
      if (parts.length !== 4 || parts[0] !== 'Harmony-Ed25519') return false;
      const [, did, ts, sg] = parts;
      if (!did.startsWith('did:key:z6Mk')) return false;
      const n = parseInt(ts, 10); if (isNaN(n)) return false;
      const ms = n < 1e12 ? n * 1000 : n;
      if (Math.abs(t.now - ms) > 300000) return false;
      const raw = b58dec(did.slice(9)); if (raw[0] !== 0xed || raw[1] !== 0x01) return false;
      return ed25519.verify(Uint8Array.from(Buffer.from(sg, 'base64')), te.encode(`${ts}:${t.method}:${t.url}`), raw.slice(2));
    } catch { return false; } })();
    check('http-signature', t, v === t.compat.valid, `upstream model says ${v}`);
  }
}
const shaTag = (u8) => 'sha256:' + hex(sha256(u8));
function gcm(key, iv, pt) {
  const c = nodeCrypto.createCipheriv('aes-256-gcm', key, iv);
  return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
}
for (const t of load('media')) {
  const K = (v) => check('media', t, hex(v) === (t.key ?? t.hash ?? t.seed32), 'key');
  if (t.op === 'fallback-channel-key') K(H32(te.encode('harmony-media-fallback-' + t.group_id), 'harmony-media-salt', 'harmony-media-channel-key'));
  else if (t.op === 'voice-frame-key') K(H32(unhex(t.media_key), 'harmony-voice-e2ee-salt-v1', 'harmony-voice-e2ee'));
  else if (t.op === 'seed-key') {
    const [salt, info] = { export: ['harmony-export-salt-v1', 'harmony-export'], 'identity-sync': ['harmony-sync-salt-v1', 'harmony-sync'],
      'user-data': ['harmony-user-data-v1', 'harmony-user-data-encryption'] }[t.purpose];
    K(H32(unhex(t.seed32), salt, info));
  } else if (t.op === 'oauth-recovery-seed') {
    const s = H32(te.encode(`oauth-recovery:${t.provider}:${t.token}`), 'harmony-oauth-recovery', `${t.provider}-recovery`);
    K(s); check('media', t, didOf(ed25519.getPublicKey(s)) === t.did, 'did');
  } else if (t.op === 'oauth-hash') K(H32(te.encode(`${t.provider}:${t.provider_user_id}`), 'harmony-oauth-recovery-hash', 'oauth-hash'));
  else if (t.op === 'file-blob') {
    const pt = unhex(t.plaintext), nonce = unhex(t.nonce);
    const blob = new Uint8Array([...nonce, ...xchacha20poly1305(unhex(t.key), nonce).encrypt(pt)]);
    check('media', t, hex(blob) === t.blob && t.size === blob.length && t.original_size === pt.length, 'blob');
    check('media', t, shaTag(pt) === t.checksum && shaTag(blob) === t.encrypted_checksum, 'checksums');
    check('media', t, hex(new Uint8Array([...te.encode('HMYTHUMB:'), ...pt.slice(0, 1024)])) === t.thumbnail_plaintext, 'thumbnail');
  } else if (t.op === 'voice-frame') {
    const fr = unhex(t.frame), h = t.header_len, iv = unhex(t.iv);
    const out = fr.length <= h ? fr : new Uint8Array([...fr.slice(0, h), ...iv, ...gcm(unhex(t.key), iv, fr.slice(h))]);
    check('media', t, hex(out) === t.output, 'frame');
  }
}
const U8 = (u8) => ({ __type: 'Uint8Array', data: b64(u8) });
for (const t of load('mls-simplified')) {
  if (t.op === 'keypackage') {
    const x = unhex(t.x25519_public_key);
    const kp = { protocolVersion: 1, cipherSuite: 1, initKey: U8(x), leafNode: { encryptionKey: U8(x), signatureKey: U8(unhex(t.ed25519_public_key)), did: t.did }, signature: U8(unhex(t.signature)) };
    check('mls', t, JSON.stringify(kp) === t.keypackage, 'key package wire form');
  } else if (t.op === 'welcome') {
    const wk = H32(unhex(t.init_key), undefined, 'harmony-mls-welcome'), nonce = unhex(t.nonce);
    const enc = new Uint8Array([...nonce, ...xchacha20poly1305(wk, nonce).encrypt(te.encode(t.group_state))]);
    check('mls', t, hex(enc) === t.encrypted_group_state, 'encrypted group state');
    check('mls', t, JSON.stringify({ groupId: t.group_id, epoch: t.epoch, encryptedGroupState: U8(enc) }) === t.welcome, 'welcome');
  } else if (t.op === 'message') {
    const mk = H32(unhex(t.epoch_secret), 'harmony-mls-epoch-salt-v1', `harmony-mls-message-${t.epoch}`), nonce = unhex(t.nonce);
    check('mls', t, hex(new Uint8Array([...nonce, ...xchacha20poly1305(mk, nonce).encrypt(unhex(t.plaintext))])) === t.ciphertext, 'message');
  } else if (t.op === 'commit-signing-input') {
    const prop = t.proposal === 'add' ? { type: 'add', did: t.did } : t.proposal === 'remove' ? { type: 'remove', leafIndex: t.leaf_index } : { type: 'update' };
    check('mls', t, JSON.stringify({ groupId: t.group_id, epoch: t.new_epoch, proposals: [prop] }) === t.signing_input, 'commit signing input');
  }
}
for (const [f, [n, b]] of Object.entries(counts)) console.log(`${f}: ${n - b}/${n} checks agree with upstream's libraries`);
console.log(`check_noble: ${ok} agree, ${bad} differ`);
process.exit(bad ? 1 : 0);

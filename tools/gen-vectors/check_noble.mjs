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
// mls-simplified.json key schedule, json-stringify.json (JSON.stringify).
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
for (const [f, [n, b]] of Object.entries(counts)) console.log(`${f}: ${n - b}/${n} checks agree with upstream's libraries`);
console.log(`check_noble: ${ok} agree, ${bad} differ`);
process.exit(bad ? 1 : 0);

import { readFileSync, writeFileSync } from 'fs'
import { createCryptoProvider } from '@harmony/crypto'
import { DIDKeyProvider } from '@harmony/did'
const p = new DIDKeyProvider(createCryptoProvider())
const dids = JSON.parse(readFileSync('dids.json', 'utf8'))
const out = []
for (const d of dids) { let r; try { r = await p.resolve(d); r = r ? JSON.stringify(r) : null } catch (e) { r = 'throw' } out.push(r) }
writeFileSync('dids.out', JSON.stringify(out))

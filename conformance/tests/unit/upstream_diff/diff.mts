import { readFileSync, writeFileSync } from 'fs'
import { createCryptoProvider } from '@harmony/crypto'
import { DIDKeyProvider } from '@harmony/did'
import { VCService, MemoryRevocationStore } from '@harmony/vc'
import { ZCAPService } from '@harmony/zcap'
let NOW = 0
const RealDate = Date
class FakeDate extends RealDate {
  constructor(...a: any[]) { if (a.length === 0) super(NOW); else super(...(a as [any])) }
  static now() { return NOW }
}
;(globalThis as any).Date = FakeDate
const c = createCryptoProvider()
const didp = new DIDKeyProvider(c)
const vcs = new VCService(c)
const zs = new ZCAPService(c)
const resolve = (d: string) => didp.resolve(d)
async function serverResolve(did: string) {
  try { const doc = await didp.resolve(did); if (doc) return doc } catch {}
  if (did.startsWith('did:key:')) {
    const mb = did.replace('did:key:', '')
    return { '@context': ['https://www.w3.org/ns/did/v1'], id: did,
      verificationMethod: [{ id: `${did}#${mb}`, type: 'Ed25519VerificationKey2020', controller: did, publicKeyMultibase: mb }],
      authentication: [`${did}#${mb}`], assertionMethod: [`${did}#${mb}`], capabilityDelegation: [`${did}#${mb}`],
      capabilityInvocation: [`${did}#${mb}`], keyAgreement: [] } as any
  }
  return null
}
const cases = JSON.parse(readFileSync('cases.json', 'utf8'))
const out: any[] = []
for (const k of cases) {
  NOW = k.now
  let v: any
  try {
    const o = JSON.parse(k.text)
    if (k.kind === 'vc') v = (await vcs.verify(o, resolve)).valid
    else if (k.kind === 'vp') {
      const r = await vcs.verifyPresentation(o, resolve)
      v = r.valid
      if (v) { const store = new MemoryRevocationStore(); for (const cr of o.verifiableCredential) { if (!(await vcs.verify(cr, resolve, store)).valid) { v = false; break } } }
    } else v = (await zs.verifyInvocation(o, JSON.parse(k.chain), serverResolve)).valid
  } catch (e) { v = 'throw' }
  out.push(v)
}
writeFileSync('out.json', JSON.stringify(out))

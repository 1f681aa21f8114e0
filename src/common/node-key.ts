import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { chmodSync, linkSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { base58btc } from 'multiformats/bases/base58'
import { NodeKeyError } from '../interfaces/errors.js'
import type { Signer } from '../interfaces/provenance.js'
import { readRegularFileSync } from './files.js'

/**
 * The node's Ed25519 identity key, in `<dataDir>/identity.key` as libp2p keeps it (its private
 * key protobuf: type Ed25519, then the 32-byte seed and the 32-byte public key), so a node signs
 * its records with the key its peer id names, whether or not it joins a network. Read and made
 * with node:crypto alone: libp2p loads only on a node that joins a network.
 */

/** protobuf PrivateKey { Type = Ed25519 (1), Data = 64 bytes } */
const PRIVATE_PREFIX = Buffer.from([0x08, 0x01, 0x12, 0x40])
/** identity multihash (0x00, 36 bytes) of protobuf PublicKey { Type = Ed25519, Data = 32 bytes } */
const PEER_PREFIX = Buffer.from([0x00, 0x24, 0x08, 0x01, 0x12, 0x20])

const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url')

/** The peer id of an Ed25519 public key (its 32 raw bytes): `12D3KooW…`. */
export function peerIdOf (publicKey: Uint8Array): string {
  return base58btc.baseEncode(Buffer.concat([PEER_PREFIX, publicKey]))
}

/** The public key an Ed25519 peer id holds, or undefined for any other id (an RSA or secp256k1 peer, or not a peer id). */
export function publicKeyOf (peerId: string): KeyObject | undefined {
  let bytes: Uint8Array
  try {
    bytes = base58btc.baseDecode(peerId)
  } catch {
    return undefined
  }
  if (bytes.length !== PEER_PREFIX.length + 32 || !Buffer.from(bytes.subarray(0, PEER_PREFIX.length)).equals(PEER_PREFIX)) return undefined
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(bytes.subarray(PEER_PREFIX.length)) }, format: 'jwk' })
  } catch {
    return undefined
  }
}

/** Whether `signature` is the peer's Ed25519 signature of `data`. */
export function verifyByPeer (peerId: string, data: Uint8Array, signature: Uint8Array): boolean {
  const key = publicKeyOf(peerId)
  if (key === undefined) return false
  try {
    return verify(null, data, key, signature)
  } catch {
    return false
  }
}

function fromProtobuf (bytes: Buffer, file: string): Signer {
  if (bytes.length !== PRIVATE_PREFIX.length + 64 || !bytes.subarray(0, PRIVATE_PREFIX.length).equals(PRIVATE_PREFIX)) {
    throw new NodeKeyError(`${file} is not an Ed25519 libp2p private key; move it away to make a new identity (the node's peer id changes)`)
  }
  const seed = bytes.subarray(4, 36)
  const pub = bytes.subarray(36, 68)
  let key: KeyObject
  try {
    key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: b64url(seed), x: b64url(pub) }, format: 'jwk' })
  } catch (err) {
    throw new NodeKeyError(`${file} holds a broken Ed25519 key (${(err as Error).message}); move it away to make a new identity`)
  }
  // the public half kept in the file must be the seed's: a file pasted together signs as no one
  const derived = Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x ?? '', 'base64url')
  if (!derived.equals(pub)) throw new NodeKeyError(`${file}: its public key is not its private key's; move it away to make a new identity`)
  return { keyId: peerIdOf(pub), sign: (data) => sign(null, data, key) }
}

/** The node's key from its data dir, made (mode 0600) on first use. */
export function loadNodeKey (dataDir: string): Signer {
  const file = path.join(dataDir, 'identity.key')
  try {
    return fromProtobuf(readRegularFileSync(file, 64 * 1024, 'an identity key'), file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (err instanceof NodeKeyError) throw err
      throw new NodeKeyError(`${file}: cannot read the node's identity key: ${(err as Error).message}`)
    }
  }
  const pair = generateKeyPairSync('ed25519')
  const jwk = pair.privateKey.export({ format: 'jwk' })
  const bytes = Buffer.concat([PRIVATE_PREFIX, Buffer.from(jwk.d ?? '', 'base64url'), Buffer.from(jwk.x ?? '', 'base64url')])
  const tmp = `${file}.tmp-${process.pid}`
  writeFileSync(tmp, bytes, { mode: 0o600 })
  chmodSync(tmp, 0o600)
  // two processes making one at once: the first link wins, and both read the file it made
  try {
    linkSync(tmp, file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new NodeKeyError(`${file}: cannot write the node's identity key: ${(err as Error).message}`)
  } finally {
    rmSync(tmp, { force: true })
  }
  return fromProtobuf(readRegularFileSync(file, 64 * 1024, 'an identity key'), file)
}

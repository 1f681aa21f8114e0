import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { chmodSync, linkSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { readRegularFileSync } from '../common/files.js'
import { NetworkError } from '../interfaces/errors.js'

/**
 * The node's libp2p identity: an Ed25519 key kept in `<dataDir>/identity.key` (mode 0600), made
 * on first start, so the node's peer id stays the same across restarts.
 */
export async function loadIdentity (dataDir: string): Promise<PrivateKey> {
  const file = path.join(dataDir, 'identity.key')
  let bytes: Buffer | undefined
  try {
    bytes = readRegularFileSync(file, 64 * 1024, 'an identity key')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new NetworkError(`${file}: cannot read the node's identity key: ${(err as Error).message}`)
  }
  if (bytes !== undefined) {
    try {
      return privateKeyFromProtobuf(bytes)
    } catch (err) {
      throw new NetworkError(`${file} is not a libp2p private key (${(err as Error).message}); move it away to make a new identity (the node's peer id changes)`)
    }
  }
  const key = await generateKeyPair('Ed25519')
  const tmp = `${file}.tmp-${process.pid}`
  writeFileSync(tmp, privateKeyToProtobuf(key), { mode: 0o600 })
  chmodSync(tmp, 0o600)
  // never over a key another process made meanwhile: the first one made is the node's
  try {
    linkSync(tmp, file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new NetworkError(`${file}: cannot write the node's identity key: ${(err as Error).message}`)
    return privateKeyFromProtobuf(readRegularFileSync(file, 64 * 1024, 'an identity key'))
  } finally {
    rmSync(tmp, { force: true })
  }
  return key
}

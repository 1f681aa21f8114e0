import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import type { ImporterOptions } from 'ipfs-unixfs-importer'

/**
 * The import parameters of `ipfs add` with Kubo's defaults, so a CID bac computes equals the one
 * a user got from Kubo: CIDv0, dag-pb leaves (no raw leaves), 256 KiB fixed-size chunks, and a
 * balanced DAG of at most 174 links per node. Checked against Debian's `ipfs_cid` in the tests.
 */
export function kuboImportOptions (): Omit<ImporterOptions, 'onProgress'> {
  return {
    cidVersion: 0,
    rawLeaves: false,
    reduceSingleLeafToSelf: true,
    leafType: 'file',
    chunker: fixedSize({ chunkSize: 262_144 }),
    layout: balanced({ maxChildrenPerNode: 174 })
  }
}

/**
 * The record of how a result was made: an in-toto Statement (v1) with a SLSA Provenance (v1)
 * predicate, in a DSSE envelope signed by the node's Ed25519 identity key. A peer that runs an
 * attempt for another node signs an execution attestation of its own (same envelope, bac's
 * predicate), which the requester keeps in its record.
 */

/** The DSSE payload type of an in-toto Statement. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json'
export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1'
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1'
/** The buildType of a bac run: the pipeline language's meaning of externalParameters. */
export const BAC_BUILD_TYPE = 'urn:bac:pipeline:v1'
/** The predicate of what one node attests it ran (or holds in its cache) for another. */
export const BAC_EXECUTION_V1 = 'urn:bac:execution:v1'

/** A DSSE envelope (JSON form): the payload base64, signed over its pre-authentication encoding. */
export interface Envelope {
  readonly payloadType: string
  readonly payload: string
  /** `keyid` is the signer's libp2p peer id, which holds its Ed25519 public key. */
  readonly signatures: ReadonlyArray<{ readonly keyid: string, readonly sig: string }>
}

/** Signs with the node's key; `keyId` is its peer id. */
export interface Signer {
  readonly keyId: string
  sign: (data: Uint8Array) => Uint8Array
}

/** An in-toto ResourceDescriptor. For content, `uri` is `ipfs://<cid>` and `digest.sha256` the hash of its root block. */
export interface ResourceDescriptor {
  readonly name?: string
  readonly uri?: string
  readonly digest?: Readonly<Record<string, string>>
  readonly mediaType?: string
  readonly annotations?: Readonly<Record<string, unknown>>
}

export interface Statement<P = unknown> {
  readonly _type: typeof IN_TOTO_STATEMENT_V1
  readonly subject: readonly ResourceDescriptor[]
  readonly predicateType: string
  readonly predicate: P
}

/** The SLSA Provenance v1 predicate as bac fills it. */
export interface Provenance {
  readonly buildDefinition: {
    readonly buildType: string
    readonly externalParameters: Readonly<Record<string, unknown>>
    readonly internalParameters?: Readonly<Record<string, unknown>>
    readonly resolvedDependencies?: readonly ResourceDescriptor[]
  }
  readonly runDetails: {
    readonly builder: { readonly id: string, readonly version?: Readonly<Record<string, string>> }
    readonly metadata?: { readonly invocationId?: string, readonly startedOn?: string, readonly finishedOn?: string }
    readonly byproducts?: readonly ResourceDescriptor[]
  }
}

/** What a node attests about one attempt it ran for another node, or a cached outputs it offers. */
export interface ExecutionPredicate {
  /** The requester's run, and the step instance. */
  readonly run: string
  readonly step?: string
  readonly item?: number
  readonly attempt?: number
  /** The memo key the outputs answer. */
  readonly key?: string
  /** The command as it ran there (rendered for its executor). */
  readonly command?: unknown
  readonly executor?: string
  /** Image and kernel digests the executor reports. */
  readonly machine?: string
  readonly exitCode?: number | null
  readonly signal?: string | null
  readonly outputsCid?: string
  /** The run on the attesting node whose outputs these are (a cache answer). */
  readonly cachedFrom?: string
  readonly startedOn?: string
  readonly finishedOn?: string
  /** The attesting node's peer id. */
  readonly node: string
}

/** Where a step instance's outputs came from without running: an earlier run here, or a trusted peer's cache. */
export interface CacheSource {
  readonly runId: string
  readonly outputsCid: string
  /** The memo key the outputs were found under. */
  readonly key?: string
  /** The peer id of the node that ran it. */
  readonly node: string
  /** The peer's signed answer, for outputs from another node's cache. */
  readonly attestation?: Envelope
}

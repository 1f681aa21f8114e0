/**
 * Every kind of failure bac reports has its own class here. Code tells them apart by `name` (or
 * `instanceof`), never by message text. A `UserError` is a mistake the user can fix (bad YAML, a
 * missing file, an unknown step): the CLI prints its message in one or two lines, never a stack.
 */

/** Base of all bac errors: `name` is the concrete class name. */
export class BacError extends Error {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/** A mistake the user can fix; its message says what, where and what to do. */
export class UserError extends BacError {}

/** A command was called wrongly: bad flags, a path that does not exist (exit code 2). */
export class UsageError extends UserError {}

/** A file could not be read. */
export class FileReadError extends UserError {
  readonly file: string
  constructor (file: string, options?: { cause?: unknown }) {
    const reason = (options?.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
      ? 'no such file'
      : String((options?.cause as Error | undefined)?.message ?? 'unreadable')
    super(`${file}: cannot read: ${reason}`, options)
    this.file = file
  }
}

/** An option passed to a factory or function has an invalid value; names the option. */
export class InvalidOptionError extends UserError {
  readonly option: string
  constructor (option: string, message: string) {
    super(`invalid option ${option}: ${message}`)
    this.option = option
  }
}

/** A template failed to parse or render (unknown name, bad helper call). */
export class TemplateError extends UserError {
  /** 1-based line and column inside the template text, where known. */
  readonly line: number | undefined
  readonly column: number | undefined
  constructor (message: string, init: { line?: number, column?: number, cause?: unknown } = {}) {
    super(message, { cause: init.cause })
    this.line = init.line
    this.column = init.column
  }
}

/** A CID (or `cid/path`) that does not parse. */
export class InvalidCidError extends UserError {
  readonly cid: string
  constructor (cid: string, options?: { cause?: unknown }) {
    super(`'${cid}' is not a valid CID (expected e.g. Qm… or bafy…, optionally followed by /sub/path)`, options)
    this.cid = cid
  }
}

/**
 * A path that names something other than a regular file where bac reads a file: a folder, a FIFO,
 * a socket, a device or (where links are refused) a symbolic link. Refused without opening it.
 */
export class NotRegularFileError extends UserError {
  readonly path: string
  /** What it is, in words: "a FIFO (named pipe)", "a character device", … */
  readonly kind: string
  constructor (path: string, kind: string, options?: { cause?: unknown }) {
    super(`${path} is ${kind}, not a regular file; bac reads only regular files here`, options)
    this.path = path
    this.kind = kind
  }
}

/** A file larger than bac reads for its purpose (a pipeline, a batch of messages). */
export class FileTooLargeError extends UserError {
  readonly path: string
  readonly limit: number
  constructor (path: string, limit: number, what: string) {
    super(`${path} is larger than ${limit} bytes, the most bac reads as ${what}`)
    this.path = path
    this.limit = limit
  }
}

/**
 * A path a caller gave (an API request, a message field) that lies outside the folders the node
 * allows; symbolic links are resolved first. The message names a folder that would allow it.
 */
export class PathNotAllowedError extends UserError {
  readonly path: string
  readonly roots: readonly string[]
  /** Why a path inside the allowed folders is refused all the same (the node's own files, a hidden file). */
  readonly reason: string | undefined
  constructor (path: string, roots: readonly string[], allow: string, reason?: string) {
    super(reason !== undefined
      ? `${path} is not allowed: ${reason}`
      : `${path} is outside the folders this node allows (${roots.length === 0 ? 'none' : roots.join(', ')}); start the node with --allow-path ${allow} to allow it`)
    this.path = path
    this.roots = roots
    this.reason = reason
  }
}

/** JSON from outside (a request body, a message) that is not JSON or nests too deeply; the message says which and where. */
export class InvalidJsonError extends UserError {}

/** Content that is not in the store (and could not be fetched). */
export class ContentNotFoundError extends UserError {
  readonly cid: string
  constructor (cid: string, detail = 'it is not in the local store', options?: { cause?: unknown }) {
    super(`content ${cid} not found: ${detail}`, options)
    this.cid = cid
  }
}

/** Content that cannot be stored or written out safely (a symbolic link, a path that escapes). */
export class UnsafeContentError extends UserError {
  readonly path: string
  constructor (path: string, reason: string) {
    super(`${path}: ${reason}`)
    this.path = path
  }
}

/** Content to be written out does not fit on the disk where it goes (checked first, or the disk filled up meanwhile). */
export class DiskSpaceError extends UserError {
  readonly path: string
  constructor (path: string, detail: string, options?: { cause?: unknown }) {
    super(`${path}: ${detail}`, options)
    this.path = path
  }
}

/** The run store cannot be opened or used (written by a newer bac, corrupt, locked). */
export class RunStoreError extends UserError {}

/** A run id (or prefix) that names no run, or more than one. */
export class RunNotFoundError extends UserError {
  readonly id: string
  constructor (id: string, detail = 'no run has this id') {
    super(`run ${id}: ${detail}; see bac job list`)
    this.id = id
  }
}

/** A content path that names a file where a folder was asked for. */
export class NotAFolderError extends UserError {}

/** A run that has no signed provenance record here (it ended without a result), or a CID no record here is of. */
export class RecordNotFoundError extends UserError {}

/** An input value that is missing, unknown, of the wrong type, or names data that is not there. */
export class InputError extends UserError {
  readonly input: string
  constructor (input: string, message: string, options?: { cause?: unknown }) {
    super(`input '${input}': ${message}`, options)
    this.input = input
  }
}

/** The block store's files in the data dir could not be opened or written (permissions, a full disk). */
export class BlockStoreError extends UserError {}

/**
 * The reason a node aborts the runs it is running when it stops (Ctrl-C, SIGTERM): they are
 * recorded as interrupted, not cancelled, and taken up again when the node starts.
 */
export class NodeStoppingError extends BacError {
  constructor () {
    super('the node stopped; the run is taken up again when it starts')
  }
}

/** A message could not be accepted; `status` is the HTTP status that says why. */
export class MessageError extends UserError {
  readonly status: number
  constructor (status: number, message: string) {
    super(message)
    this.status = status
  }
}

/** A queued run could not be taken: another process took it first, or it is no longer waiting. */
export class RunTakenError extends BacError {
  readonly id: string
  constructor (id: string, status: string) {
    super(`run ${id} is ${status}, not waiting: another bac process took it`)
    this.id = id
  }
}

/** A peer was given up on while it ran a task: it disconnected, stopped answering, or broke the protocol. */
export class NodeLostError extends BacError {
  readonly peer: string
  constructor (peer: string, reason: string, options?: { cause?: unknown }) {
    super(`node ${peer} was lost: ${reason}`, options)
    this.peer = peer
  }
}

/** A peer would not run a task: it does not trust this node, speaks another protocol, or lacks the executor. */
export class DispatchRefusedError extends BacError {
  readonly peer: string
  constructor (peer: string, reason: string) {
    super(`node ${peer} refused the step: ${reason}`)
    this.peer = peer
  }
}

/** The network could not start: a port in use, an unreadable identity key, a bad multiaddr. */
export class NetworkError extends UserError {}

/** Folders being merged hold the same path with different content. */
export class MergeClashError extends UserError {
  readonly path: string
  constructor (path: string, detail: string) {
    super(`${path} ${detail}`)
    this.path = path
  }
}

/** A call to a node's API failed; the message says what the node answered, or that none did. */
export class ApiError extends UserError {
  readonly status: number | undefined
  constructor (message: string, status?: number) {
    super(message)
    this.name = 'ApiError'
    this.status = status
  }
}

/** The node's identity key cannot be read or made; the message says what to do. */
export class NodeKeyError extends UserError {
  override name = 'NodeKeyError'
}

/** A name or digest that matches no stored VM image; says how to make one. */
export class ImageNotFoundError extends UserError {
  constructor (readonly ref: string, dir: string) {
    const recipe = ref === 'kernel' || ref === 'base' || ref === 'python' ? `bac image build images/${ref}` : 'bac image build <recipe folder> or bac image import <oci archive>'
    super(`no VM image '${ref}' in ${dir}: make it with ${recipe}`)
    this.name = 'ImageNotFoundError'
  }
}

/** A recipe or archive that did not give an image; the message says why and what ran. */
export class ImageBuildError extends UserError {
  constructor (message: string) {
    super(message)
    this.name = 'ImageBuildError'
  }
}

/** A VM that failed to boot or to save its state; the message names the console's last lines. */
export class VmError extends BacError {
  constructor (message: string) {
    super(message)
    this.name = 'VmError'
  }
}

/** The Kubo daemon cannot be reached, or is not an IPFS RPC API. The message says where bac looked. */
export class IpfsApiError extends UserError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'IpfsApiError'
  }
}

import { statSync } from 'node:fs'
import { readRegularFileSync } from '../common/files.js'
import { FileReadError, UserError } from '../interfaces/errors.js'

/**
 * The most bytes the validator reads of one file (a pipeline, a job template, a message schema):
 * generated pipelines of tens of megabytes are validated, a device or a runaway file is not.
 */
export const MAX_VALIDATED_FILE_BYTES = 64 * 1024 * 1024

/** What the validator reads a file as: in error messages, and for readers with a policy per kind. */
export type ValidatedFileKind = 'pipeline' | 'job template' | 'message schema'

/** What a path names, as far as the validator needs to know: nothing there is `undefined`. */
export type PathKind = 'file' | 'folder' | 'other'

/**
 * How the validator reaches the file system. Every file it reads (a pipeline, the job templates
 * its steps `uses`, a message schema file) goes through `read`, and every existence check (the
 * candidates of `uses`, the project's `jobstore/` folder, a file input's literal default) through
 * `kind`. The default, {@link regularFiles}, reads regular files of at most
 * {@link MAX_VALIDATED_FILE_BYTES}; a caller that validates a pipeline from somewhere it does not
 * trust (the HTTP API) passes a reader confined to the folders it allows.
 *
 * - `read` returns the whole file's bytes (the validator decodes them as strict UTF-8), or throws
 *   a `UserError` (`NotRegularFileError`, `FileTooLargeError`, `FileReadError`,
 *   `PathNotAllowedError`, …) whose message says why in one line. A refusal of a job template or
 *   of a message schema becomes an error problem at the `uses` or `schema` line that names it; a
 *   refusal of the file being validated is thrown to the caller. Any other error is a bug and
 *   propagates.
 * - `kind` says what is at a path without reading it, and never throws; `undefined` when there is
 *   nothing (or the reader will not say). A confined reader may answer `'file'` for a path it will
 *   refuse, so that `read` explains the refusal where the file is referenced.
 *
 * @example
 * const inside = (file: string) => isInside(file, '/srv/pipelines')
 * const files = regularFiles()
 * const confined: ValidatorFiles = {
 *   read: (file, kind) => { if (!inside(file)) throw new PathNotAllowedError(file, ['/srv/pipelines'], path.dirname(file)); return files.read(file, kind) },
 *   kind: (file) => inside(file) ? files.kind(file) : 'file'
 * }
 * new PipelineValidator({ templates, files: confined }).validatePipelineText('/srv/pipelines/sent.yml', text)
 */
export interface ValidatorFiles {
  read: (file: string, kind: ValidatedFileKind) => Uint8Array
  kind: (path: string) => PathKind | undefined
}

/** Options of {@link regularFiles}. */
export interface RegularFilesInit {
  /** @default MAX_VALIDATED_FILE_BYTES (64 MiB) */
  maxBytes?: number
}

/**
 * The validator's default file access: regular files only (a FIFO, socket or device is refused
 * without being opened, so nothing blocks), at most `maxBytes` each.
 */
export function regularFiles (init: RegularFilesInit = {}): ValidatorFiles {
  const maxBytes = init.maxBytes ?? MAX_VALIDATED_FILE_BYTES
  return {
    read (file, kind) {
      try {
        return readRegularFileSync(file, maxBytes, `a ${kind}`)
      } catch (err) {
        if (err instanceof UserError) throw err
        throw new FileReadError(file, { cause: err })
      }
    },
    kind (file) {
      try {
        const stats = statSync(file, { throwIfNoEntry: false })
        if (stats === undefined) return undefined
        return stats.isFile() ? 'file' : (stats.isDirectory() ? 'folder' : 'other')
      } catch {
        return undefined
      }
    }
  }
}

/** A file's bytes, or the reader's refusal (a `UserError`); any other error is a bug and throws. */
export function readOrRefusal (files: ValidatorFiles, file: string, kind: ValidatedFileKind): Uint8Array | UserError {
  try {
    return files.read(file, kind)
  } catch (err) {
    if (err instanceof UserError) return err
    throw err
  }
}

export { createFsStore, type FsStoreInit } from './fs-store.js'
export { createUnixfsStore, parseContentPath, type UnixfsStoreComponents } from './unixfs-store.js'
export { kuboImportOptions } from './kubo-import.js'
export { openRunStore, type SqliteRunStoreInit, DEFAULT_LIST_LIMIT } from './sqlite-run-store.js'

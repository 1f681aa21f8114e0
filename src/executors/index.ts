export { createProcessExecutor, type ProcessExecutorInit, DEFAULT_KILL_GRACE_MS, DEFAULT_MAX_LOG_BYTES, DEFAULT_MAX_OUTPUT_BYTES } from './process.js'
export { createSandboxExecutor, type SandboxExecutorInit, SANDBOX_PATH } from './sandbox.js'
export { createVmExecutor, type VmExecutorInit, DEFAULT_VM_IMAGE, DEFAULT_VM_MEMORY_MIB } from './vm/executor.js'
export { ImageStore, type ImageInfo, type ImageKind } from './vm/images.js'

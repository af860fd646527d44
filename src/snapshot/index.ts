/** Checkpoint and restore (src/cli wires `run --checkpoint-on` and `restore` to these). */
export { armCheckpoint, checkpointNow, type CheckpointOptions, type CheckpointNowOptions } from './checkpoint';
export { restoreSandbox, prepareRestore, finishRestore, checkHostFiles, type RestoreHooks, type PreparedRestore, type CowSpaces } from './restore';
export { readImage, writeImage, openImageForWrite, SnapshotError, IMAGE_VERSION, IMAGE_FILE } from './format';
export type { ImageMeta } from './image';
export { restoreUpper } from './upper';

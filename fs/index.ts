/** The VFS's public surface for the rest of the Sentry. */
export { Vfs, createVfs, type VfsOptions, type FsCaller } from './vfs';
export { FdTable } from './fdtable';
export { FsContext } from './context';
export { FileDescription } from './file';
export { HostFile } from './host-file';
export { Dentry } from './dentry';
export type { Stat, Inode } from './inode';

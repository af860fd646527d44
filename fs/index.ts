/** The VFS's public surface for the rest of the Sentry. */
export { Vfs, createVfs, type VfsOptions, type FsCaller } from './vfs/vfs';
export { FdTable } from './vfs/fdtable';
export { FsContext } from './vfs/context';
export { FileDescription } from './vfs/file';
export { HostFile } from './fsimpl/host/host-file';
export { Dentry } from './vfs/dentry';
export type { Stat, Inode } from './vfs/inode';

/**
 * The filesystem types the sandbox knows, in registration order: /proc/filesystems lists
 * them and sysfs(2) numbers them (the same order, as Linux's file_systems list serves both).
 * `nodev`: no block device behind it.
 */
export const FILESYSTEM_TYPES: ReadonlyArray<{ name: string; nodev: boolean }> = [
  ...['sysfs', 'tmpfs', 'proc', 'devtmpfs', 'pipefs', 'overlay', 'devpts', 'mqueue'].map((name) => ({ name, nodev: true })),
  { name: '9p', nodev: false },
];

/** /proc/filesystems: "nodev\tNAME" or "\tNAME" a line. */
export function procFilesystems(): string {
  return FILESYSTEM_TYPES.map((f) => `${f.nodev ? 'nodev' : ''}\t${f.name}\n`).join('');
}

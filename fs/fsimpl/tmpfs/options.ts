/**
 * tmpfs mount options as Linux's shmem parses and shows them (mm/shmem.c): size=,
 * nr_blocks=, nr_inodes=, mode=, uid=, gid=, and the generic sb words (ro, rw, ...).
 * A limit of Infinity is "unlimited" (size=0 / nr_inodes=0).
 */
import * as E from '../../../src/abi/errno';

const PAGE = 4096;
/** Linux's SHMEM_INO_MAX on 64-bit: nr_inodes may not exceed it. */
const INO_MAX = 2 ** 32 - 1;

export interface TmpfsOptions {
  /** Each field set only when the option was given. */
  blocks?: number;
  inodes?: number;
  mode?: number;
  uid?: number;
  gid?: number;
  /** ro / rw among the options (Linux's generic sb flags in the data string). */
  readonly?: boolean;
}

/** Linux's memparse: a number (decimal, 0x hex or 0 octal) with an optional K/M/G/T/P/E suffix; also returns what follows. */
function memparse(s: string): { n: number; rest: string } | null {
  const m = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)([kKmMgGtTpPeE]?)(.*)$/.exec(s);
  if (m === null) return null;
  let n = Number(m[1].startsWith('0x') || m[1].startsWith('0X') ? m[1] : m[1].length > 1 && m[1][0] === '0' ? '0o' + m[1].slice(1) : m[1]);
  const shift = m[2] === '' ? 0 : 'kmgtpe'.indexOf(m[2].toLowerCase()) + 1;
  n *= 2 ** (10 * shift);
  return { n, rest: m[3] };
}

function u32(s: string, radix: 8 | 10): number | null {
  const ok = radix === 8 ? /^[0-7]+$/.test(s) : /^[0-9]+$/.test(s);
  if (!ok) return null;
  const n = parseInt(s, radix);
  return n <= 0xffffffff ? n : null;
}

/** Sizes and counts of 0 mean unlimited (Infinity). `ramBytes`: what size=N% is a share of. */
export function parseTmpfsOptions(data: string | null, ramBytes: number): TmpfsOptions | number {
  const o: TmpfsOptions = {};
  if (data === null) return o;
  for (const part of data.split(',')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const val = eq < 0 ? null : part.slice(eq + 1);
    switch (key) {
      case 'ro': case 'rw':
        if (val !== null) return -E.EINVAL;
        o.readonly = key === 'ro';
        break;
      case 'sync': case 'dirsync': case 'lazytime': case 'nolazytime': case 'mand': case 'nomand':
      case 'inode32': case 'inode64': case 'noswap':
        if (val !== null) return -E.EINVAL;
        break;
      case 'size': {
        const p = val === null ? null : memparse(val);
        if (p === null) return -E.EINVAL;
        let bytes = p.n;
        let rest = p.rest;
        if (rest.startsWith('%')) {
          bytes = Math.floor((bytes * Math.floor(ramBytes / PAGE) * PAGE) / 100);
          rest = rest.slice(1);
        }
        if (rest !== '') return -E.EINVAL;
        const pages = Math.ceil(bytes / PAGE);
        o.blocks = pages === 0 ? Infinity : pages;
        break;
      }
      case 'nr_blocks': case 'nr_inodes': {
        const p = val === null ? null : memparse(val);
        if (p === null || p.rest !== '') return -E.EINVAL;
        if (key === 'nr_inodes' && p.n > INO_MAX) return -E.EINVAL;
        if (key === 'nr_blocks') o.blocks = p.n === 0 ? Infinity : p.n;
        else o.inodes = p.n === 0 ? Infinity : p.n;
        break;
      }
      case 'mode': {
        const n = val === null ? null : u32(val, 8);
        if (n === null) return -E.EINVAL;
        o.mode = n & 0o7777;
        break;
      }
      case 'uid': case 'gid': {
        const n = val === null ? null : u32(val, 10);
        if (n === null || n === 0xffffffff) return -E.EINVAL;
        if (key === 'uid') o.uid = n;
        else o.gid = n;
        break;
      }
      case 'huge':
        if (val === null || !['never', 'always', 'within_size', 'advise', 'deny', 'force'].includes(val)) return -E.EINVAL;
        break;
      default:
        // Linux: "Unknown parameter" (mpol= needs NUMA nodes the sandbox does not model).
        return -E.EINVAL;
    }
  }
  return o;
}

/**
 * The options Linux shows for a tmpfs (shmem_show_options): size and nr_inodes when not
 * the defaults, mode when not 1777, uid/gid when not root.
 */
export function showTmpfsOptions(s: {
  blocks: number | null; inodes: number | null; mode: number; uid: number; gid: number;
}): string {
  const out: string[] = [];
  if (s.blocks !== null) out.push(`size=${s.blocks === Infinity ? 0 : s.blocks * (PAGE / 1024)}k`);
  if (s.inodes !== null) out.push(`nr_inodes=${s.inodes === Infinity ? 0 : s.inodes}`);
  if (s.mode !== 0o1777) out.push(`mode=${s.mode.toString(8).padStart(3, '0')}`);
  if (s.uid !== 0) out.push(`uid=${s.uid}`);
  if (s.gid !== 0) out.push(`gid=${s.gid}`);
  return out.join(',');
}

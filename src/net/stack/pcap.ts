/** --pcap FILE: every frame the stack sends and receives, in libpcap format (DLT_EN10MB). */
import * as fs from 'fs';
import { launchedFile } from '../../platform/launched-files';

export class PcapWriter {
  private readonly fd: number;
  private readonly hdr = Buffer.alloc(16);
  constructor(path: string, private readonly nowNs: () => number) {
    this.fd = launchedFile(path) ?? fs.openSync(path, 'w', 0o644);
    const g = Buffer.alloc(24);
    g.writeUInt32LE(0xa1b2c3d4, 0);
    g.writeUInt16LE(2, 4);
    g.writeUInt16LE(4, 6);
    g.writeInt32LE(0, 8);
    g.writeUInt32LE(0, 12);
    g.writeUInt32LE(262144, 16);
    g.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
    fs.writeSync(this.fd, g);
  }
  frame(b: Buffer, off: number, len: number): void {
    const wall = Date.now();
    const h = this.hdr;
    h.writeUInt32LE(Math.floor(wall / 1000), 0);
    h.writeUInt32LE((wall % 1000) * 1000 + (Math.floor(this.nowNs() / 1000) % 1000), 4);
    h.writeUInt32LE(len, 8);
    h.writeUInt32LE(len, 12);
    fs.writeSync(this.fd, h);
    fs.writeSync(this.fd, b, off, len);
  }
  close(): void {
    fs.closeSync(this.fd);
  }
}

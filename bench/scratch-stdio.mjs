// stdio for every command the bench starts that may be runsc: an empty scratch file, never
// the host's /dev/null. runsc fchowns its stdio to 65534:65534 (its sandbox runs as nobody),
// so a spawn with stdio 'ignore' (Node opens /dev/null) chowned the host's /dev/null.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

let fd = -1;

/** An fd of an empty file of the bench's own, opened once for the whole run. */
export function scratchStdio() {
  if (fd < 0) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tssbench-stdio-'));
    const file = path.join(dir, 'empty');
    fd = fs.openSync(file, 'w+');
    fs.rmSync(dir, { recursive: true }); // the open fd is all the bench needs
  }
  return fd;
}

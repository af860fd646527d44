// --memory / --tmpfs-size: tmpfs data is bounded, ENOSPC past the limit, space comes
// back when files go.
import { describe, expect, it } from 'vitest';
import { runSandbox } from '../helpers/run';

describe('tmpfs size limit', () => {
  it('ENOSPC past --tmpfs-size, room again after rm', async () => {
    const r = await runSandbox([
      '--tmpfs-size', '1m', '/bin/sh', '-c',
      'dd if=/dev/zero of=/tmp/a bs=64k count=32 2>&1 | grep -o "No space left on device"; ' +
        'ls -l /tmp/a | awk "{print \\$5}"; rm /tmp/a; ' +
        'dd if=/dev/zero of=/tmp/b bs=64k count=8 2>/dev/null && echo second-fits',
    ]);
    expect(r.stdout).toBe('No space left on device\n1048576\nsecond-fits\n');
  });

  it('rejects a malformed size with a one-line error', async () => {
    const r = await runSandbox(['--memory', 'lots', '/bin/true']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

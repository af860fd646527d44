// Real programs over the filesystem, compared with a native run. Each works in a
// directory it makes with mktemp and removes itself.
import { describe, it } from 'vitest';
import * as fs from 'fs';
import { expectSameAsNative } from '../helpers/run';

const PY = '/usr/lib/python3.11/json';
const has = fs.existsSync(PY) && fs.existsSync('/usr/bin/python3');

describe.skipIf(!has)('real programs on the filesystem', () => {
  it('find, cp -a, diff -r and python3 -m compileall', async () => {
    await expectSameAsNative([
      '/bin/sh', '-c',
      `find ${PY} -name '*.py' | sort; d=$(mktemp -d) && cp -a ${PY} $d/j && diff -r ${PY} $d/j && echo copied && ` +
        `stat -c '%a %s' $d/j/decoder.py && python3 -m compileall -q $d/j && ls $d/j/__pycache__ | sed 's/cpython-[0-9]*/X/' | sort; ` +
        'rm -rf $d',
    ], { timeoutMs: 60_000 });
  }, 70_000);
});

#!/usr/bin/env python3
"""Drives `tssandbox run -t /bin/bash --norc -i` through a host pty, like a person at a
terminal: arithmetic, a background job and `jobs`, ^C on a foreground sleep, ^Z and fg,
window size changes, exit. Prints one line per step; exit status 0 when all passed.
With a third argument "host", runs without -t: the host terminal is passed through and
host ^C/^Z reach the guest's foreground job through kernel.foregroundPgid.
Usage: bash_pty.py NODE TSSANDBOX_BIN [host], or bash_pty.py TSSANDBOX '' [host] (the native
front, the command as users run it)"""
import os, pty, select, signal, struct, sys, fcntl, termios, time

node, binpath = sys.argv[1], sys.argv[2]
host_mode = len(sys.argv) > 3 and sys.argv[3] == 'host'
signal.alarm(90)  # hard bound on the whole conversation

def setwinsz(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))

pid, fd = pty.fork()
if pid == 0:
    env = dict(os.environ, PS1='PROMPT> ', TERM='dumb', HOME='/tmp')
    env.pop('PROMPT_COMMAND', None)
    flags = [] if host_mode else ['-t']
    head = [node, binpath] if binpath else [node]
    os.execve(node, [*head, 'run', *flags, '/bin/bash', '--norc', '--noprofile', '-i'], env)

setwinsz(fd, 30, 100)
buf = b''
failed = False

def expect(pat, timeout=10.0):
    """Reads until pat (bytes) appears after the consumed part; returns what came before it."""
    global buf
    end = time.time() + timeout
    while pat not in buf:
        left = end - time.time()
        if left <= 0:
            return None
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:
            return None
        if not data:
            return None
        buf += data
    i = buf.index(pat)
    before = buf[:i]
    buf = buf[i + len(pat):]
    return before

def step(name, ok):
    global failed
    print(('ok   ' if ok else 'FAIL ') + name, flush=True)
    if not ok:
        failed = True
        print('  pending output: %r' % buf[-400:], flush=True)

def send(s):
    os.write(fd, s.encode() if isinstance(s, str) else s)

step('prompt', expect(b'PROMPT> ') is not None)
send('echo $((6*7))\n')
out = expect(b'PROMPT> ')
step('arithmetic', out is not None and b'\r\n42\r\n' in out)

send('tty; stty size\n')
out = expect(b'PROMPT> ')
step('tty and size', out is not None and b'/dev/pts/' in out and b'30 100' in out)

send('sleep 5 &\n')
out = expect(b'PROMPT> ')
step('background job', out is not None and b'[1] ' in out)
send('jobs\n')
out = expect(b'PROMPT> ')
step('jobs', out is not None and b'Running' in out and b'sleep 5 &' in out)

send('sleep 100\n')
time.sleep(1.0)
t0 = time.time()
send(b'\x03')
out = expect(b'PROMPT> ', 5)
step('^C stops sleep 100', out is not None and b'^C' in out and time.time() - t0 < 5)
send('echo status=$?\n')
out = expect(b'PROMPT> ')
step('status 130', out is not None and b'status=130' in out)

send('sleep 100\n')
time.sleep(1.0)
send(b'\x1a')
out = expect(b'PROMPT> ', 5)
step('^Z stops it', out is not None and b'Stopped' in out)
send('fg\n')
time.sleep(1.0)
send(b'\x03')
out = expect(b'PROMPT> ', 5)
step('fg then ^C', out is not None and b'sleep 100' in out)

setwinsz(fd, 40, 120)
time.sleep(0.5)
send('stty size\n')
out = expect(b'40 120', 5)  # readline may redraw the prompt on SIGWINCH first
step('SIGWINCH resize', out is not None)
expect(b'PROMPT> ', 5)

send('exit\n')
deadline = time.time() + 10
status = None
while time.time() < deadline:
    try:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            os.read(fd, 4096)
    except OSError:
        pass
    wpid, st = os.waitpid(pid, os.WNOHANG)
    if wpid == pid:
        status = st
        break
step('exit', status is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0)
if status is None:
    os.kill(pid, signal.SIGKILL)
sys.exit(1 if failed else 0)

# An epoll set (a pipe and an eventfd) waited on across a checkpoint: a child writes
# ticks into the pipe, then closes it and writes the eventfd; the parent prints each.
import os, select, time

r, w = os.pipe()
efd = os.eventfd(0)
ep = select.epoll()
ep.register(r, select.EPOLLIN)
ep.register(efd, select.EPOLLIN | select.EPOLLET)
pid = os.fork()
if pid == 0:
    os.close(r)
    for i in range(1, 9):
        os.write(w, b"%d\n" % i)
        time.sleep(0.15)
    os.close(w)
    os.eventfd_write(efd, 7)
    os._exit(0)
os.close(w)
buf, eof, val = b"", False, None
while not eof or val is None:
    for fd, ev in ep.poll(10):
        if fd == r:
            d = os.read(r, 100)
            if not d:
                eof = True
                ep.unregister(r)
            buf += d
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                print("got", line.decode(), flush=True)
        elif fd == efd:
            val = os.eventfd_read(efd)
os.waitpid(pid, 0)
print("eventfd", val, flush=True)

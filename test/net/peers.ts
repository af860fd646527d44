/**
 * Linux-side servers for the network tests (run with python3 -c ECHO [greet] [lo] in a
 * namespace the test made): TCP echo on 7001 and 7002 (greet: first a line naming the
 * client's address), UDP echo on 7001, a DNS server answering 198.51.100.7 for any
 * name on PEER_V4:53; with lo, only a TCP echo on 127.0.0.1:7003.
 */
import { PEER_V4 } from './netns';

export const ECHO = `
import socket, threading
def tcp(port, host='::'):
    fam = socket.AF_INET if '.' in host else socket.AF_INET6
    l = socket.socket(fam); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6: l.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    l.bind((host, port)); l.listen(16)
    def one(c, a):
        if greet: c.sendall(('peer %s\\n' % a[0]).encode())
        while True:
            d = c.recv(4096)
            if not d: break
            c.sendall(d)
        c.close()
    while True:
        c, a = l.accept(); threading.Thread(target=one, args=(c, a), daemon=True).start()
def udp(port):
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); u.bind(('::', port))
    while True:
        d, a = u.recvfrom(4096); u.sendto(d, a)
def dns():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('${PEER_V4}', 53))
    while True:
        q, a = u.recvfrom(512)
        end = q.index(b'\\0', 12) + 5
        r = q[:2] + b'\\x81\\x80' + q[4:6] + b'\\x00\\x01\\x00\\x00\\x00\\x00' + q[12:end]
        if q[end - 4:end - 2] == b'\\x00\\x01':
            r = r[:6] + b'\\x00\\x01' + r[8:] + b'\\xc0\\x0c\\x00\\x01\\x00\\x01\\x00\\x00\\x00\\x3c\\x00\\x04' + bytes([198, 51, 100, 7])
        u.sendto(r, a)
import sys
greet = 'greet' in sys.argv
if 'lo' in sys.argv:
    threading.Thread(target=tcp, args=(7003, '127.0.0.1'), daemon=True).start()
else:
    for f, a in ((tcp, (7001,)), (tcp, (7002,)), (udp, (7001,)), (dns, ())):
        threading.Thread(target=f, args=a, daemon=True).start()
print('ready', flush=True)
threading.Event().wait()
`;

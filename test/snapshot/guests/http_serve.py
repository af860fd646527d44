# An HTTP server inside (a thread of this process, on loopback) answering the main
# thread's GETs, one after another: the checkpoint falls between two, with the listener
# and its epoll set waiting; after the restore the server goes on serving.
import http.server
import threading
import time
import urllib.request


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ('hello %s\n' % self.path).encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(('127.0.0.1', 0), Handler)
threading.Thread(target=srv.serve_forever, daemon=True).start()
port = srv.server_address[1]
for i in range(30):
    with urllib.request.urlopen('http://127.0.0.1:%d/%d' % (port, i)) as r:
        print(i, r.status, r.read().decode().strip(), flush=True)
    time.sleep(0.05)
srv.shutdown()
print('done')

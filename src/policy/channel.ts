/**
 * The Sentry's end of the library API's channel (`--api-fd N`, a socket the caller's
 * process holds the other end of; src/api/sandbox.ts): one JSON object per line.
 * Out: events {ev:'exec'|'open'|'connect'|'limit', ...}. For the calls the caller hooks
 * (`--api-hooks`), the Sentry then waits for one reply line {allow:true} |
 * {deny:'EACCES'} | {path:'/other'} (open) | {address, port} (connect). The Sentry is
 * synchronous by design, so it waits with a blocking read: the guest thread that made
 * the call waits for its caller's decision, as with a seccomp user-notification agent.
 */
import * as fs from 'fs';

export interface Decision {
  allow?: boolean;
  deny?: string;
  path?: string;
  address?: string;
  port?: number;
}

export class ApiChannel {
  private buf = Buffer.alloc(0);
  private readonly chunk = Buffer.alloc(65536);
  private dead = false;

  constructor(private readonly fd: number, readonly hooked: ReadonlySet<string>) {}

  send(msg: Record<string, unknown>): void {
    if (this.dead) return;
    const line = Buffer.from(JSON.stringify(msg) + '\n');
    let off = 0;
    while (off < line.length) {
      try {
        off += fs.writeSync(this.fd, line, off);
      } catch (e) {
        if ((e as { code?: string }).code === 'EAGAIN') continue;
        this.dead = true;
        return;
      }
    }
  }

  /** Sends a hooked call and waits for the caller's decision (allow when the caller is gone). */
  ask(msg: Record<string, unknown>): Decision {
    this.send({ ...msg, wait: true });
    for (;;) {
      const nl = this.buf.indexOf(10);
      if (nl >= 0) {
        const line = this.buf.subarray(0, nl).toString('utf8');
        this.buf = this.buf.subarray(nl + 1);
        try {
          return JSON.parse(line) as Decision;
        } catch {
          return { allow: true };
        }
      }
      if (this.dead) return { allow: true };
      let n: number;
      try {
        n = fs.readSync(this.fd, this.chunk, 0, this.chunk.length, null);
      } catch (e) {
        if ((e as { code?: string }).code === 'EAGAIN') {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
          continue;
        }
        n = 0;
      }
      if (n <= 0) {
        this.dead = true;
        continue;
      }
      this.buf = Buffer.concat([this.buf, this.chunk.subarray(0, n)]);
    }
  }
}

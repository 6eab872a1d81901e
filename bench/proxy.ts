/**
 * A counting unix-socket proxy in front of LXD's socket. The provider runs in the dynamic-provider host
 * (another process), so its LxdClient.requestCount is out of reach; instead the host is pointed at this
 * proxy (env LXD_SOCKET) and every HTTP request line that passes through is counted, by method and path.
 * Bytes are forwarded untouched in both directions.
 */
import * as fs from "node:fs";
import * as net from "node:net";


export class CountingProxy {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  /** Requests seen since the last {@link reset}, keyed `METHOD /path` (query and names stripped). */
  readonly byKind = new Map<string, number>();
  count = 0;

  constructor(readonly listenPath: string, readonly targetPath: string) {}

  async start(): Promise<void> {
    try {
      fs.unlinkSync(this.listenPath);
    } catch {
      /* not there */
    }
    this.server = net.createServer((client) => this.onClient(client));
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(this.listenPath, () => resolve());
    });
  }

  reset(): void {
    this.count = 0;
    this.byKind.clear();
  }

  /** `{"GET /1.0/instances/*": 20, …}` for the report. */
  kinds(): Record<string, number> {
    return Object.fromEntries([...this.byKind.entries()].sort((a, b) => b[1] - a[1]));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    try {
      fs.unlinkSync(this.listenPath);
    } catch {
      /* gone */
    }
  }

  private onClient(client: net.Socket): void {
    const upstream = net.createConnection(this.targetPath);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const parser = new RequestParser((method, target) => {
      this.count++;
      const kind = `${method} ${normalizePath(target)}`;
      this.byKind.set(kind, (this.byKind.get(kind) ?? 0) + 1);
    });
    client.on("data", (chunk: Buffer) => {
      parser.push(chunk);
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on("close", end);
    upstream.on("close", end);
    client.on("error", end);
    upstream.on("error", end);
  }
}

/** `/1.0/instances/b-3/state?project=x` → `/1.0/instances/*∕state`; operation ids and names become `*`. */
function normalizePath(p: string): string {
  const [path] = p.split("?");
  return path
    .split("/")
    .map((seg, i) => (i >= 3 && !["state", "wait", "aliases"].includes(seg) ? "*" : seg))
    .join("/");
}

/**
 * A minimal HTTP/1.1 request-stream parser: request line and headers, then a body of Content-Length bytes
 * or chunked; calls `onRequest` once per request, however the stream is cut into chunks.
 */
class RequestParser {
  private buf: Buffer = Buffer.alloc(0);
  private bodyLeft = 0;
  private chunked = false;

  constructor(private readonly onRequest: (method: string, target: string) => void) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.bodyLeft > 0) {
        const n = Math.min(this.bodyLeft, this.buf.length);
        this.buf = this.buf.subarray(n);
        this.bodyLeft -= n;
        if (this.bodyLeft > 0) return;
        continue;
      }
      if (this.chunked) {
        // <hex size>[;ext]\r\n<data>\r\n … 0\r\n[trailers]\r\n
        const eol = this.buf.indexOf("\r\n");
        if (eol < 0) return;
        const size = parseInt(this.buf.subarray(0, eol).toString("latin1").split(";")[0], 16);
        if (size === 0) {
          const end = this.buf.indexOf("\r\n\r\n", eol - 2 >= 0 ? eol - 2 : 0);
          if (end < 0) return;
          this.buf = this.buf.subarray(end + 4);
          this.chunked = false;
          continue;
        }
        if (this.buf.length < eol + 2 + size + 2) {
          // Skip what we have of this chunk without waiting for all of it.
          this.bodyLeft = eol + 2 + size + 2;
          continue;
        }
        this.buf = this.buf.subarray(eol + 2 + size + 2);
        continue;
      }
      const end = this.buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = this.buf.subarray(0, end).toString("latin1").split("\r\n");
      this.buf = this.buf.subarray(end + 4);
      const [method, target] = head[0].split(" ");
      if (method && target) this.onRequest(method, target);
      for (const line of head.slice(1)) {
        const i = line.indexOf(":");
        const name = line.slice(0, i).trim().toLowerCase();
        const value = line.slice(i + 1).trim();
        if (name === "content-length") this.bodyLeft = Number(value) || 0;
        if (name === "transfer-encoding" && /chunked/i.test(value)) this.chunked = true;
      }
    }
  }
}

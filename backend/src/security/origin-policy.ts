import { hostname, networkInterfaces } from 'node:os';

/** Vite's dev server (`npm run dev`), which proxies the gateway. */
const DEV_SERVER_PORT = 5173;

/**
 * Which browser origins may open a socket or read REST responses cross-origin. Configured:
 * exactly the `ALLOWED_ORIGINS` list. Default: the gateway's own origins (loopback names, `HOST`,
 * this machine's name and addresses, at the port it listens on) and the Vite dev server's. Comparison is
 * exact on the serialized origin, so `http://localhost:3000.evil.test` and `null` never pass.
 */
export class OriginPolicy {
  private allowed: Set<string>;

  constructor(
    private readonly configured: readonly string[] | undefined,
    private readonly host: string | undefined,
    private readonly tls: boolean,
  ) {
    this.allowed = new Set(configured ?? []);
  }

  /** Called once the server listens: the default list needs the real port (PORT may be 0). */
  listening(port: number): void {
    if (this.configured) return;
    const scheme = this.tls ? 'https' : 'http';
    const wildcard = !this.host || this.host === '0.0.0.0' || this.host === '::';
    const hosts = new Set(['localhost', '127.0.0.1', '[::1]']);
    if (this.host && !wildcard) hosts.add(this.host.includes(':') ? `[${this.host}]` : this.host);
    if (wildcard) {
      hosts.add(hostname().toLowerCase());
      for (const list of Object.values(networkInterfaces())) {
        for (const a of list ?? []) hosts.add(a.family === 'IPv6' ? `[${a.address.split('%')[0]}]` : a.address);
      }
    }
    const origins = [...hosts].map((h) => new URL(`${scheme}://${h}:${port}`).origin);
    for (const h of ['localhost', '127.0.0.1']) origins.push(`http://${h}:${DEV_SERVER_PORT}`);
    this.allowed = new Set(origins);
  }

  /**
   * Whether a request with this `Origin` header may proceed. No header at all is a non-browser
   * client (the simulator, curl, a server): the Origin rule protects browsers' users, so it passes.
   */
  allows(origin: string | undefined): boolean {
    return origin === undefined || this.allowed.has(origin);
  }

  /** The list in force, for the startup log. */
  get origins(): string[] {
    return [...this.allowed];
  }
}

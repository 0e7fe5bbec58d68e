/**
 * Whether a browser on `origin` may use the API: requests without an Origin (servers, CLIs, gateways) always may;
 * otherwise the origin must be listed — this server's own origins (its PUBLIC_URL and its loopback addresses, for
 * the IDE and the sandbox console it serves) and CORS_ORIGINS (`*` lists every origin, refused in production by the
 * configuration). The Host header is not trusted for this: with DNS rebinding a hostile page can make it match.
 */
export function originAllowed(origin: string | undefined, allowed: readonly string[]): boolean {
  if (origin === undefined || origin === '') return true;
  return allowed.includes('*') || allowed.includes(origin);
}

/** This server's own origins: PUBLIC_URL's, and the loopback ones on the port it listens on. */
export function ownOrigins(port: number, publicUrl: string | undefined): string[] {
  const origins = [`http://127.0.0.1:${port}`, `http://localhost:${port}`, `http://[::1]:${port}`];
  if (publicUrl) origins.push(new URL(publicUrl).origin);
  return origins;
}

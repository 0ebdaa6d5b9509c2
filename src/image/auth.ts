/**
 * Registry authentication from WWW-Authenticate challenges (RFC 7235; the token
 * flow of distribution's docs/spec/auth/token.md): Basic sends the stored
 * credentials; Bearer asks the challenge's realm for a token for
 * service + scope(s), with Basic credentials when we have them (anonymous
 * otherwise), and caches the token per host and scope set until it expires.
 */
import { PermissionDenied, Unavailable } from "../errdefs.js";
import type { Credentials } from "./docker-config.js";
import type { HttpTransport } from "./transport.js";

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses one WWW-Authenticate header value into its challenges. */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  const re = /\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?:\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*))?\s*,?/y;
  let cur: Challenge | undefined;
  while (re.lastIndex < header.length) {
    const start = re.lastIndex;
    const m = re.exec(header);
    if (!m || re.lastIndex === start) break;
    const [, name, value] = m;
    if (value === undefined) {
      // A token with no "=" after it starts a new challenge; a following bare token is its token68.
      cur = { scheme: name!.toLowerCase(), params: {} };
      out.push(cur);
    } else if (cur) {
      cur.params[name!.toLowerCase()] = value.startsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, "$1") : value;
    }
  }
  return out;
}

export type CredentialLookup = (host: string) => Promise<Credentials | undefined>;

const basic = (c: Credentials): string => `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;

export class Authorizer {
  private readonly challenges = new Map<string, Challenge>();
  private readonly tokens = new Map<string, { value: string; expires: number }>();

  constructor(private readonly transport: HttpTransport, private readonly credentials: CredentialLookup) {}

  /** Records the challenge of a 401; false when it offers nothing we can answer. */
  learn(host: string, wwwAuthenticate: string | undefined): boolean {
    const chs = parseChallenges(wwwAuthenticate ?? "");
    const ch = chs.find((c) => c.scheme === "bearer" && c.params.realm) ?? chs.find((c) => c.scheme === "basic");
    if (!ch) return false;
    this.challenges.set(host, ch);
    return true;
  }

  knows(host: string): boolean { return this.challenges.has(host); }

  /** Forgets cached tokens for a host (after a 401 with a token we thought valid). */
  invalidate(host: string): void {
    for (const k of this.tokens.keys()) if (k.startsWith(`${host} `)) this.tokens.delete(k);
  }

  /** Authorization header value for `host` and `scopes`, or undefined when the host asked for none. */
  async header(host: string, scopes: string[], signal?: AbortSignal): Promise<string | undefined> {
    const ch = this.challenges.get(host);
    if (!ch) return undefined;
    const creds = await this.credentials(host);
    if (ch.scheme === "basic") return creds ? basic(creds) : undefined;
    const key = `${host} ${[...scopes].sort().join(" ")}`;
    const hit = this.tokens.get(key);
    if (hit && hit.expires > Date.now()) return `Bearer ${hit.value}`;
    const t = await this.fetchToken(host, ch, scopes, creds, signal);
    this.tokens.set(key, t);
    return `Bearer ${t.value}`;
  }

  private async fetchToken(host: string, ch: Challenge, scopes: string[], creds: Credentials | undefined, signal?: AbortSignal): Promise<{ value: string; expires: number }> {
    const url = new URL(ch.params.realm!);
    if (ch.params.service) url.searchParams.set("service", ch.params.service);
    for (const s of scopes) url.searchParams.append("scope", s);
    if (creds) url.searchParams.set("account", creds.username);
    const res = await this.transport.request({ method: "GET", url, signal, headers: creds ? { authorization: basic(creds) } : {} });
    const body = await res.text();
    if (res.status === 401 || res.status === 403) {
      throw new PermissionDenied(`unauthorized: ${creds ? "incorrect username or password" : "authentication required"} for ${host} (token service ${url.host} answered ${res.status})`);
    }
    if (res.status !== 200) throw new Unavailable(`token service ${url.host} for ${host}: HTTP ${res.status}: ${body.slice(0, 200)}`);
    let doc: { token?: string; access_token?: string; expires_in?: number };
    try { doc = JSON.parse(body) as typeof doc; } catch { doc = {}; }
    const value = doc.token ?? doc.access_token;
    if (!value) throw new Unavailable(`token service ${url.host} for ${host}: answer has no token`);
    // The spec's default lifetime is 60 s; refresh a little early to avoid using a just-expired token.
    const lifetime = Math.max(doc.expires_in ?? 60, 10);
    return { value, expires: Date.now() + (lifetime - 5) * 1000 };
  }
}

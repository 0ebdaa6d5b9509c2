/**
 * Registry credentials in docker's config.json (docker/cli cli/config/configfile):
 * `auths` maps a registry key to `{auth: base64("user:pass")}` or to
 * `{username, password}`. Docker Hub's key is the legacy "https://index.docker.io/v1/";
 * other keys may be written as "host", "host:port" or "https://host/". Credential
 * helpers (`credsStore`, `credHelpers`) are not run: entries they own are not found here.
 */
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { InvalidArgument, fromErrno } from "../errdefs.js";
import { writeFileAtomic } from "../fsutil.js";
import { DEFAULT_DOMAIN } from "./reference.js";

export interface Credentials {
  username: string;
  password: string;
}

/** Where credentials come from and go to; the registry client only needs this. */
export interface CredentialStore {
  get(registry: string): Promise<Credentials | undefined>;
  store(registry: string, creds: Credentials): Promise<void>;
  /** Returns false when there was nothing to remove. */
  erase(registry: string): Promise<boolean>;
}

export const DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/";

/** $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
export function defaultDockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), ".docker"), "config.json");
}

/** The key docker writes for a registry domain. */
export function authKey(registry: string): string {
  return registry === DEFAULT_DOMAIN || registry === "index.docker.io" || registry === "registry-1.docker.io" ? DOCKER_HUB_AUTH_KEY : registry;
}

/** "https://host:port/v1/" → "host:port", matching how docker looks keys up. */
function keyHost(key: string): string {
  const stripped = key.replace(/^[a-z]+:\/\//i, "");
  const host = stripped.split("/")[0]!.toLowerCase();
  return host === "index.docker.io" || host === "registry-1.docker.io" ? DEFAULT_DOMAIN : host;
}

interface AuthEntry { auth?: string; username?: string; password?: string; identitytoken?: string }
interface ConfigFile { auths?: Record<string, AuthEntry>; [k: string]: unknown }

export class DockerConfigCredentials implements CredentialStore {
  constructor(readonly path: string = defaultDockerConfigPath()) {}

  private async load(): Promise<ConfigFile> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return {};
      throw fromErrno(e, `read ${this.path}`);
    }
    try {
      const c = JSON.parse(text) as ConfigFile;
      return c !== null && typeof c === "object" ? c : {};
    } catch (e) {
      throw new InvalidArgument(`${this.path}: not valid JSON: ${(e as Error).message}`);
    }
  }

  private findKey(cfg: ConfigFile, registry: string): string | undefined {
    const want = keyHost(authKey(registry));
    return Object.keys(cfg.auths ?? {}).find((k) => keyHost(k) === want);
  }

  async get(registry: string): Promise<Credentials | undefined> {
    const cfg = await this.load();
    const key = this.findKey(cfg, registry);
    const e = key === undefined ? undefined : cfg.auths![key];
    if (!e) return undefined;
    if (e.auth) {
      const plain = Buffer.from(e.auth, "base64").toString("utf8");
      const i = plain.indexOf(":");
      if (i < 0) throw new InvalidArgument(`${this.path}: auths[${JSON.stringify(key)}].auth is not base64("user:password")`);
      return { username: plain.slice(0, i), password: plain.slice(i + 1) };
    }
    if (e.username !== undefined && e.password !== undefined) return { username: e.username, password: e.password };
    return undefined;
  }

  async store(registry: string, creds: Credentials): Promise<void> {
    const cfg = await this.load();
    const auths = { ...(cfg.auths ?? {}) };
    const old = this.findKey(cfg, registry);
    if (old !== undefined) delete auths[old];
    auths[authKey(registry)] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString("base64") };
    await writeFileAtomic(this.path, `${JSON.stringify({ ...cfg, auths }, null, "\t")}\n`, 0o600);
  }

  async erase(registry: string): Promise<boolean> {
    const cfg = await this.load();
    const key = this.findKey(cfg, registry);
    if (key === undefined) return false;
    const auths = { ...cfg.auths };
    delete auths[key];
    await writeFileAtomic(this.path, `${JSON.stringify({ ...cfg, auths }, null, "\t")}\n`, 0o600);
    return true;
  }
}

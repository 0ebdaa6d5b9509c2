/**
 * Docker-style image references.
 *
 * Words used across src/image/:
 * - *domain*: the registry host, with an optional port (`docker.io`, `localhost:5000`, `[::1]:5000`).
 * - *path*: the repository inside the registry (`library/busybox`, `user/x`).
 * - *name*: `domain/path`, fully qualified (`docker.io/library/busybox`).
 * - *tag*: a mutable label (`latest`); *digest*: `sha256:<64 hex>`, the content address.
 * - *familiar* form: what docker prints, with `docker.io/` and `library/` dropped.
 *
 * The grammar follows distribution's reference package (reference/regexp.go): path
 * components are lowercase alphanumerics joined by `.`, `_`, `__` or runs of `-`; the
 * first component is a domain only if it contains `.` or `:`, is `localhost`, or holds
 * an uppercase letter (hostnames are case-insensitive, repository names are not).
 */
import { InvalidArgument } from "../errdefs.js";

export const DEFAULT_DOMAIN = "docker.io";
export const LEGACY_DEFAULT_DOMAIN = "index.docker.io";
export const OFFICIAL_REPO_PREFIX = "library/";
export const DEFAULT_TAG = "latest";
const NAME_TOTAL_LENGTH_MAX = 255;

export interface Reference {
  /** Registry host with optional port, e.g. `docker.io`, `localhost:5000`. */
  readonly domain: string;
  /** Repository path inside the registry, e.g. `library/busybox`. */
  readonly path: string;
  readonly tag?: string;
  /** `sha256:<64 hex>` */
  readonly digest?: string;
}

const domainComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const ipv6 = "\\[(?:[a-fA-F0-9:]+)\\]";
const domainRe = new RegExp(`^(?:${ipv6}|${domainComponent}(?:\\.${domainComponent})*)(?::[0-9]+)?$`);
const pathComponentRe = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;
const pathComponentAnyCaseRe = /^[a-zA-Z0-9]+(?:(?:[._]|__|[-]+)[a-zA-Z0-9]+)*$/;
const tagRe = /^[\w][\w.-]{0,127}$/;
const digestRe = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const sha256Re = /^sha256:[a-f0-9]{64}$/;
const hex64Re = /^[a-f0-9]{64}$/;

function invalid(input: string, why: string): InvalidArgument {
  return new InvalidArgument(`invalid reference format: ${JSON.stringify(input)}: ${why}`);
}

/** Splits off `@digest` and `:tag` without judging the name yet. */
function splitReference(input: string): { name: string; tag?: string; digest?: string } {
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (digest.includes("@")) throw invalid(input, "more than one '@'");
    if (digest.startsWith("sha256:")) {
      if (!sha256Re.test(digest)) throw invalid(input, "sha256 digest must be 64 lowercase hex characters");
    } else if (!digestRe.test(digest)) {
      throw invalid(input, `digest ${JSON.stringify(digest)} is not algorithm:hex`);
    } else {
      throw invalid(input, `digest algorithm ${JSON.stringify(digest.split(":")[0])} is not supported (only sha256)`);
    }
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  // A ':' after the last '/' is a tag; one before it belongs to a domain's port.
  // A ']' after the colon means an IPv6 literal like "[::1]" without tag.
  if (colon > slash && !rest.slice(colon).includes("]")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagRe.test(tag)) throw invalid(input, `tag ${JSON.stringify(tag)} must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
  }
  return { name: rest, tag, digest };
}

/** Splits a familiar name into domain and path, applying docker.io and library/ defaults. */
function splitDomain(name: string): { domain: string; path: string } {
  const i = name.indexOf("/");
  let domain: string;
  let path: string;
  const first = i < 0 ? "" : name.slice(0, i);
  if (i < 0 || (!/[.:]/.test(first) && first !== "localhost" && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    path = name;
  } else {
    domain = first;
    path = name.slice(i + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes("/")) path = OFFICIAL_REPO_PREFIX + path;
  return { domain, path };
}

export interface ParseOptions {
  /** Add `:latest` when the input has neither tag nor digest (default true). */
  defaultTag?: boolean;
}

/**
 * Parses a reference as docker's CLI does (`busybox` → `docker.io/library/busybox:latest`).
 * Every invalid form throws InvalidArgument "invalid reference format: <input>: <what is wrong>".
 */
export function parseReference(input: string, opts: ParseOptions = {}): Reference {
  if (input === "") throw invalid(input, "reference is empty");
  if (/\s/.test(input)) throw invalid(input, "reference contains whitespace");
  if (hex64Re.test(input)) {
    throw invalid(input, "a 64-character hexadecimal string is an image ID, not a repository name");
  }
  const { name, tag, digest } = splitReference(input);
  if (name === "") throw invalid(input, "repository name is empty");
  if (name.startsWith("/") || name.endsWith("/") || name.includes("//")) {
    throw invalid(input, "repository name has an empty path component");
  }
  const { domain, path } = splitDomain(name);
  if (!domainRe.test(domain)) throw invalid(input, `registry ${JSON.stringify(domain)} is not a valid host[:port]`);
  for (const comp of path.split("/")) {
    if (pathComponentRe.test(comp)) continue;
    if (pathComponentAnyCaseRe.test(comp)) {
      throw invalid(input, `repository name (${path}) must be lowercase`);
    }
    throw invalid(input, `path component ${JSON.stringify(comp)} must be lowercase letters and digits joined by '.', '_', '__' or '-'`);
  }
  const full = `${domain}/${path}`;
  if (full.length > NAME_TOTAL_LENGTH_MAX) {
    throw invalid(input, `repository name is ${full.length} characters long, more than ${NAME_TOTAL_LENGTH_MAX}`);
  }
  const defaultTag = opts.defaultTag ?? true;
  const outTag = tag ?? (digest === undefined && defaultTag ? DEFAULT_TAG : undefined);
  return { domain, path, ...(outTag !== undefined ? { tag: outTag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** True when `input` parses as a reference; never throws. */
export function isValidReference(input: string): boolean {
  try { parseReference(input); return true; } catch { return false; }
}

/** `docker.io/library/busybox` */
export function referenceName(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

/** Fully qualified string form: `docker.io/library/busybox:latest@sha256:…` */
export function formatReference(ref: Reference): string {
  return referenceName(ref) + (ref.tag !== undefined ? `:${ref.tag}` : "") + (ref.digest !== undefined ? `@${ref.digest}` : "");
}

/** Name as docker displays it: `docker.io/library/busybox` → `busybox`, `docker.io/user/x` → `user/x`. */
export function familiarName(ref: Reference | string): string {
  const r = typeof ref === "string" ? parseReference(ref, { defaultTag: false }) : ref;
  if (r.domain !== DEFAULT_DOMAIN) return referenceName(r);
  if (r.path.startsWith(OFFICIAL_REPO_PREFIX) && r.path.split("/").length === 2) return r.path.slice(OFFICIAL_REPO_PREFIX.length);
  return r.path;
}

/** Familiar string form with tag and digest: `busybox:latest`, `localhost:5000/x@sha256:…` */
export function familiarString(ref: Reference): string {
  return familiarName(ref) + (ref.tag !== undefined ? `:${ref.tag}` : "") + (ref.digest !== undefined ? `@${ref.digest}` : "");
}

/** Same repository, given tag and no digest. */
export function withTag(ref: Reference, tag: string): Reference {
  if (!tagRe.test(tag)) throw invalid(tag, "tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
  return { domain: ref.domain, path: ref.path, tag };
}

/** Same repository, given digest and no tag (docker's RepoDigests form). */
export function withDigest(ref: Reference, digest: string): Reference {
  if (!sha256Re.test(digest)) throw invalid(digest, "sha256 digest must be 64 lowercase hex characters");
  return { domain: ref.domain, path: ref.path, digest };
}

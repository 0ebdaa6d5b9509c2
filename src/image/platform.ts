/**
 * Platforms (`os/arch[/variant]`) and the choice of one manifest from an index.
 * Normalisation follows containerd's platforms package conventions: Node/uname
 * architecture names map to GOARCH names, arm64 defaults to variant v8 and arm to v7.
 */
import { InvalidArgument, NotFound } from "../errdefs.js";
import type { Descriptor, ImageIndex, Platform } from "./media-types.js";

const ARCH_ALIASES: Record<string, string> = {
  x64: "amd64", x86_64: "amd64", "x86-64": "amd64", aarch64: "arm64", ia32: "386", i386: "386", i686: "386",
  armhf: "arm", armel: "arm", ppc64: "ppc64", ppc64le: "ppc64le", s390x: "s390x", riscv64: "riscv64",
};

export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase();
  let architecture = p.architecture.toLowerCase();
  architecture = ARCH_ALIASES[architecture] ?? architecture;
  let variant = p.variant?.toLowerCase();
  if (architecture === "arm64" && (variant === "8" || variant === "v8")) variant = undefined;
  if (architecture === "arm" && (variant === undefined || variant === "7")) variant = "v7";
  if (architecture === "arm" && variant !== undefined && /^\d$/.test(variant)) variant = `v${variant}`;
  if (architecture === "amd64" && variant === "v1") variant = undefined;
  return { os, architecture, ...(variant !== undefined ? { variant } : {}) };
}

/** `linux/amd64`, `linux/arm64/v8`, `linux/arm/v7`; InvalidArgument on any other shape. */
export function parsePlatform(s: string): Platform {
  const parts = s.split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((x) => !/^[A-Za-z0-9_.-]+$/.test(x))) {
    throw new InvalidArgument(`invalid platform ${JSON.stringify(s)}: want os/arch[/variant], e.g. linux/amd64`);
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return normalizePlatform({ os, architecture, ...(variant !== undefined ? { variant } : {}) });
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, ...(p.variant ? [p.variant] : [])].join("/");
}

/** The host's platform; linux/amd64 on this project's machines. */
export function defaultPlatform(): Platform {
  return normalizePlatform({ os: process.platform, architecture: process.arch });
}

/** The platform docker's image inspect JSON names (Os, Architecture, Variant). */
export function inspectPlatform(img: Readonly<Record<string, unknown>>): Platform {
  return { os: String(img.Os ?? ""), architecture: String(img.Architecture ?? ""), ...(img.Variant ? { variant: String(img.Variant) } : {}) };
}

/** Does an index entry's platform satisfy `want`? A wanted variant must match; none wanted accepts any. */
export function platformMatches(want: Platform, have: Platform): boolean {
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return false;
  return w.variant === undefined || w.variant === h.variant;
}

/**
 * Picks the manifest for `want` from an index. Exact variant matches rank first;
 * entries without a platform are skipped (BuildKit attestations use "unknown/unknown").
 */
export function selectManifest(index: ImageIndex, want: Platform, what = "image"): Descriptor {
  const w = normalizePlatform(want);
  const candidates = index.manifests.filter((d) => d.platform !== undefined && platformMatches(w, d.platform));
  const exact = candidates.find((d) => normalizePlatform(d.platform!).variant === w.variant);
  const pick = exact ?? candidates[0];
  if (!pick) {
    const offered = index.manifests.filter((d) => d.platform).map((d) => formatPlatform(normalizePlatform(d.platform!)));
    throw new NotFound(`${what}: no matching manifest for ${formatPlatform(w)} in the manifest list entries (has: ${offered.join(", ") || "none"})`);
  }
  return pick;
}

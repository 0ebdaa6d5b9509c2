/**
 * Chain IDs (OCI image-spec config.md "Layer ChainID"): the identity of a
 * stack of layers, so a committed snapshot can be shared by every image whose
 * layers start the same way.
 *   ChainID(L0) = DiffID(L0)
 *   ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln))
 */
import { createHash } from "node:crypto";
import { InvalidArgument } from "../errdefs.js";

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function chainId(diffIds: readonly string[]): string {
  if (diffIds.length === 0) throw new InvalidArgument("chainId of no layers");
  let id: string | undefined;
  for (const d of diffIds) id = extendChain(id, d);
  return id!;
}

/** The chain ID of `parent` (a chain ID, or none) with one more layer on top. */
export function extendChain(parent: string | undefined, diffId: string): string {
  if (!DIGEST.test(diffId)) throw new InvalidArgument(`diff_id ${JSON.stringify(diffId)} is not a sha256 digest`);
  return parent === undefined ? diffId : `sha256:${createHash("sha256").update(`${parent} ${diffId}`).digest("hex")}`;
}

/**
 * Where the project is, and a path helper the image builder's modules share.
 *
 * @module
 */

/** The project root (the parent of vm/). */
export const PROJECT_ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Adds every parent folder of `path` (relative, "/"-separated) to `into`. */
export function parents(path: string, into: Set<string>): void {
  const parts = path.split("/");
  for (let i = 1; i < parts.length; i++) into.add(parts.slice(0, i).join("/"));
}

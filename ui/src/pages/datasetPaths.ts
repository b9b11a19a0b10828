// The URLs of the dataset pages, kept in one place because the page and its links must agree:
//   /datasets                                  every dataset
//   /datasets/<ref>                            one version (churn-raw, churn-raw@v2, default/churn-raw@prod)
//   /datasets/<name>/diff?a=v1&b=v2            the diff of two versions of <name>
// A side of a diff is a version selector of <name> (v1, latest, an alias) or, when it holds an
// "@", a whole reference (so train@v3 can be diffed against test@v3).

export type DatasetRoute =
  | { page: "list" }
  | { page: "version"; ref: string }
  | { page: "diff"; name: string; a: string; b: string };

/** What the rest of a /datasets/... path and its query string show. */
export function datasetRoute(rest: string, search: URLSearchParams): DatasetRoute {
  const path = rest.replace(/^\/+|\/+$/g, "");
  if (!path) return { page: "list" };
  const a = search.get("a") ?? "";
  const b = search.get("b") ?? "";
  // A dataset may be called "diff": only a path ending in /diff *with* a or b is the diff page.
  if (path.endsWith("/diff") && (a || b)) {
    return { page: "diff", name: path.slice(0, -"/diff".length), a, b };
  }
  return { page: "version", ref: path };
}

/** The dataset name of a reference, with its project if it has one: default/churn@v2 -> default/churn. */
export function datasetName(ref: string): string {
  const at = ref.indexOf("@");
  return at < 0 ? ref : ref.slice(0, at);
}

/** The reference one side of a diff names. */
export function sideRef(name: string, side: string): string {
  if (side.includes("@")) return side;
  return `${name}@${side || "latest"}`;
}

/** The selector of a version inside its dataset: v3. */
export function versionSelector(version: number): string {
  return `v${version}`;
}

export function datasetPath(ref: string): string {
  return `/datasets/${ref}`;
}

export function diffPath(name: string, a: string, b: string): string {
  const query = new URLSearchParams({ a, b });
  return `/datasets/${name}/diff?${query.toString()}`;
}

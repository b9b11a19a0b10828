// The requests the pages opened most often make first, built in one place: index.html's early
// script sends the same ones while the bundle is still downloading (see api.ts, takeEarly), and
// early.test.ts checks that both sides build them alike.

/** Runs loaded by the runs table's first request; each later page holds RUNS_PAGE. The first
 * is smaller: it only has to fill the view, and it is answered sooner. */
export const RUNS_FIRST_PAGE = 100;
export const RUNS_PAGE = 200;

/** The body of POST /runs/search for the runs table; key order matters (it is compared as text). */
export function runsSearchBody(filter: string, order: string, token: string | null) {
  return {
    filter: filter || null,
    order_by: order ? [order] : null,
    limit: token ? RUNS_PAGE : RUNS_FIRST_PAGE,
    page_token: token,
  };
}

/** The most nodes the lineage page asks for. */
export const LINEAGE_MAX_NODES = 2000;

/** The query of GET /views/lineage; key order matters (it is compared as text). */
export function lineageQuery(ref: string, depth: string, direction: string, asOf: string) {
  return { ref, depth, direction, as_of: asOf || undefined, max_nodes: LINEAGE_MAX_NODES };
}

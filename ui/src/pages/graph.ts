// What the lineage page draws of the graph it holds: pure functions, tested with Vitest.
import { GraphEdge, GraphNode } from "../types";

/** More nodes than this of one type and kind at one level: drawn as one cluster. */
export const CLUSTER_AT = 25;

export interface Graph {
  nodes: Map<string, GraphNode>;
  edges: Map<string, GraphEdge>;
  startId: string | null;
  total: number;
  truncated: boolean;
  hiddenLater: number;
}

/** The nodes and edges to draw: a level holding more than CLUSTER_AT nodes of one type and
 * kind (a sweep of 1,000 training runs, their 1,000 models) becomes one cluster node. */
export function visible(graph: Graph, openClusters: Set<string>, search: string) {
  const groups = new Map<string, GraphNode[]>();
  for (const n of graph.nodes.values()) {
    if (n.id === graph.startId) continue;
    const key = `${n.depth}|${n.type}|${n.kind}`;
    const group = groups.get(key);
    if (group) group.push(n);
    else groups.set(key, [n]);
  }
  const q = search.trim().toLowerCase();
  const clusterOf = new Map<string, string>();
  const clusters = new Map<string, GraphNode[]>();
  for (const [key, members] of groups) {
    if (members.length <= CLUSTER_AT || openClusters.has(key)) continue;
    if (q && members.some((m) => m.label.toLowerCase().includes(q))) continue; // a search opens it
    clusters.set(key, members);
    for (const m of members) clusterOf.set(m.id, `cluster:${key}`);
  }
  const nodes = [...graph.nodes.values()].filter((n) => !clusterOf.has(n.id));
  const edges = new Map<string, { id: string; source: string; target: string; label: string }>();
  for (const [id, e] of graph.edges) {
    const source = clusterOf.get(e.source) ?? e.source;
    const target = clusterOf.get(e.target) ?? e.target;
    const key = source.startsWith("cluster:") || target.startsWith("cluster:") ? `${source}>${target}` : id;
    edges.set(key, { id: key, source, target, label: e.role ?? e.type });
  }
  return { nodes, clusters, edges: [...edges.values()] };
}


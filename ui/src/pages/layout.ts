// The lineage graph's layout, off the main thread: ELK's layered algorithm, left to right the
// way data flows, run in elkjs's own web worker (elk-worker.min.js, served as a static file).
import ELK from "elkjs/lib/elk-api.js";
import workerUrl from "elkjs/lib/elk-worker.min.js?url";

export interface Box { id: string; width: number; height: number }
export interface Link { id: string; source: string; target: string }
export type Positions = Record<string, { x: number; y: number }>;

let elk: InstanceType<typeof ELK> | null = null;

/** Start the layout worker (it loads ~1.5 MB of code) while the graph is still being fetched. */
export function warmLayout(): void {
  elk ??= new ELK({ workerUrl });
  elk.layout({ id: "warm", children: [{ id: "a", width: 1, height: 1 }], edges: [] }).catch(() => undefined);
}

/** Past this many nodes ELK's layered layout takes seconds; a direct layering takes
 * milliseconds and reads the same way (left to right, by longest path from the sources). */
export const ELK_UP_TO = 800;

export async function layout(nodes: Box[], edges: Link[]): Promise<Positions> {
  if (nodes.length > ELK_UP_TO) return layered(nodes, edges);
  elk ??= new ELK({ workerUrl });
  const big = nodes.length > 400;
  const result = await elk.layout({
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "RIGHT",
      "elk.layered.spacing.nodeNodeBetweenLayers": "70",
      "elk.spacing.nodeNode": "18",
      "elk.layered.nodePlacement.strategy": big ? "SIMPLE" : "BRANDES_KOEPF",
      "elk.layered.thoroughness": big ? "1" : "7",
      ...(big ? {
        "elk.layered.layering.strategy": "LONGEST_PATH",
        "elk.edgeRouting": "POLYLINE",
        "elk.layered.crossingMinimization.greedySwitch.type": "OFF",
      } : {}),
    },
    children: nodes,
    edges: edges.map((e) => ({ id: e.id, sources: [e.source], targets: [e.target] })),
  });
  const positions: Positions = {};
  for (const child of result.children ?? []) positions[child.id] = { x: child.x ?? 0, y: child.y ?? 0 };
  return positions;
}

/** Longest-path layering, then barycenter ordering: down the layers by the mean rank of each
 * node's parents, back up by its children's, and down once more (each sweep O(nodes + edges)
 * plus a sort per layer), then coordinates by layer: good enough for a graph too big to read
 * node by node anyway. */
export function layered(nodes: Box[], edges: Link[], gapX = 80, gapY = 16): Positions {
  if (!nodes.length) return {};
  const ids = new Set(nodes.map((n) => n.id));
  const parents = new Map<string, string[]>();
  const children = new Map<string, string[]>();
  const indegree = new Map<string, number>(nodes.map((n) => [n.id, 0]));
  for (const e of edges) {
    if (!ids.has(e.source) || !ids.has(e.target) || e.source === e.target) continue;
    (parents.get(e.target) ?? parents.set(e.target, []).get(e.target)!).push(e.source);
    (children.get(e.source) ?? children.set(e.source, []).get(e.source)!).push(e.target);
    indegree.set(e.target, (indegree.get(e.target) ?? 0) + 1);
  }
  const layer = new Map<string, number>();
  const queue = nodes.filter((n) => indegree.get(n.id) === 0).map((n) => n.id);
  for (const id of queue) layer.set(id, 0);
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i];
    for (const child of children.get(id) ?? []) {
      layer.set(child, Math.max(layer.get(child) ?? 0, (layer.get(id) ?? 0) + 1));
      const left = (indegree.get(child) ?? 1) - 1;
      indegree.set(child, left);
      if (left === 0) queue.push(child);
    }
  }
  for (const n of nodes) if (!layer.has(n.id)) layer.set(n.id, 0); // on a cycle: first layer
  const layers: string[][] = [];
  for (const n of nodes) (layers[layer.get(n.id)!] ??= []).push(n.id);
  for (let i = 0; i < layers.length; i++) layers[i] ??= [];
  const rank = new Map<string, number>();
  const order = (ids: string[], by: Map<string, string[]>) => {
    const score = new Map<string, number>();
    for (const id of ids) {
      let sum = 0, count = 0;
      for (const other of by.get(id) ?? []) {
        const r = rank.get(other);
        if (r !== undefined) { sum += r; count++; }
      }
      score.set(id, count ? sum / count : rank.get(id) ?? 0); // no neighbour ranked: stays put
    }
    ids.sort((a, b) => score.get(a)! - score.get(b)!);
    ids.forEach((id, r) => rank.set(id, r));
  };
  for (const ids of layers) order(ids, parents);
  for (let x = layers.length - 2; x >= 0; x--) order(layers[x], children);
  for (let x = 1; x < layers.length; x++) order(layers[x], parents);
  const positions: Positions = {};
  const width = Math.max(...nodes.map((n) => n.width));
  const height = Math.max(...nodes.map((n) => n.height));
  layers.forEach((ids, x) => {
    const offset = -((ids.length - 1) * (height + gapY)) / 2;
    ids.forEach((id, y) => {
      positions[id] = { x: x * (width + gapX), y: offset + y * (height + gapY) };
    });
  });
  return positions;
}

// The lineage graph's layout, off the main thread: ELK's layered algorithm, left to right the
// way data flows, run in elkjs's own web worker (elk-worker.min.js, served as a static file).
import ELK from "elkjs/lib/elk-api.js";
import workerUrl from "elkjs/lib/elk-worker.min.js?url";

export interface Box { id: string; width: number; height: number }
export interface Link { id: string; source: string; target: string }
export type Positions = Record<string, { x: number; y: number }>;

let elk: InstanceType<typeof ELK> | null = null;

export async function layout(nodes: Box[], edges: Link[]): Promise<Positions> {
  elk ??= new ELK({ workerUrl });
  const big = nodes.length > 800;
  const result = await elk.layout({
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "RIGHT",
      "elk.layered.spacing.nodeNodeBetweenLayers": "70",
      "elk.spacing.nodeNode": "18",
      "elk.layered.nodePlacement.strategy": big ? "SIMPLE" : "BRANDES_KOEPF",
      "elk.layered.thoroughness": big ? "1" : "7",
    },
    children: nodes,
    edges: edges.map((e) => ({ id: e.id, sources: [e.source], targets: [e.target] })),
  });
  const positions: Positions = {};
  for (const child of result.children ?? []) positions[child.id] = { x: child.x ?? 0, y: child.y ?? 0 };
  return positions;
}

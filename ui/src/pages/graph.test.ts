import { describe, expect, it } from "vitest";
import { CLUSTER_AT, Graph, visible } from "./graph";
import { layered } from "./layout";
import { GraphEdge, GraphNode } from "../types";

function node(id: string, depth: number, type: GraphNode["type"] = "run", kind = "train"): GraphNode {
  return {
    id, type, ref: id, label: `${type} ${id}`, project: "p", name: id, kind, version: 1, digest: null,
    status: null, detail: null, time: null, tainted: false, depth, role: null, beyond_depth: false, flags: [],
  };
}

function fan(width: number): Graph {
  const nodes = new Map<string, GraphNode>([["data", node("data", 0, "artifact", "dataset")]]);
  const edges = new Map<string, GraphEdge>();
  for (let i = 0; i < width; i++) {
    nodes.set(`r${i}`, node(`r${i}`, 1));
    nodes.set(`m${i}`, node(`m${i}`, 2, "artifact", "model"));
    edges.set(`data>r${i}`, { source: "data", target: `r${i}`, type: "input", role: "grid" });
    edges.set(`r${i}>m${i}`, { source: `r${i}`, target: `m${i}`, type: "output", role: "output" });
  }
  return { nodes, edges, startId: "data", total: nodes.size, truncated: false, hiddenLater: 0 };
}

describe("visible", () => {
  it("draws a narrow graph as it is", () => {
    const shown = visible(fan(CLUSTER_AT), new Set(), "");
    expect(shown.clusters.size).toBe(0);
    expect(shown.nodes).toHaveLength(1 + 2 * CLUSTER_AT);
    expect(shown.edges).toHaveLength(2 * CLUSTER_AT);
  });

  it("collapses each wide level into one cluster with one edge between clusters", () => {
    const shown = visible(fan(100), new Set(), "");
    expect([...shown.clusters.values()].map((m) => m.length)).toEqual([100, 100]);
    expect(shown.nodes.map((n) => n.id)).toEqual(["data"]);
    expect(shown.edges.map((e) => [e.source, e.target])).toEqual([
      ["data", "cluster:1|run|train"],
      ["cluster:1|run|train", "cluster:2|artifact|model"],
    ]);
  });

  it("opens a cluster when asked, or when the search matches inside it", () => {
    expect(visible(fan(100), new Set(["1|run|train"]), "").clusters.size).toBe(1);
    const searched = visible(fan(100), new Set(), "artifact m42");
    expect([...searched.clusters.keys()]).toEqual(["1|run|train"]);
    expect(searched.nodes.some((n) => n.id === "m42")).toBe(true);
  });
});

describe("layered", () => {
  it("puts each node one layer right of its furthest parent", () => {
    const boxes = ["a", "b", "c", "d"].map((id) => ({ id, width: 100, height: 40 }));
    const links = [
      { id: "1", source: "a", target: "b" }, { id: "2", source: "b", target: "c" },
      { id: "3", source: "a", target: "c" }, { id: "4", source: "c", target: "d" },
    ];
    const at = layered(boxes, links);
    expect([at.a.x, at.b.x, at.c.x, at.d.x]).toEqual([0, 180, 360, 540]);
  });

  it("survives a cycle and places every node", () => {
    const boxes = ["a", "b"].map((id) => ({ id, width: 10, height: 10 }));
    const at = layered(boxes, [{ id: "1", source: "a", target: "b" }, { id: "2", source: "b", target: "a" }]);
    expect(Object.keys(at).sort()).toEqual(["a", "b"]);
  });

  it("keeps every edge pointing right and no two nodes overlapping, on the bench's pipeline", () => {
    // 40 stages of 25 runs and 25 datasets, each run reading two datasets of the stage before.
    const boxes = [{ id: "raw", width: 210, height: 58 }];
    const links: { id: string; source: string; target: string }[] = [];
    for (let s = 0; s < 40; s++) {
      for (let i = 0; i < 25; i++) {
        boxes.push({ id: `r${s}-${i}`, width: 210, height: 58 }, { id: `d${s}-${i}`, width: 210, height: 58 });
        const reads = s === 0 ? ["raw"] : [`d${s - 1}-${i}`, `d${s - 1}-${(i + 1) % 25}`];
        for (const r of reads) links.push({ id: `${r}>r${s}-${i}`, source: r, target: `r${s}-${i}` });
        links.push({ id: `r${s}-${i}>d${s}-${i}`, source: `r${s}-${i}`, target: `d${s}-${i}` });
      }
    }
    const at = layered(boxes, links);
    expect(Object.keys(at)).toHaveLength(boxes.length);
    for (const l of links) expect(at[l.target].x).toBeGreaterThan(at[l.source].x);
    const sorted = boxes.map((b) => at[b.id]).sort((a, b) => a.x - b.x || a.y - b.y);
    for (let i = 1; i < sorted.length; i++) {
      const [a, b] = [sorted[i - 1], sorted[i]];
      if (a.x === b.x) expect(b.y - a.y).toBeGreaterThanOrEqual(58);
      else expect(b.x - a.x).toBeGreaterThanOrEqual(210);
    }
    // each run sits level with the dataset it writes (its only child, its only parent)
    const level = links.filter((l) => l.target.startsWith("d")).filter((l) => at[l.source].y === at[l.target].y);
    expect(level.length).toBe(40 * 25);
  });

  it("lays out 2,000 nodes", () => {
    const boxes = Array.from({ length: 2000 }, (_, i) => ({ id: `n${i}`, width: 210, height: 58 }));
    const links = boxes.slice(1).map((b, i) => ({ id: `e${i}`, source: `n${Math.floor(i / 3)}`, target: b.id }));
    const at = layered(boxes, links);
    expect(Object.keys(at)).toHaveLength(2000);
    const ys = new Set(boxes.filter((b) => at[b.id].x === at.n1.x).map((b) => at[b.id].y));
    expect(ys.size).toBe(boxes.filter((b) => at[b.id].x === at.n1.x).length); // no overlap
  });
});

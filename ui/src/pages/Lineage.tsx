// The lineage graph: start from any reference, one hop each way; expand a node (one hop) or
// a whole side (full depth); nodes styled by kind and state; edges labelled with their role;
// ELK layout in a web worker; wide fans collapsed into a searchable cluster; a side panel with
// the selected node; an as-of time to see the graph as it was.
import { createContext, FormEvent, memo, ReactNode, useCallback, useContext, useEffect, useMemo, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import {
  Background, Controls, Edge, getViewportForBounds, Handle, MiniMap, Node, NodeProps, Position, ReactFlow,
  ReactFlowProvider, useReactFlow, useStore, useStoreApi, ViewportPortal,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { api, ApiError, toApiError } from "../api";
import { GraphEdge, GraphNode, LineageView } from "../types";
import { Badge, bytes, ErrorBox, shortId, when } from "../components/common";
import { layout, warmLayout } from "./layout";
import { Graph, visible } from "./graph";
import { datasetPath } from "./datasetPaths";
import { lineageQuery } from "./requests";

const WIDTH = 210;
const HEIGHT = 58;
const LABELS_UP_TO = 400; // edge labels only while they stay readable and cheap
const FAR_ZOOM = 0.2; // below this zoom a node's text is a pixel high: boxes only, cheaper to paint
const BIG = 300; // more nodes: drawn the cheap way (no minimap, no animated fit, bare boxes far out)
const MIN_ZOOM = 0.01;
const MAX_FIT_ZOOM = 1.2;

/** True while a big graph is drawn zoomed out and has not been zoomed in on yet: its nodes are
 * rendered as bare boxes (what the stylesheet shows of them that far out anyway), which is
 * most of the cost of its first drawing; the first zoom past FAR_ZOOM renders their text. */
const Bare = createContext(false);

type NodeData = { node?: GraphNode; cluster?: { key: string; members: GraphNode[] }; selected: boolean; match: boolean; plain?: boolean };

const EMPTY: Graph = { nodes: new Map(), edges: new Map(), startId: null, total: 0, truncated: false, hiddenLater: 0 };

export function LineagePage({ refText }: { refText: string }) {
  return (
    <ReactFlowProvider>
      <Lineage refText={refText} />
    </ReactFlowProvider>
  );
}

function Lineage({ refText }: { refText: string }) {
  const [params, setParams] = useSearchParams();
  const asOf = params.get("as_of") ?? "";
  const depth = params.get("depth") ?? "1";
  const direction = params.get("direction") ?? "both";
  const [graph, setGraph] = useState<Graph>(EMPTY);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [selected, setSelected] = useState<string | null>(null);
  const [openClusters, setOpenClusters] = useState<Set<string>>(new Set());
  const [search, setSearch] = useState("");
  const [span, setSpan] = useState<[number, number] | null>(null);

  const load = useCallback(
    async (ref: string, d: string, dir: string, merge: boolean) => {
      setBusy(true);
      try {
        const view = await api<LineageView>("/views/lineage", {
          query: lineageQuery(ref, d, dir, asOf),
        });
        setGraph((old) => {
          const nodes = merge ? new Map(old.nodes) : new Map<string, GraphNode>();
          const edges = merge ? new Map(old.edges) : new Map<string, GraphEdge>();
          for (const n of view.nodes) {
            const had = nodes.get(n.id);
            // A node reached again keeps its first depth; beyond_depth clears once expanded.
            nodes.set(n.id, had ? { ...n, depth: had.depth, beyond_depth: had.beyond_depth && n.beyond_depth } : n);
          }
          for (const e of view.edges) edges.set(`${e.source}>${e.target}:${e.role ?? e.type}`, e);
          if (merge) {
            const expanded = nodes.get(view.start);
            if (expanded) nodes.set(view.start, { ...expanded, beyond_depth: false });
          }
          return {
            nodes, edges, startId: merge ? old.startId : view.start,
            total: Math.max(view.total, nodes.size), truncated: view.truncated || (merge && old.truncated),
            hiddenLater: view.hidden_later,
          };
        });
        if (!merge) setSelected(view.start);
        const times = view.nodes.map((n) => (n.time ? Date.parse(n.time) : NaN)).filter((t) => !isNaN(t));
        if (times.length && !asOf) setSpan((s) => [Math.min(s?.[0] ?? Infinity, ...times), Date.now()]);
        setError(null);
      } catch (e) {
        setError(toApiError(e));
      } finally {
        setBusy(false);
      }
    },
    [asOf],
  );

  useEffect(() => {
    setOpenClusters(new Set());
    load(refText, depth, direction, false);
  }, [refText, depth, direction, load]);

  const setParam = (key: string, value: string | null) => {
    const p = new URLSearchParams(params);
    value ? p.set(key, value) : p.delete(key);
    setParams(p);
  };

  const node = selected ? graph.nodes.get(selected) ?? null : null;
  return (
    <div className="lineage">
      <div className="toolbar">
        <h1 className="inline">Lineage of <span className="mono">{refText}</span></h1>
        <label>depth <select aria-label="depth" value={depth} onChange={(e) => setParam("depth", e.target.value)}>
          {["1", "2", "3", "5", "all"].map((d) => <option key={d}>{d}</option>)}
        </select></label>
        <label>direction <select aria-label="direction" value={direction} onChange={(e) => setParam("direction", e.target.value)}>
          {["both", "up", "down"].map((d) => <option key={d}>{d}</option>)}
        </select></label>
        <AsOf asOf={asOf} span={span} onChange={(v) => setParam("as_of", v)} />
        <SearchBox value={search} onChange={setSearch} graph={graph} onPick={(id) => { setSelected(id); }} />
        {busy ? <span className="muted">loading…</span> : null}
      </div>
      <ErrorBox error={error} />
      {graph.truncated ? (
        <div className="note" data-testid="truncated">
          Showing {graph.nodes.size} of {graph.total} nodes: past the limit the graph is cut, not frozen.
          Narrow it with a smaller depth, one direction, or an as-of time.
        </div>
      ) : null}
      {asOf ? (
        <div className="note">As of {when(asOf)}: {graph.hiddenLater} later node{graph.hiddenLater === 1 ? "" : "s"} hidden; deployments and stages as they were then.</div>
      ) : null}
      <div className="lineage-body">
        <GraphCanvas
          graph={graph}
          selected={selected}
          search={search}
          openClusters={openClusters}
          whole={depth === "all"}
          onSelect={setSelected}
          onOpenCluster={(key) => setOpenClusters((s) => new Set(s).add(key))}
        />
        <SidePanel
          node={node}
          isStart={node?.id === graph.startId}
          onExpand={(n, d, dir) => load(n.ref, d, dir, true)}
        />
      </div>
    </div>
  );
}

function AsOf({ asOf, span, onChange }: { asOf: string; span: [number, number] | null; onChange: (v: string | null) => void }) {
  const local = asOf ? toLocalInput(new Date(asOf)) : "";
  const [slider, setSlider] = useState<number | null>(null);
  const value = slider ?? (asOf ? Date.parse(asOf) : span?.[1] ?? 0);
  return (
    <span className="asof">
      <label>as of <input aria-label="as of" type="datetime-local" step="1" value={local}
        onChange={(e) => onChange(e.target.value ? new Date(e.target.value).toISOString() : null)} /></label>
      {span && span[1] > span[0] ? (
        <input aria-label="as of slider" type="range" min={span[0]} max={span[1]} step={Math.max(1, Math.round((span[1] - span[0]) / 500))}
          value={Math.min(Math.max(value, span[0]), span[1])}
          onChange={(e) => setSlider(Number(e.target.value))}
          onPointerUp={() => { if (slider !== null) { onChange(new Date(slider).toISOString()); setSlider(null); } }}
          onKeyUp={() => { if (slider !== null) { onChange(new Date(slider).toISOString()); setSlider(null); } }}
        />
      ) : null}
      {slider !== null ? <span className="small mono">{when(new Date(slider).toISOString())}</span> : null}
      {asOf ? <button className="link" onClick={() => onChange(null)}>now</button> : null}
    </span>
  );
}

function toLocalInput(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function SearchBox({ value, onChange, graph, onPick }: { value: string; onChange: (v: string) => void; graph: Graph; onPick: (id: string) => void }) {
  const { fitView } = useReactFlow();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const q = value.toLowerCase();
    const hit = [...graph.nodes.values()].find((n) => n.label.toLowerCase().includes(q));
    if (hit) {
      onPick(hit.id);
      setTimeout(() => fitView({ nodes: [{ id: hit.id }], duration: 300, maxZoom: 1.2 }), 50);
    }
  };
  return (
    <form onSubmit={submit} className="inline">
      <input aria-label="search nodes" placeholder="find a node" value={value} onChange={(e) => onChange(e.target.value)} />
    </form>
  );
}

// -- drawing ---------------------------------------------------------------------------------
/** ``warm``: start ELK's worker now (~1.5 MB of code to compile), for a graph ELK will lay
 * out; a whole graph (depth=all) is most often past ELK_UP_TO, laid out without it, and the
 * worker would only take CPU from drawing it. */
function useLayout(warm: boolean) {
  const pending = useRef(0);
  useEffect(() => {
    if (warm) warmLayout();
  }, [warm]);
  return useCallback(async (nodes: { id: string }[], edges: { id: string; source: string; target: string }[]) => {
    const id = ++pending.current;
    const positions = await layout(nodes.map((n) => ({ id: n.id, width: WIDTH, height: HEIGHT })), edges);
    return id === pending.current ? positions : null; // a newer layout wins
  }, []);
}

function GraphCanvas(props: {
  graph: Graph; selected: string | null; search: string; openClusters: Set<string>; whole: boolean;
  onSelect: (id: string) => void; onOpenCluster: (key: string) => void;
}) {
  const { graph, selected, search, openClusters, whole, onSelect, onOpenCluster } = props;
  const runLayout = useLayout(!whole);
  const { fitView, setViewport } = useReactFlow();
  const store = useStoreApi();
  const fittedAhead = useRef(false);
  const [positions, setPositions] = useState<Record<string, { x: number; y: number }>>({});
  const [layoutError, setLayoutError] = useState<string | null>(null);
  const [layoutMs, setLayoutMs] = useState<number | null>(null);
  const shown = useMemo(() => visible(graph, openClusters, search), [graph, openClusters, search]);
  const shape = useMemo(
    () => [...shown.nodes.map((n) => n.id), ...[...shown.clusters.keys()].map((k) => `cluster:${k}`)].sort().join(",") + "#" + shown.edges.length,
    [shown],
  );
  useEffect(() => {
    const ids = [...shown.nodes.map((n) => ({ id: n.id })), ...[...shown.clusters.keys()].map((k) => ({ id: `cluster:${k}` }))];
    if (!ids.length) return;
    let live = true;
    const started = performance.now();
    runLayout(ids, shown.edges)
      .then((p) => {
        if (live && p) {
          setLayoutMs(Math.round(performance.now() - started));
          if (Object.keys(p).length > BIG) {
            // Fitted before its nodes are drawn, from the positions and the fixed node size:
            // the nodes are then rendered once, already at the zoom they are seen at (bare
            // boxes), not first at the previous zoom and again through fitView's passes.
            const { width, height } = store.getState();
            if (width && height) {
              void setViewport(fitted(p, width, height), { duration: 0 });
              fittedAhead.current = true;
            }
          }
          setPositions(p);
          setLayoutError(null);
        }
      })
      .catch((e) => live && setLayoutError(String(e)));
    return () => { live = false; };
  }, [shape]); // eslint-disable-line react-hooks/exhaustive-deps

  const q = search.trim().toLowerCase();
  // Past LABELS_UP_TO edges the graph is drawn the cheap way: edges as a few SVG paths of our
  // own (not thousands of React Flow edge components, each subscribed to its store) and nodes
  // without handle components.
  const plain = shown.edges.length > LABELS_UP_TO;
  // Node objects are kept while their inputs stay the same, so selecting or searching
  // re-renders the few nodes that changed, not all of them.
  const cache = useRef(new Map<string, { n: GraphNode; at: { x: number; y: number }; sel: boolean; match: boolean; plain: boolean; node: Node<NodeData> }>());
  const nodes: Node<NodeData>[] = useMemo(() => {
    const out: Node<NodeData>[] = [];
    const kept = new Map<string, { n: GraphNode; at: { x: number; y: number }; sel: boolean; match: boolean; plain: boolean; node: Node<NodeData> }>();
    for (const n of shown.nodes) {
      const at = positions[n.id];
      if (!at) continue;
      const sel = n.id === selected;
      const match = !!q && n.label.toLowerCase().includes(q);
      const had = cache.current.get(n.id);
      const node = had && had.n === n && had.at === at && had.sel === sel && had.match === match && had.plain === plain
        ? had.node
        : { ...fixed(n.id, "lineal", at), data: { node: n, selected: sel, match, plain } };
      kept.set(n.id, { n, at, sel, match, plain, node });
      out.push(node);
    }
    cache.current = kept;
    for (const [key, members] of shown.clusters) {
      const id = `cluster:${key}`;
      const at = positions[id];
      if (at) out.push({ ...fixed(id, "cluster", at), data: { cluster: { key, members }, selected: false, match: false, plain } });
    }
    return out;
  }, [shown, positions, selected, q, plain]);
  const drawn = useMemo(
    () => shown.edges.filter((e) => positions[e.source] && positions[e.target]),
    [shown, positions],
  );
  const edges: Edge[] = useMemo(
    () => plain ? [] : drawn.map((e) => ({
      id: e.id, source: e.source, target: e.target, label: e.label, className: `e-${e.label}`,
    })),
    [drawn, plain],
  );
  const big = nodes.length > BIG;
  const far = useStore((s) => s.transform[2] < FAR_ZOOM);
  const [detailed, setDetailed] = useState(false);
  useEffect(() => {
    // Each new layout is fitted once its nodes are in React Flow's store (its effects ran
    // before this one). The nodes come with their sizes (see fixed), so no measuring pass
    // comes first. A big graph was fitted already, before its nodes were drawn (see above).
    if (nodes.length && !fittedAhead.current) fitView({ maxZoom: MAX_FIT_ZOOM, duration: big ? 0 : 200 });
    fittedAhead.current = false;
    setDetailed(false);
  }, [positions]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => {
    if (!far && nodes.length) setDetailed(true); // zoomed in: text from now on
  }, [far, nodes.length]);
  const bare = big && far && !detailed;
  return (
    <div className={far ? "canvas far" : "canvas"} data-testid="lineage-graph" data-layout-ms={layoutMs ?? undefined} data-nodes={nodes.length}>
      {layoutError ? <div className="error">layout failed: {layoutError}</div> : null}
      <Bare.Provider value={bare}>
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={NODE_TYPES}
        onNodeClick={(_, n) => (n.type === "cluster" ? onOpenCluster((n.data as NodeData).cluster!.key) : onSelect(n.id))}
        nodesDraggable={false}
        nodesConnectable={false}
        nodesFocusable={!big}
        edgesFocusable={false}
        elevateNodesOnSelect={false}
        onlyRenderVisibleElements={false}
        minZoom={MIN_ZOOM}
        proOptions={{ hideAttribution: true }}
      >
        {plain ? <EdgeLayer edges={drawn} positions={positions} /> : null}
        <Background />
        <Controls showInteractive={false} />
        {nodes.length > 30 && !big ? <MiniMap pannable zoomable /> : null}
      </ReactFlow>
      </Bare.Provider>
    </div>
  );
}

/** A node of the fixed size the stylesheet gives it, with its handles where the node
 * components draw them: React Flow then needs no measuring pass (a ResizeObserver callback and
 * a re-render of every node) before it can draw edges and fit the view. */
function fixed(id: string, type: string, position: { x: number; y: number }) {
  return {
    id, type, position, width: WIDTH, height: HEIGHT, measured: { width: WIDTH, height: HEIGHT },
    handles: [
      { type: "target" as const, position: Position.Left, x: 0, y: HEIGHT / 2, width: 1, height: 1 },
      { type: "source" as const, position: Position.Right, x: WIDTH - 1, y: HEIGHT / 2, width: 1, height: 1 },
    ],
  };
}

/** The viewport fitView would choose for these positions (its default padding, our zoom
 * bounds), for nodes of the fixed size. */
function fitted(positions: Record<string, { x: number; y: number }>, width: number, height: number) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const at of Object.values(positions)) {
    x0 = Math.min(x0, at.x); y0 = Math.min(y0, at.y);
    x1 = Math.max(x1, at.x + WIDTH); y1 = Math.max(y1, at.y + HEIGHT);
  }
  return getViewportForBounds({ x: x0, y: y0, width: x1 - x0, height: y1 - y0 }, width, height, MIN_ZOOM, MAX_FIT_ZOOM, 0.1);
}

/** The edges of a big graph: one SVG path per role, curves drawn the way React Flow draws its
 * bezier edges (right side of the source to the left side of the target). */
const EdgeLayer = memo(function EdgeLayer({ edges, positions }: {
  edges: { source: string; target: string; label: string }[]; positions: Record<string, { x: number; y: number }>;
}) {
  const paths = useMemo(() => {
    const byRole = new Map<string, string[]>();
    for (const e of edges) {
      const s = positions[e.source], t = positions[e.target];
      const sx = s.x + WIDTH, sy = s.y + HEIGHT / 2, tx = t.x, ty = t.y + HEIGHT / 2;
      const dx = Math.max(Math.abs(tx - sx) / 2, 30);
      const d = `M${sx},${sy}C${sx + dx},${sy} ${tx - dx},${ty} ${tx},${ty}`;
      (byRole.get(e.label) ?? byRole.set(e.label, []).get(e.label)!).push(d);
    }
    return [...byRole].map(([role, ds]) => ({ role, d: ds.join("") }));
  }, [edges, positions]);
  return (
    <ViewportPortal>
      <svg className="edge-layer" data-edges={edges.length} aria-hidden="true">
        {paths.map((p) => <path key={p.role} className={`e-${p.role}`} d={p.d} />)}
      </svg>
    </ViewportPortal>
  );
});

const ICON: Record<string, string> = { artifact: "▣", run: "▶", model_version: "◆", deployment: "⬢" };

const LinealNode = memo(function LinealNode({ data }: NodeProps<Node<NodeData>>) {
  const n = data.node!;
  const bare = useContext(Bare);
  const title = n.type === "run" ? `${n.name}` : n.type === "deployment" ? n.name : `${n.name}@v${n.version}`;
  const sub = n.type === "run" ? `${n.kind} · ${shortId(n.id)}` : n.type === "artifact" ? n.kind : n.type === "model_version" ? `registered${n.status && n.status !== "none" ? ` · ${n.status}` : ""}` : `deployment in ${n.detail}`;
  const cls = ["gnode", `t-${n.type}`, `k-${n.kind}`, ...n.flags.map((f) => `f-${f}`), data.selected ? "selected" : "", data.match ? "match" : "", n.beyond_depth ? "more" : ""];
  if (bare) {
    return <div className={cls.join(" ")} data-testid={`node-${n.type}-${n.name}`} data-ref={n.ref} title={n.label} />;
  }
  return (
    <div className={cls.join(" ")} data-testid={`node-${n.type}-${n.name}`} data-ref={n.ref} title={n.label}>
      {data.plain ? null : <Handle type="target" position={Position.Left} />}
      <div className="gtitle"><span className="icon">{ICON[n.type]}</span> {title}</div>
      <div className="gsub">{sub}{n.flags.map((f) => <span key={f} className={`flag flag-${f}`}>{f}</span>)}</div>
      {n.beyond_depth ? <span className="more-dot" title="more beyond: expand">+</span> : null}
      {data.plain ? null : <Handle type="source" position={Position.Right} />}
    </div>
  );
});

const ClusterNode = memo(function ClusterNode({ data }: NodeProps<Node<NodeData>>) {
  const { members } = data.cluster!;
  const flagged = members.filter((m) => m.flags.length).length;
  if (useContext(Bare)) return <div className="gnode cluster" title="click to show them all" />;
  return (
    <div className="gnode cluster" title="click to show them all">
      {data.plain ? null : <Handle type="target" position={Position.Left} />}
      <div className="gtitle">{members.length} {members[0].type.replace("_", " ")}s · {members[0].kind}</div>
      <div className="gsub">{flagged ? `${flagged} flagged · ` : ""}click to expand; search finds inside</div>
      {data.plain ? null : <Handle type="source" position={Position.Right} />}
    </div>
  );
});

const NODE_TYPES = { lineal: LinealNode, cluster: ClusterNode };

// -- the side panel --------------------------------------------------------------------------
function SidePanel({ node, isStart, onExpand }: {
  node: GraphNode | null; isStart: boolean; onExpand: (n: GraphNode, depth: string, direction: string) => void;
}) {
  if (!node) return <aside className="side muted">Select a node.</aside>;
  const rows: [string, ReactNode][] = [
    ["type", node.type.replace("_", " ")], ["kind", node.kind], ["project", node.project],
    ["status", node.status ?? "—"], ["time", when(node.time)],
  ];
  if (node.digest) rows.push(["digest", <span className="mono small">{node.digest.slice(0, 23)}…</span>]);
  if (node.size !== undefined) rows.push(["size", bytes(node.size)]);
  if (node.uri) rows.push(["uri", <span className="mono small">{node.uri}</span>]);
  if (node.created_by) rows.push(["by", node.created_by]);
  if (node.dataset?.rows !== undefined) rows.push(["rows", node.dataset.rows.toLocaleString()]);
  if (node.dataset?.columns !== undefined) rows.push(["columns", node.dataset.columns]);
  if (node.role) rows.push(["reached as", node.role]);
  if (node.deployment) {
    rows.push(["environment", node.deployment.environment], ["target", node.deployment.target || "—"],
      ["model", node.deployment.model_ref], ["live from", when(node.deployment.started_at)], ["until", when(node.deployment.ended_at)]);
  }
  const model = node.type === "model_version" ? `/registry/${node.project}/${node.name}` : null;
  return (
    <aside className="side" data-testid="side-panel">
      <h2>{node.label}</h2>
      <div>{node.flags.map((f) => <Badge key={f} value={f} />)}{isStart ? <Badge value="start" /> : null}</div>
      {node.taint ? <div className="error small">tainted by {node.taint.actor} on {when(node.taint.created_at)}: {node.taint.reason}</div> : null}
      <table className="kv"><tbody>{rows.map(([k, v]) => <tr key={k}><th>{k}</th><td>{v}</td></tr>)}</tbody></table>
      {node.dataset?.schema ? (
        <details open={Object.keys(node.dataset.schema).length <= 12}>
          <summary>schema</summary>
          <table className="kv small" data-testid="schema"><tbody>
            {Object.entries(node.dataset.schema).slice(0, 200).map(([c, t]) => <tr key={c}><th>{c}</th><td className="mono">{t}</td></tr>)}
          </tbody></table>
        </details>
      ) : null}
      <div className="buttons">
        <button onClick={() => onExpand(node, "1", "both")}>Expand</button>
        <button onClick={() => onExpand(node, "all", "up")}>All upstream</button>
        <button onClick={() => onExpand(node, "all", "down")}>All downstream</button>
      </div>
      <div className="buttons">
        <Link className="button" to={`/lineage/${node.ref}`}>Start here</Link>
        {node.type === "run" ? <Link className="button" to={`/runs/${node.id}`}>Open run</Link> : null}
        {node.type === "deployment" && node.deployment ? <Link className="button" to={`/runs/${node.deployment.run_id}`}>Deploy run</Link> : null}
        {model ? <Link className="button" to={model}>Registry</Link> : null}
        {node.type !== "run" ? <Link className="button" to={`/impact/${node.ref}`}>Impact</Link> : null}
        {node.dataset?.described ? <Link className="button" to={datasetPath(node.ref)}>Dataset</Link> : null}
      </div>
    </aside>
  );
}

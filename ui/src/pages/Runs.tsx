// Runs: server-side search in the filter language (POST /api/v1/runs/search), sort by any
// column, pages fetched as the table scrolls; only the visible rows are in the DOM.
import { FormEvent, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import { useVirtualizer } from "@tanstack/react-virtual";
import { api, ApiError, toApiError } from "../api";
import { Run, RunPage } from "../types";
import { Badge, ErrorBox, show, shortId, uniquePrefixLength, when } from "../components/common";
import { runsSearchBody } from "./requests";

const BASE = ["id", "name", "kind", "status", "started", "duration"];
const SORT_OF: Record<string, string> = {
  id: "attributes.id", name: "attributes.name", kind: "attributes.kind",
  status: "attributes.status", started: "attributes.start_time", duration: "attributes.end_time",
};

export function RunsPage() {
  const [params, setParams] = useSearchParams();
  const filter = params.get("filter") ?? "";
  const order = params.get("order_by") ?? "";
  const extra = (params.get("columns") ?? "").split(",").map((c) => c.trim()).filter(Boolean);
  const [text, setText] = useState(filter);
  const [cols, setCols] = useState(extra.join(", "));
  const [runs, setRuns] = useState<Run[]>([]);
  const [columns, setColumns] = useState<string[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const generation = useRef(0);

  const fetchPage = useCallback(
    async (token: string | null, gen: number) => {
      setBusy(true);
      try {
        const page = await api<RunPage>("/runs/search", {
          method: "POST",
          body: runsSearchBody(filter, order, token),
        });
        if (gen !== generation.current) return;
        setRuns((old) => (token ? [...old, ...page.runs] : page.runs));
        setColumns(page.columns);
        setNext(page.next_page_token);
        setError(null);
      } catch (e) {
        if (gen === generation.current) {
          setError(toApiError(e));
          if (!token) setRuns([]);
        }
      } finally {
        if (gen === generation.current) setBusy(false);
      }
    },
    [filter, order],
  );

  useEffect(() => {
    generation.current += 1;
    setNext(null);
    fetchPage(null, generation.current);
  }, [fetchPage]);

  const shown = useMemo(() => {
    const seen = new Set<string>();
    return [...columns, ...extra].filter((c) => !seen.has(c) && seen.add(c));
  }, [columns, extra.join(",")]); // eslint-disable-line react-hooks/exhaustive-deps

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const p = new URLSearchParams(params);
    text.trim() ? p.set("filter", text.trim()) : p.delete("filter");
    const c = cols.split(",").map((x) => x.trim()).filter(Boolean).join(",");
    c ? p.set("columns", c) : p.delete("columns");
    setParams(p);
  };
  const sortBy = (column: string) => {
    const key = SORT_OF[column] ?? column;
    const [current, way] = order.split(" ");
    const p = new URLSearchParams(params);
    p.set("order_by", `${key} ${current === key && way === "DESC" ? "ASC" : "DESC"}`);
    setParams(p);
  };
  const arrow = (column: string) => {
    const key = SORT_OF[column] ?? column;
    const [current, way] = order.split(" ");
    return current === key ? (way === "ASC" ? " ▲" : " ▼") : "";
  };

  const scroller = useRef<HTMLDivElement>(null);
  const rows = useVirtualizer({
    count: runs.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => 32,
    overscan: 20,
  });
  const items = rows.getVirtualItems();
  useEffect(() => {
    const last = items[items.length - 1];
    if (last && last.index >= runs.length - 40 && next && !busy) fetchPage(next, generation.current);
  }, [items, runs.length, next, busy, fetchPage]);

  const [picked, setPicked] = useState<string[]>([]);
  const navigate = useNavigate();
  const all = [...BASE, ...shown];
  const idLength = useMemo(() => uniquePrefixLength(runs.map((r) => r.id)), [runs]);
  const template = `28px ${Math.max(110, idLength * 9 + 20)}px minmax(120px,1.2fr) 100px 90px 160px 80px ${shown.map(() => "minmax(90px,1fr)").join(" ")}`;

  return (
    <div className="page">
      <h1>Runs</h1>
      <form className="search" onSubmit={submit}>
        <input
          aria-label="filter"
          className="grow mono"
          placeholder="metrics.auc > 0.9 and params.C = '0.5' and attributes.status = 'finished'"
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <input aria-label="columns" className="mono" placeholder="columns: params.C, metrics.loss" value={cols} onChange={(e) => setCols(e.target.value)} />
        <button type="submit">Search</button>
        <button type="button" disabled={picked.length < 2} onClick={() => navigate(`/compare?refs=${picked.map((id) => `run:${id}`).join(",")}`)}>
          Compare {picked.length || ""}
        </button>
      </form>
      <ErrorBox error={error} />
      <div className="muted small">
        {runs.length} run{runs.length === 1 ? "" : "s"} loaded{next ? " (scroll for more)" : ""}
        {busy ? " · loading…" : ""}
      </div>
      <div className="vtable" role="table" aria-label="runs">
        <div className="vrow vhead" role="row" style={{ gridTemplateColumns: template }}>
          <div />
          {all.map((c) => (
            <div key={c} role="columnheader" className="sortable" onClick={() => sortBy(c)}>
              {c}{arrow(c)}
            </div>
          ))}
        </div>
        <div ref={scroller} className="vbody">
          <div style={{ height: rows.getTotalSize(), position: "relative" }}>
            {items.map((item) => {
              const run = runs[item.index];
              return (
                <div
                  key={run.id}
                  role="row"
                  className={`vrow ${run.status}`}
                  style={{ gridTemplateColumns: template, transform: `translateY(${item.start}px)`, height: item.size }}
                >
                  <div>
                    <input
                      type="checkbox"
                      aria-label={`pick ${run.id}`}
                      checked={picked.includes(run.id)}
                      onChange={(e) => setPicked((p) => (e.target.checked ? [...p, run.id] : p.filter((x) => x !== run.id)))}
                    />
                  </div>
                  <div className="mono"><Link to={`/runs/${run.id}`} title={run.id}>{shortId(run.id, idLength)}</Link></div>
                  <div>{run.name}</div>
                  <div>{run.kind}</div>
                  <div><Badge value={run.stale ? "stale" : run.status} /></div>
                  <div className="mono small">{when(run.started_at)}</div>
                  <div className="num">{duration(run)}</div>
                  {shown.map((c) => (
                    <div key={c} className="num">{show(cell(run, c))}</div>
                  ))}
                </div>
              );
            })}
          </div>
        </div>
      </div>
    </div>
  );
}

function cell(run: Run, column: string): unknown {
  const [entity, ...rest] = column.split(".");
  const key = rest.join(".").replace(/^`|`$/g, "");
  if (entity === "metrics") return run.metrics[key];
  if (entity === "params") return run.params[key];
  if (entity === "tags") return run.tags[key];
  return (run as unknown as Record<string, unknown>)[key];
}

function duration(run: Run): string {
  if (!run.ended_at) return "—";
  const s = (Date.parse(run.ended_at) - Date.parse(run.started_at)) / 1000;
  return s < 60 ? `${s.toFixed(1)}s` : s < 3600 ? `${(s / 60).toFixed(1)}m` : `${(s / 3600).toFixed(1)}h`;
}

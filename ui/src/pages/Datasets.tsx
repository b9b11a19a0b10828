// Datasets: every dataset with its latest version; one version's schema and profile with the
// list of its versions; the diff between two versions (columns added, removed, retyped, and each
// column's shift, flagged past the threshold). URLs in ./datasetPaths.ts.
import { FormEvent, ReactNode, useState } from "react";
import { Link, useLocation, useNavigate } from "react-router-dom";
import { useApi } from "../api";
import { ColumnProfile, DatasetDetail, DatasetDiffView, DatasetSummary, DatasetView, DatasetsView } from "../types";
import { Badge, bytes, ErrorBox, Loading, RefLink, RunLink, Section, show, when } from "../components/common";
import { datasetName, datasetPath, datasetRoute, diffPath, sideRef, versionSelector } from "./datasetPaths";

export function DatasetsPage({ rest }: { rest: string }) {
  const location = useLocation();
  const route = datasetRoute(rest, new URLSearchParams(location.search));
  if (route.page === "list") return <DatasetList />;
  if (route.page === "diff") return <DatasetDiff name={route.name} a={route.a} b={route.b} />;
  return <DatasetVersionPage refText={route.ref} />;
}

// -- the list ------------------------------------------------------------------------------------
function DatasetList() {
  const view = useApi<DatasetsView>("/views/datasets");
  if (view.loading && !view.data) return <Loading what="datasets" />;
  const v = view.data;
  if (!v) return <ErrorBox error={view.error} />;
  return (
    <div className="page">
      <h1>Datasets</h1>
      {v.truncated ? <div className="note">Only the newest 1,000 dataset versions are listed.</div> : null}
      {v.datasets.length ? (
        <table className="list" data-testid="datasets">
          <thead><tr><th>dataset</th><th>project</th><th>versions</th><th>latest</th><th className="num">rows</th><th className="num">columns</th><th>context</th><th>created</th></tr></thead>
          <tbody>
            {v.datasets.map(({ latest, versions }) => (
              <tr key={`${latest.project}/${latest.name}`}>
                <td><Link to={datasetPath(latest.ref)}>{latest.name}</Link></td>
                <td>{latest.project}</td>
                <td className="num">{versions}</td>
                <td>v{latest.version} {latest.tainted ? <Badge value="tainted" /> : null}</td>
                <td className="num">{latest.rows.toLocaleString()}</td>
                <td className="num">{latest.columns}</td>
                <td>{latest.context ?? ""}</td>
                <td>{when(latest.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : <div className="muted">No dataset recorded yet: <code>run.log_dataset(frame, name=…)</code> records one.</div>}
    </div>
  );
}

// -- one version ---------------------------------------------------------------------------------
function DatasetVersionPage({ refText }: { refText: string }) {
  const view = useApi<DatasetView>("/views/dataset", { ref: refText });
  if (view.loading && !view.data) return <Loading what="dataset" />;
  const v = view.data;
  if (!v) return <ErrorBox error={view.error} />;
  const d = v.dataset;
  const name = `${d.project}/${d.name}`;
  return (
    <div className="page">
      <h1>Dataset <span className="mono">{d.ref}</span> {d.tainted ? <Badge value="tainted" /> : null}{d.purged ? <Badge value="purged" /> : null}</h1>
      <div className="meta">
        <RefLink refText={d.ref}>lineage</RefLink> · <Link to={`/impact/${d.ref}`}>impact</Link>
        {d.producer_run_id ? <> · produced by run <RunLink id={d.producer_run_id} /></> : null}
      </div>
      <div className="grid2">
        <Section title="Version"><Facts d={d} /></Section>
        <Section title={`Versions (${v.versions.length}${v.truncated ? "+" : ""})`}>
          <Versions name={name} current={d.version} versions={v.versions} />
        </Section>
      </div>
      <Section title={`Schema (${d.num_columns} columns)`}><Schema d={d} /></Section>
      <Section title="Profile">
        {d.columns.length ? <Profile columns={d.columns} rows={d.num_rows} /> : <div className="muted">not profiled (logged with profile=False)</div>}
      </Section>
    </div>
  );
}

function Facts({ d }: { d: DatasetDetail }) {
  const rows: [string, ReactNode][] = [
    ["rows", d.num_rows.toLocaleString()],
    ["columns", d.num_columns],
    ["digest", <span className="mono small" title="of the data: rows and columns, not file layout">{d.digest}</span>],
    ["memory", bytes(d.nbytes)],
    ["storage", `${d.storage}${d.format ? ` (${d.format}, ${bytes(d.size)})` : ""}`],
    ["uri", <span className="mono small">{d.uri}</span>],
    ["source", d.source ?? "—"],
    ["context", d.context ?? "—"],
    ["targets", d.targets.join(", ") || "—"],
    ["predictions", d.predictions.join(", ") || "—"],
    ["created", when(d.created_at)],
    ["aliases", d.aliases.join(", ") || "—"],
    ["tags", Object.entries(d.tags).map(([k, x]) => `${k}=${x}`).join(", ") || "—"],
  ];
  return <table className="kv" data-testid="dataset-facts"><tbody>{rows.map(([k, x]) => <tr key={k}><th>{k}</th><td>{x}</td></tr>)}</tbody></table>;
}

function Versions({ name, current, versions }: { name: string; current: number; versions: DatasetSummary[] }) {
  const navigate = useNavigate();
  const previous = versions.find((x) => x.version < current);
  // this version against the one before it; the oldest against the newest
  const other = previous ?? versions.find((x) => x.version !== current);
  const [a, setA] = useState(versionSelector(previous ? previous.version : current));
  const [b, setB] = useState(versionSelector(previous ? current : other?.version ?? current));
  const go = (e: FormEvent) => {
    e.preventDefault();
    navigate(diffPath(name, a, b));
  };
  const options = versions.map((x) => <option key={x.version} value={versionSelector(x.version)}>v{x.version}</option>);
  return (
    <>
      <div className="scroll">
        <table className="list small" data-testid="dataset-versions">
          <thead><tr><th>version</th><th className="num">rows</th><th className="num">cols</th><th>digest</th><th>created</th><th>run</th></tr></thead>
          <tbody>
            {versions.map((x) => (
              <tr key={x.version} className={x.version === current ? "changed" : undefined}>
                <td><Link to={datasetPath(x.ref)}>v{x.version}</Link> {x.aliases.map((al) => <Badge key={al} value={al} />)}{x.tainted ? <Badge value="tainted" /> : null}</td>
                <td className="num">{x.rows.toLocaleString()}</td>
                <td className="num">{x.columns}</td>
                <td className="mono">{x.digest.replace("sha256:", "").slice(0, 12)}</td>
                <td>{when(x.created_at)}</td>
                <td>{x.producer_run_id ? <RunLink id={x.producer_run_id} /> : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {versions.length > 1 ? (
        <form className="row" onSubmit={go}>
          diff <select aria-label="old version" value={a} onChange={(e) => setA(e.target.value)}>{options}</select>
          → <select aria-label="new version" value={b} onChange={(e) => setB(e.target.value)}>{options}</select>
          <button type="submit" disabled={a === b}>Diff</button>
        </form>
      ) : null}
    </>
  );
}

function Schema({ d }: { d: DatasetDetail }) {
  const role = (c: string) => (d.targets.includes(c) ? "target" : d.predictions.includes(c) ? "prediction" : "");
  return (
    <table className="list" data-testid="dataset-schema">
      <thead><tr><th>column</th><th>type</th><th>nullable</th><th>role</th><th>tags</th></tr></thead>
      <tbody>
        {d.schema.map((c) => (
          <tr key={c.name}>
            <td className="mono">{c.name}</td><td className="mono">{c.type}</td><td>{c.nullable ? "yes" : "no"}</td>
            <td>{role(c.name)}</td><td>{(d.column_tags[c.name] ?? []).join(", ")}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Profile({ columns, rows }: { columns: ColumnProfile[]; rows: number }) {
  return (
    <div className="hscroll">
      <table className="list small" data-testid="dataset-profile">
        <thead><tr>
          <th>column</th><th>type</th><th className="num">missing</th><th className="num">distinct</th>
          <th className="num">min</th><th className="num">p5</th><th className="num">p25</th><th className="num">median</th>
          <th className="num">p75</th><th className="num">p95</th><th className="num">max</th><th className="num">mean</th><th className="num">std</th><th>top values</th>
        </tr></thead>
        <tbody>
          {columns.map((c) => (
            <tr key={c.name}>
              <td className="mono">{c.name}</td>
              <td className="mono">{c.type}</td>
              <td className="num">{c.null_count ? `${c.null_count.toLocaleString()} (${percent(c.null_count, rows)})` : "0"}</td>
              <td className="num">{c.distinct_count === null ? "—" : `${c.distinct_is_estimate ? "≈" : ""}${c.distinct_count.toLocaleString()}`}</td>
              {[c.min, c.p5, c.p25, c.p50, c.p75, c.p95, c.max, c.mean, c.std].map((x, i) => (
                <td key={i} className="num" title={i >= 1 && i <= 5 && c.quantiles_estimated ? "estimated from a sample" : undefined}>{show(x)}</td>
              ))}
              <td className="small">{c.top_values.slice(0, 3).map(([value, count]) => `${show(value)} (${percent(count, rows)})`).join(", ")}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** One side of a statistic's change; top values as "basic 206, pro 99". */
function change(key: string, value: unknown): string {
  if (key === "top_values" && Array.isArray(value)) {
    return value.map((pair) => (Array.isArray(pair) ? `${show(pair[0])} ${show(pair[1])}` : show(pair))).join(", ");
  }
  return show(value);
}

function percent(count: number, total: number): string {
  if (!total) return "—";
  const p = (100 * count) / total;
  return `${p < 10 ? p.toFixed(1) : p.toFixed(0)}%`;
}

// -- the diff of two versions ----------------------------------------------------------------------
function DatasetDiff({ name, a, b }: { name: string; a: string; b: string }) {
  const navigate = useNavigate();
  const refA = sideRef(name, a);
  const refB = sideRef(name, b);
  const view = useApi<DatasetDiffView>("/views/dataset-diff", { a: refA, b: refB });
  const versions = useApi<DatasetView>("/views/dataset", { ref: datasetName(refB) });
  const pick = (side: "a" | "b", value: string) => navigate(diffPath(name, side === "a" ? value : b, side === "b" ? value : a));
  const options = (current: string) => {
    const known = (versions.data?.versions ?? []).map((x) => versionSelector(x.version));
    return [...(known.includes(current) ? [] : [current]), ...known].map((s) => <option key={s} value={s}>{s}</option>);
  };
  const v = view.data;
  return (
    <div className="page">
      <h1>Diff of <span className="mono">{name}</span></h1>
      <div className="row">
        <select aria-label="old version" value={a} onChange={(e) => pick("a", e.target.value)}>{options(a)}</select>
        →
        <select aria-label="new version" value={b} onChange={(e) => pick("b", e.target.value)}>{options(b)}</select>
        <button className="link" onClick={() => navigate(diffPath(name, b, a))}>swap</button>
      </div>
      {view.loading && !v ? <Loading what="diff" /> : null}
      <ErrorBox error={view.error} />
      {v ? <DiffBody v={v} /> : null}
    </div>
  );
}

function DiffBody({ v }: { v: DatasetDiffView }) {
  const d = v.diff;
  const flagged = d.column_shifts.filter((s) => s.flagged);
  return (
    <>
      <div className="meta">
        <Link to={datasetPath(v.a.ref)}>{v.a.ref}</Link> ({when(v.a.created_at)}) → <Link to={datasetPath(v.b.ref)}>{v.b.ref}</Link> ({when(v.b.created_at)})
        · <Link to={`/compare?refs=${v.a.ref},${v.b.ref}`}>compare lineage</Link>
      </div>
      <div className="counts" data-testid="diff-summary">
        {d.same_content ? <span className="ok">same content (equal digests)</span> : null}
        <span>rows <b>{d.row_count[0].toLocaleString()}</b> → <b>{d.row_count[1].toLocaleString()}</b></span>
        <span><b>{d.added_columns.length}</b> added</span>
        <span><b>{d.removed_columns.length}</b> removed</span>
        <span><b>{d.retyped_columns.length}</b> retyped</span>
        <span className={flagged.length ? "danger" : undefined}><b>{flagged.length}</b> shifted (score ≥ {v.threshold})</span>
      </div>
      {d.added_columns.length || d.removed_columns.length || d.retyped_columns.length ? (
        <Section title="Schema changes">
          <table className="list compact" data-testid="schema-changes"><tbody>
            {d.added_columns.map((c) => <tr key={`+${c}`}><td><Badge value="added" /></td><td className="mono">{c}</td><td /></tr>)}
            {d.removed_columns.map((c) => <tr key={`-${c}`}><td><Badge value="removed" /></td><td className="mono">{c}</td><td /></tr>)}
            {d.retyped_columns.map(([c, from, to]) => <tr key={`~${c}`}><td><Badge value="retyped" /></td><td className="mono">{c}</td><td className="mono">{from} → {to}</td></tr>)}
          </tbody></table>
        </Section>
      ) : null}
      <Section title={`Column shifts (${d.column_shifts.length})`}>
        {d.column_shifts.length ? (
          <table className="list" data-testid="column-shifts">
            <thead><tr><th>column</th><th className="num">score</th><th>what moved</th><th>changes (old → new)</th></tr></thead>
            <tbody>
              {[...d.column_shifts].sort((x, y) => y.score - x.score).map((s) => (
                <tr key={s.name} className={s.flagged ? "changed" : undefined}>
                  <td className="mono">{s.name} {s.flagged ? <Badge value="shifted" /> : null}</td>
                  <td className="num">{show(s.score)}</td>
                  <td>{s.reason}</td>
                  <td className="small">{Object.entries(s.changes).map(([k, [x, y]]) => <div key={k}><span className="muted">{k}</span> {change(k, x)} → {change(k, y)}</div>)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : <div className="muted">no column's statistics changed</div>}
      </Section>
    </>
  );
}

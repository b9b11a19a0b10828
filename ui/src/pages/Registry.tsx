// The registry: models; per model its versions (stage, aliases, approvals, approve/reject for
// an admin), a model card per version, every alias and stage change, and the deployment
// timeline per environment ("what was live when"), with an as-of time.
import { Fragment, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import { api, ApiError, toApiError, useApi } from "../api";
import { Deployment, ModelVersion, ModelView, RegisteredModel } from "../types";
import { markdown } from "../components/markdown";
import { Badge, ErrorBox, Loading, RefLink, RunLink, Section, show, when } from "../components/common";

export function ModelsPage() {
  const models = useApi<RegisteredModel[]>("/models");
  return (
    <div className="page">
      <h1>Registered models</h1>
      <ErrorBox error={models.error} />
      {models.loading ? <Loading /> : null}
      {models.data ? <ModelTable models={models.data} /> : null}
    </div>
  );
}

export function ModelTable({ models }: { models: RegisteredModel[] }) {
  if (!models.length) return <div className="muted">No registered models yet (<code>lineal registry register</code>).</div>;
  return (
    <table className="list">
      <thead><tr><th>model</th><th>latest</th><th>aliases</th><th>owner</th><th>updated</th><th>description</th></tr></thead>
      <tbody>
        {models.map((m) => (
          <tr key={m.id}>
            <td><Link to={`/registry/${m.project}/${m.name}`}>{m.project}/{m.name}</Link></td>
            <td>v{m.latest_version}</td>
            <td>{Object.entries(m.aliases).map(([a, v]) => <Badge key={a} value={`${a}→v${v}`} />)}</td>
            <td>{m.owner}</td>
            <td className="small">{when(m.updated_at)}</td>
            <td className="small">{m.description}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ModelPage({ name }: { name: string }) {
  const [params, setParams] = useSearchParams();
  const asOf = params.get("as_of") ?? "";
  const [project, model] = name.includes("/") ? name.split("/", 2) : [undefined, name];
  const view = useApi<ModelView>(`/views/model/${encodeURIComponent(model)}`, { project, as_of: asOf || undefined });
  const [picked, setPicked] = useState<number[]>([]);
  const [actionError, setActionError] = useState<ApiError | null>(null);
  const [open, setOpen] = useState<number | null>(null);
  const navigate = useNavigate();
  if (view.loading && !view.data) return <Loading what="model" />;
  const v = view.data;
  if (!v) return <ErrorBox error={view.error} />;
  const m = v.model;
  const review = async (version: ModelVersion, decision: "approve" | "reject") => {
    const comment = window.prompt(`${decision} ${version.ref}: comment (optional)`, "") ?? null;
    if (comment === null) return;
    try {
      await api("/views/review", { method: "POST", body: { project: m.project, name: m.name, version: version.version, decision, comment } });
      setActionError(null);
      view.reload();
    } catch (e) {
      setActionError(toApiError(e));
    }
  };
  const stages = v.as_of?.state.stages;
  const aliases = v.as_of?.state.aliases ?? m.aliases;
  return (
    <div className="page">
      <h1>{m.project}/{m.name}</h1>
      <div className="meta">owner {m.owner || "—"} · latest v{m.latest_version} · policy: {Object.entries(m.policy).map(([k, x]) => `${k}=${show(x)}`).join(", ")}</div>
      {m.description ? <div className="markdown" dangerouslySetInnerHTML={{ __html: markdown(m.description) }} /> : null}
      <div className="row">
        <label>as of <input aria-label="as of" type="datetime-local" step="1"
          onChange={(e) => { const p = new URLSearchParams(params); e.target.value ? p.set("as_of", new Date(e.target.value).toISOString()) : p.delete("as_of"); setParams(p); }} /></label>
        {asOf ? <span>showing aliases, stages and live deployments as of {when(asOf)} <button className="link" onClick={() => { const p = new URLSearchParams(params); p.delete("as_of"); setParams(p); }}>now</button></span> : null}
        <button disabled={picked.length < 2} onClick={() => navigate(`/compare?refs=${picked.map((x) => `${m.project}/${m.name}@v${x}`).join(",")}`)}>Compare {picked.length || ""} versions</button>
      </div>
      <ErrorBox error={actionError} />
      <Section title="Aliases">
        {Object.keys(aliases).length ? Object.entries(aliases).map(([a, x]) => <Badge key={a} value={`${a} → v${x}`} />) : <span className="muted">none</span>}
      </Section>
      <Section title="Versions">
        <table className="list" data-testid="versions">
          <thead><tr><th /><th>version</th><th>stage</th><th>aliases</th><th>approvals</th><th>registered</th><th>run</th><th>artifact</th><th /></tr></thead>
          <tbody>
            {v.versions.map((x) => (
              <Fragment key={x.id}>
                <tr>
                  <td><input type="checkbox" aria-label={`pick v${x.version}`} checked={picked.includes(x.version)} onChange={(e) => setPicked((p) => (e.target.checked ? [...p, x.version] : p.filter((y) => y !== x.version)))} /></td>
                  <td><button className="link" onClick={() => setOpen(open === x.version ? null : x.version)}>v{x.version}</button></td>
                  <td><Badge value={stages ? stages[`v${x.version}`] ?? "(not yet)" : x.stage} /></td>
                  <td>{x.aliases.map((a) => <Badge key={a} value={a} />)}</td>
                  <td>{x.approvals.map((a) => <Badge key={a.id} value={a.decision} title={`${a.actor} for ${a.stage} on ${when(a.created_at)}: ${a.comment}`} />)}</td>
                  <td className="small">{when(x.created_at)} by {x.created_by}</td>
                  <td>{x.run_id ? <RunLink id={x.run_id} /> : "—"}</td>
                  <td><RefLink refText={`model:${x.ref}`}>lineage</RefLink></td>
                  <td className="buttons">
                    <button onClick={() => review(x, "approve")}>Approve</button>
                    <button onClick={() => review(x, "reject")}>Reject</button>
                  </td>
                </tr>
                {open === x.version ? (
                  <tr><td colSpan={9}><ModelCard version={x} deployments={v.timeline.filter((d) => d.model_version === x.version)} /></td></tr>
                ) : null}
              </Fragment>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="Deployment timeline">
        <Timeline deployments={v.timeline} asOf={asOf || null} />
        <table className="list small">
          <thead><tr><th>environment</th><th>name</th><th>version</th><th>status</th><th>from</th><th>until</th><th>by</th></tr></thead>
          <tbody>
            {v.timeline.slice().reverse().map((d) => (
              <tr key={d.id} className={v.as_of?.live.some((l) => l.id === d.id) ? "changed" : undefined}>
                <td>{d.environment}</td><td>{d.name}</td><td>v{d.model_version}</td><td><Badge value={d.status} /></td>
                <td>{when(d.started_at)}</td><td>{when(d.ended_at)}</td><td>{d.created_by}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="Alias and stage history">
        <table className="list small" data-testid="history">
          <thead><tr><th>#</th><th>when</th><th>who</th><th>action</th><th>version</th><th>alias</th><th>before → after</th><th>comment</th></tr></thead>
          <tbody>
            {v.history.map((e) => (
              <tr key={e.id}>
                <td>{e.seq}</td><td>{when(e.timestamp)}</td><td>{e.actor}</td><td>{e.action}</td>
                <td>{e.version ? `v${e.version}` : ""}</td><td>{e.alias ?? ""}</td>
                <td className="mono">{brief(e.before)} → {brief(e.after)}</td><td>{e.comment}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </div>
  );
}

function brief(value: unknown): string {
  if (value === null || value === undefined) return "∅";
  if (typeof value === "object") {
    const o = value as Record<string, unknown>;
    if ("stage" in o) return String(o.stage);
    if ("version" in o) return `v${o.version}`;
    return JSON.stringify(o).slice(0, 60);
  }
  return String(value);
}

function ModelCard({ version, deployments }: { version: ModelVersion; deployments: Deployment[] }) {
  return (
    <div className="modelcard" data-testid="model-card">
      <h3>{version.ref}</h3>
      {version.description
        ? <div className="markdown" dangerouslySetInnerHTML={{ __html: markdown(version.description) }} />
        : <div className="muted">no description</div>}
      <table className="kv"><tbody>
        <tr><th>artifact</th><td><RefLink refText={version.artifact_ref} /> <span className="mono small">{version.artifact_digest.slice(0, 19)}…</span></td></tr>
        <tr><th>trained by run</th><td>{version.run_id ? <RunLink id={version.run_id} /> : "—"}</td></tr>
        <tr><th>approvals</th><td>{version.approvals.length ? version.approvals.map((a) => `${a.decision} by ${a.actor} for ${a.stage} (${when(a.created_at)})${a.comment ? `: ${a.comment}` : ""}`).join("; ") : "none"}</td></tr>
        <tr><th>deployments</th><td>{deployments.length ? deployments.map((d) => `${d.environment} ${when(d.started_at)} → ${d.ended_at ? when(d.ended_at) : "live"}`).join("; ") : "never deployed"}</td></tr>
      </tbody></table>
      <Link to={`/impact/model:${version.ref}`}>impact</Link> · <Link to={`/lineage/model:${version.ref}?direction=up&depth=all`}>what it was made from</Link>
    </div>
  );
}

/** One lane per environment; each record a bar from its start to its end (or now). */
function Timeline({ deployments, asOf }: { deployments: Deployment[]; asOf: string | null }) {
  if (!deployments.length) return <div className="muted">never deployed</div>;
  const now = Date.now();
  const start = Math.min(...deployments.map((d) => Date.parse(d.started_at)));
  const end = Math.max(now, ...deployments.map((d) => (d.ended_at ? Date.parse(d.ended_at) : now)));
  const span = Math.max(1, end - start);
  const envs = [...new Set(deployments.map((d) => d.environment))];
  const pct = (t: number) => `${((t - start) / span) * 100}%`;
  return (
    <div className="timeline" data-testid="timeline">
      {envs.map((env) => (
        <div key={env} className="lane">
          <div className="lane-name">{env}</div>
          <div className="lane-bars">
            {deployments.filter((d) => d.environment === env).map((d) => {
              const a = Date.parse(d.started_at);
              const b = d.ended_at ? Date.parse(d.ended_at) : now;
              return (
                <div key={d.id} className={`bar v${d.model_version % 8} ${d.ended_at ? "" : "live"}`}
                  style={{ left: pct(a), width: `max(3px, ${((b - a) / span) * 100}%)` }}
                  title={`${d.model_ref} in ${env}: ${when(d.started_at)} → ${d.ended_at ? when(d.ended_at) : "live"}`}>
                  v{d.model_version}
                </div>
              );
            })}
            {asOf ? <div className="asof-line" style={{ left: pct(Date.parse(asOf)) }} /> : null}
          </div>
        </div>
      ))}
      <div className="lane small muted"><div className="lane-name" /><div className="lane-bars">{when(new Date(start).toISOString())} … now</div></div>
    </div>
  );
}

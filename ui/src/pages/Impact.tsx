// Impact and taint: from a dataset (or any) version, everything it reaches downstream, with
// the path to each, live deployments first; taint it (writer) or clear its taint.
import { FormEvent, useState } from "react";
import { Link } from "react-router-dom";
import { api, ApiError, toApiError, useApi } from "../api";
import { ImpactItem, ImpactView } from "../types";
import { Badge, ErrorBox, Loading, RefLink, Section, when } from "../components/common";

export function ImpactPage({ refText }: { refText: string }) {
  const view = useApi<ImpactView>("/views/impact", { ref: refText });
  const [reason, setReason] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const act = async (path: string, body: unknown) => {
    try {
      await api(path, { method: "POST", body });
      setError(null);
      setReason("");
      view.reload();
    } catch (e) {
      setError(toApiError(e));
    }
  };
  const taint = (e: FormEvent) => {
    e.preventDefault();
    act("/views/taint", { ref: refText, reason });
  };
  if (view.loading && !view.data) return <Loading what="impact" />;
  const v = view.data;
  if (!v) return <ErrorBox error={view.error} />;
  const canTaint = v.start.type === "artifact" || v.start.type === "model_version";
  return (
    <div className="page">
      <h1>Impact of <span className="mono">{v.start.label}</span></h1>
      <div className="meta"><Link to={`/lineage/${v.start.ref}?direction=down&depth=all`}>see it as a graph</Link></div>
      {v.taint ? (
        <div className="error" data-testid="taint">
          <strong>Tainted</strong> by {v.taint.actor} on {when(v.taint.created_at)}: {v.taint.reason}{" "}
          <button onClick={() => act("/views/untaint", { ref: refText })}>Clear taint</button>
        </div>
      ) : canTaint ? (
        <form className="search" onSubmit={taint}>
          <input aria-label="taint reason" className="grow" placeholder="why is it bad? (leaked labels, corrupt rows…)" value={reason} onChange={(e) => setReason(e.target.value)} />
          <button type="submit" disabled={!reason.trim()}>Taint</button>
        </form>
      ) : null}
      <ErrorBox error={error} />
      <div className="counts" data-testid="impact-counts">
        <span><b>{v.counts.artifacts}</b> artifact versions</span>
        <span><b>{v.counts.model_versions}</b> model versions</span>
        <span><b>{v.counts.deployments}</b> deployments</span>
        <span className={v.counts.live_deployments ? "danger" : undefined}><b>{v.counts.live_deployments}</b> live now</span>
        <span><b>{v.counts.runs}</b> runs in between</span>
      </div>
      <Items title="Deployments" items={v.deployments} />
      <Items title="Model versions" items={v.model_versions} />
      <Items title="Artifact versions" items={v.artifacts} />
    </div>
  );
}

function Items({ title, items }: { title: string; items: ImpactItem[] }) {
  return (
    <Section title={`${title} (${items.length})`}>
      {items.length ? (
        <table className="list small">
          <thead><tr><th>node</th><th>flags</th><th>path</th></tr></thead>
          <tbody>
            {items.map((i) => (
              <tr key={i.id} className={i.flags.includes("live") ? "changed" : undefined}>
                <td><RefLink refText={i.ref}>{i.label}</RefLink></td>
                <td>{i.flags.map((f) => <Badge key={f} value={f} />)}</td>
                <td className="mono path">{i.path.text}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : <div className="muted">none</div>}
    </Section>
  );
}

// One run: params, metric charts, inputs and outputs, environment, the error if it failed,
// and a "not captured" note for what lineal could not record (unknown, not absent).
import { useMemo, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { useApi } from "../api";
import { Artifact, Run } from "../types";
import { Badge, bytes, ErrorBox, KV, Loading, RefLink, RunLink, Section, show, when } from "../components/common";
import { MetricChart } from "../components/MetricChart";
import { datasetPath } from "./datasetPaths";

interface RunView {
  run: Run;
  state: string;
  duration_s: number | null;
  inputs: Artifact[];
  outputs: Artifact[];
  code: Record<string, unknown> | null;
  environment: {
    python: Record<string, unknown>;
    os: Record<string, unknown>;
    frameworks: Record<string, string>;
    packages: Record<string, string>;
    package_count: number | null;
    hardware: Record<string, unknown> | null;
    container: Record<string, unknown> | null;
    not_captured: Record<string, string>;
  } | null;
  not_captured: Record<string, string>;
  metric_keys: string[];
  series: Record<string, [number, number | string | null, number][]>;
  children: { id: string; name: string; kind: string; status: string }[];
}

export function RunPage() {
  const runId = useParams().runId!;
  const view = useApi<RunView>(`/views/run/${encodeURIComponent(runId)}`);
  const [chosen, setChosen] = useState<string[] | null>(null);
  const [pkg, setPkg] = useState("");
  const v = view.data;
  const keys = chosen ?? (v ? v.metric_keys.filter((k) => (v.series[k]?.length ?? 0) > 1).slice(0, 3) : []);
  const series = useMemo(
    () => (v ? keys.filter((k) => v.series[k]).map((k) => ({
      label: k,
      points: v.series[k].map((p) => [p[0], typeof p[1] === "number" ? p[1] : null] as [number, number | null]),
    })) : []),
    [v, keys.join("|")], // eslint-disable-line react-hooks/exhaustive-deps
  );
  if (view.loading) return <Loading what="run" />;
  if (!v) return <ErrorBox error={view.error} />;
  const run = v.run;
  const toggle = (k: string) => setChosen(keys.includes(k) ? keys.filter((x) => x !== k) : [...keys, k]);
  return (
    <div className="page">
      <h1>
        run {run.name} <Badge value={v.state} />
      </h1>
      <div className="meta">
        <span className="mono">{run.id}</span> · {run.kind} · project {run.project}
        {run.experiment ? ` · experiment ${run.experiment}` : ""} · started {when(run.started_at)}
        {v.duration_s !== null ? ` · ${v.duration_s.toFixed(1)} s` : ""} · by {run.created_by}
        {run.parent_id ? <> · parent <RunLink id={run.parent_id} /></> : null}
      </div>
      <div className="row">
        <Link className="button" to={`/lineage/run:${run.id}`}>Lineage</Link>
        <Link className="button" to={`/runs?filter=${encodeURIComponent(`attributes.name = '${run.name}'`)}`}>Other {run.name} runs</Link>
      </div>
      {run.error ? (
        <div className="error" data-testid="run-error">
          <strong>{run.error.type ?? "error"}</strong>: {run.error.message}
          {run.error.traceback ? <pre>{run.error.traceback}</pre> : null}
        </div>
      ) : null}
      {Object.keys(v.not_captured).length ? (
        <div className="note" data-testid="not-captured">
          <strong>Not captured</strong> (unknown, not absent):
          <ul>{Object.entries(v.not_captured).map(([k, why]) => <li key={k}><b>{k}</b>: {why}</li>)}</ul>
        </div>
      ) : null}
      <div className="grid2">
        <Section title="Params"><KV data={run.params} /></Section>
        <Section title="Metrics (latest)">
          <table className="kv">
            <tbody>
              {v.metric_keys.map((k) => (
                <tr key={k}>
                  <th>
                    <label>
                      <input type="checkbox" checked={keys.includes(k)} onChange={() => toggle(k)} disabled={!v.series[k]} /> {k}
                    </label>
                  </th>
                  <td className="num">{show(run.metrics[k])}</td>
                  <td className="muted small">{v.series[k]?.length ?? "?"} pts</td>
                </tr>
              ))}
            </tbody>
          </table>
          {!v.metric_keys.length ? <div className="muted">none</div> : null}
        </Section>
      </div>
      <Section title="Metric curves"><MetricChart series={series} /></Section>
      <div className="grid2">
        <Section title="Inputs"><Artifacts items={v.inputs} /></Section>
        <Section title="Outputs"><Artifacts items={v.outputs} /></Section>
      </div>
      {v.children.length ? (
        <Section title="Steps">
          <table className="list"><tbody>
            {v.children.map((c) => (
              <tr key={c.id}><td><RunLink id={c.id} /></td><td>{c.name}</td><td>{c.kind}</td><td><Badge value={c.status} /></td></tr>
            ))}
          </tbody></table>
        </Section>
      ) : null}
      <div className="grid2">
        <Section title="Code">{v.code ? <KV data={v.code} /> : <div className="muted">not recorded</div>}</Section>
        <Section title="Environment">
          {v.environment ? (
            <>
              <KV data={{
                python: v.environment.python?.version,
                os: [v.environment.os?.system, v.environment.os?.release].filter(Boolean).join(" ") || undefined,
                ...Object.fromEntries(Object.entries(v.environment.frameworks).map(([k, x]) => [`framework ${k}`, x])),
                packages: v.environment.package_count,
                hardware: v.environment.hardware ? JSON.stringify(v.environment.hardware) : undefined,
              }} />
              <input placeholder="filter packages" value={pkg} onChange={(e) => setPkg(e.target.value)} />
              <div className="scroll small">
                <KV data={Object.fromEntries(Object.entries(v.environment.packages).filter(([k]) => k.toLowerCase().includes(pkg.toLowerCase())))} />
              </div>
            </>
          ) : <div className="muted">not recorded</div>}
        </Section>
      </div>
      <Section title="Tags"><KV data={run.tags} /></Section>
    </div>
  );
}

function Artifacts({ items }: { items: Artifact[] }) {
  if (!items.length) return <div className="muted">none</div>;
  return (
    <table className="list">
      <thead><tr><th>role</th><th>artifact</th><th>kind</th><th>size</th><th /></tr></thead>
      <tbody>
        {items.map((a) => (
          <tr key={`${a.role}:${a.id}`}>
            <td>{a.role}</td>
            <td><RefLink refText={a.ref} /> {a.tainted ? <Badge value="tainted" /> : null}{a.purged ? <Badge value="purged" /> : null}</td>
            <td>{a.kind}</td>
            <td className="num">{bytes(a.size)}</td>
            <td>
              <Link to={`/impact/${a.ref}`}>impact</Link>
              {a.metadata?.dataset ? <> · <Link to={datasetPath(a.ref)}>dataset</Link></> : null}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

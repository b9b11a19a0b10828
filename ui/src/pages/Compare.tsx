// Compare two or more runs or model versions: the first divergence of `lineal diff` on top,
// then params, metrics, data, code and packages side by side with differences highlighted,
// and metric curves overlaid on one chart.
import { FormEvent, useEffect, useState } from "react";
import { useSearchParams } from "react-router-dom";
import { metricSeries, toApiError, ApiError, useApi } from "../api";
import { Badge, ErrorBox, Loading, RefLink, RunLink, Section, show } from "../components/common";
import { MetricChart, Series } from "../components/MetricChart";

interface Change { changed: Record<string, [unknown, unknown]>; only_a: Record<string, unknown>; only_b: Record<string, unknown> }
interface Diff {
  a: { label: string }; b: { label: string };
  same_content: boolean;
  first_divergence: { step: string; reasons: string[] } | null;
  data: { name: string; changed: boolean; a: { ref: string } | null; b: { ref: string } | null; rows: (number | null)[] | null; columns_added: string[]; columns_removed: string[] }[];
  params: Record<string, Change>;
  code: Record<string, Change>;
  environment: Record<string, Change>;
  metrics: Record<string, Change>;
  not_captured: Record<string, Record<string, (string | null)[]>>;
}
interface Subject {
  ref: string; label: string; artifact: string | null; model_version: string | null;
  run: { id: string; name: string; status: string; params: Record<string, unknown>; metrics: Record<string, unknown>; points: Record<string, number> } | null;
}
interface CompareView { refs: string[]; subjects: Subject[]; diffs: Diff[] }

export function ComparePage() {
  const [params, setParams] = useSearchParams();
  const refs = params.get("refs") ?? "";
  const [text, setText] = useState(refs);
  useEffect(() => setText(refs), [refs]);
  const view = useApi<CompareView>(refs ? "/views/compare" : null, { refs });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setParams({ refs: text.split(/[\s,]+/).filter(Boolean).join(",") });
  };
  return (
    <div className="page">
      <h1>Compare</h1>
      <form className="search" onSubmit={submit}>
        <input aria-label="references" className="grow mono" placeholder="churn@v1, churn@v2 (or run:ID, dataset@v3)" value={text} onChange={(e) => setText(e.target.value)} />
        <button type="submit">Compare</button>
      </form>
      <ErrorBox error={view.error} />
      {view.loading ? <Loading what="comparison" /> : null}
      {view.data ? <Comparison view={view.data} /> : null}
    </div>
  );
}

function Comparison({ view }: { view: CompareView }) {
  const { subjects, diffs } = view;
  const keysOf = (pick: (s: Subject) => Record<string, unknown> | undefined) =>
    [...new Set(subjects.flatMap((s) => Object.keys(pick(s) ?? {})))].sort();
  const differs = (pick: (s: Subject) => Record<string, unknown> | undefined, k: string) =>
    new Set(subjects.map((s) => JSON.stringify(pick(s)?.[k] ?? null))).size > 1;
  const params = (s: Subject) => s.run?.params;
  const metrics = (s: Subject) => s.run?.metrics as Record<string, unknown> | undefined;
  return (
    <>
      {diffs.map((d, i) => (
        <div key={i} className={d.first_divergence ? "divergence" : "note"} data-testid="first-divergence">
          <strong>{d.a.label} → {d.b.label}</strong>:{" "}
          {d.first_divergence ? (
            <>first divergence at step <b>{d.first_divergence.step}</b>: {d.first_divergence.reasons.join("; ")}</>
          ) : d.same_content ? "same content" : "no recorded difference"}
        </div>
      ))}
      <Section title="Side by side">
        <table className="list compare">
          <thead><tr><th /> {subjects.map((s) => <th key={s.ref}><RefLink refText={s.ref}>{s.label}</RefLink></th>)}</tr></thead>
          <tbody>
            <tr><th>run</th>{subjects.map((s) => <td key={s.ref}>{s.run ? <><RunLink id={s.run.id} /> {s.run.name} <Badge value={s.run.status} /></> : "—"}</td>)}</tr>
            <tr className="group"><th colSpan={subjects.length + 1}>params</th></tr>
            {keysOf(params).map((k) => (
              <tr key={`p-${k}`} className={differs(params, k) ? "changed" : undefined}><th>{k}</th>{subjects.map((s) => <td key={s.ref}>{show(s.run?.params[k])}</td>)}</tr>
            ))}
            <tr className="group"><th colSpan={subjects.length + 1}>metrics</th></tr>
            {keysOf(metrics).map((k) => (
              <tr key={`m-${k}`} className={differs(metrics, k) ? "changed" : undefined}><th>{k}</th>{subjects.map((s) => <td key={s.ref} className="num">{show(s.run?.metrics[k])}</td>)}</tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Overlay subjects={subjects} keys={keysOf(metrics)} />
      {diffs.map((d, i) => (
        <Section key={i} title={`lineal diff ${d.a.label} ${d.b.label}`}>
          <h3>Data</h3>
          <table className="list small">
            <thead><tr><th>dataset</th><th>{d.a.label}</th><th>{d.b.label}</th><th>change</th></tr></thead>
            <tbody>{d.data.map((x) => (
              <tr key={x.name} className={x.changed ? "changed" : undefined}>
                <td>{x.name}</td><td>{x.a ? <RefLink refText={x.a.ref} /> : "—"}</td><td>{x.b ? <RefLink refText={x.b.ref} /> : "—"}</td>
                <td>{x.changed ? [x.rows ? `rows ${x.rows[0]} → ${x.rows[1]}` : "content", ...x.columns_added.map((c) => `+${c}`), ...x.columns_removed.map((c) => `-${c}`)].join(", ") : "same"}</td>
              </tr>
            ))}</tbody>
          </table>
          {(["params", "code", "environment", "metrics"] as const).map((part) => (
            <StepChanges key={part} title={part === "environment" ? "packages and environment" : part} changes={d[part]} />
          ))}
          {Object.keys(d.not_captured).length ? (
            <div className="note small">Not captured (unknown on one side or both): {Object.entries(d.not_captured).map(([step, parts]) => `${step}: ${Object.keys(parts).join(", ")}`).join("; ")}</div>
          ) : null}
        </Section>
      ))}
    </>
  );
}

function StepChanges({ title, changes }: { title: string; changes: Record<string, Change> }) {
  const steps = Object.entries(changes);
  if (!steps.length) return null;
  return (
    <>
      <h3>{title}</h3>
      <table className="list small">
        <tbody>
          {steps.flatMap(([step, c]) => [
            ...Object.entries(c.changed).map(([k, [a, b]]) => <tr key={`${step}c${k}`} className="changed"><td>{step}</td><td>{k}</td><td>{show(a)}</td><td>→ {show(b)}</td></tr>),
            ...Object.entries(c.only_a).map(([k, a]) => <tr key={`${step}a${k}`}><td>{step}</td><td>{k}</td><td>{show(a)}</td><td>→ (absent)</td></tr>),
            ...Object.entries(c.only_b).map(([k, b]) => <tr key={`${step}b${k}`}><td>{step}</td><td>{k}</td><td>(absent)</td><td>→ {show(b)}</td></tr>),
          ])}
        </tbody>
      </table>
    </>
  );
}

function Overlay({ subjects, keys }: { subjects: Subject[]; keys: string[] }) {
  const curve = keys.find((k) => subjects.some((s) => (s.run?.points[k] ?? 0) > 1));
  const [key, setKey] = useState(curve ?? keys[0] ?? "");
  const [series, setSeries] = useState<Series[]>([]);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    if (!key) return;
    let live = true;
    Promise.all(subjects.filter((s) => s.run).map(async (s) => ({ label: `${s.label}`, points: await metricSeries(s.run!.id, key) })))
      .then((all) => live && (setSeries(all.filter((x) => x.points.length)), setError(null)))
      .catch((e) => live && setError(toApiError(e)));
    return () => { live = false; };
  }, [key, subjects]);
  if (!keys.length) return null;
  return (
    <Section title="Metric curves" actions={
      <select aria-label="metric" value={key} onChange={(e) => setKey(e.target.value)}>{keys.map((k) => <option key={k}>{k}</option>)}</select>
    }>
      <ErrorBox error={error} />
      <MetricChart series={series} />
    </Section>
  );
}

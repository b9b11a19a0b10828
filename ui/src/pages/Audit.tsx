// The audit ledger, filterable, with its verification status (the hash chain and every row it
// vouches for, checked by the server).
import { FormEvent, useState } from "react";
import { useSearchParams } from "react-router-dom";
import { api, ApiError, toApiError, useApi } from "../api";
import { ErrorBox, Loading, when } from "../components/common";

interface Entry { seq: number; timestamp: string; actor: string; action: string; entity_type: string; entity_id: string; hash: string }
interface Report { ok: boolean; entries: number; rows: number; head_seq: number; head_hash: string; problems: { kind?: string; message?: string; seq?: number }[] }

export function AuditPage() {
  const [params, setParams] = useSearchParams();
  const actor = params.get("actor") ?? "";
  const action = params.get("action") ?? "";
  const after = Number(params.get("after_seq") ?? 0);
  const ledger = useApi<Entry[]>("/ledger", { actor: actor || undefined, action: action || undefined, after_seq: after, limit: 200 });
  const [report, setReport] = useState<Report | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const verify = async () => {
    setBusy(true);
    try {
      setReport(await api<Report>("/ledger/verify", { method: "POST" }));
      setError(null);
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setBusy(false);
    }
  };
  const filter = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const p = new URLSearchParams();
    for (const k of ["actor", "action"]) if (String(form.get(k) ?? "").trim()) p.set(k, String(form.get(k)).trim());
    setParams(p);
  };
  const entries = ledger.data ?? [];
  return (
    <div className="page">
      <h1>Audit ledger</h1>
      <div className="row">
        <button onClick={verify} disabled={busy}>{busy ? "Verifying…" : "Verify the ledger"}</button>
        {report ? (
          <span className={report.ok ? "ok" : "danger"} data-testid="verify-status">
            {report.ok ? `✓ intact: ${report.entries} entries, ${report.rows} rows vouched for, head #${report.head_seq}` : `✗ ${report.problems.length} problem(s)`}
          </span>
        ) : null}
      </div>
      {report && !report.ok ? <ul className="error">{report.problems.map((p, i) => <li key={i}>{JSON.stringify(p)}</li>)}</ul> : null}
      <ErrorBox error={error ?? ledger.error} />
      <form className="search" onSubmit={filter}>
        <input name="actor" aria-label="actor" placeholder="actor" defaultValue={actor} />
        <input name="action" aria-label="action" placeholder="action prefix (run., alias., taint…)" defaultValue={action} />
        <button type="submit">Filter</button>
      </form>
      {ledger.loading ? <Loading /> : null}
      <table className="list small" data-testid="ledger">
        <thead><tr><th>#</th><th>when</th><th>actor</th><th>action</th><th>entity</th><th>hash</th></tr></thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.seq}><td>{e.seq}</td><td>{when(e.timestamp)}</td><td>{e.actor}</td><td>{e.action}</td><td className="mono">{e.entity_type}:{e.entity_id}</td><td className="mono">{e.hash.slice(0, 12)}</td></tr>
          ))}
        </tbody>
      </table>
      <div className="row">
        {after > 0 ? <button onClick={() => { const p = new URLSearchParams(params); p.delete("after_seq"); setParams(p); }}>First page</button> : null}
        {entries.length === 200 ? <button onClick={() => { const p = new URLSearchParams(params); p.set("after_seq", String(entries[entries.length - 1].seq)); setParams(p); }}>Next page</button> : null}
      </div>
    </div>
  );
}

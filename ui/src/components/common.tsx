// Small building blocks shared by the pages.
import { ReactNode } from "react";
import { Link } from "react-router-dom";
import { ApiError } from "../api";

export function Loading({ what }: { what?: string }) {
  return <div className="muted">Loading{what ? ` ${what}` : ""}…</div>;
}

export function ErrorBox({ error }: { error: ApiError | null }) {
  if (!error) return null;
  return (
    <div className="error" role="alert">
      <strong>{error.code}</strong>: {error.message}
      {error.hint ? <div className="hint">{error.hint}</div> : null}
    </div>
  );
}

export function Badge({ value, title }: { value: string; title?: string }) {
  return (
    <span className={`badge badge-${value.replace(/[^a-z_]/gi, "")}`} title={title}>
      {value}
    </span>
  );
}

export function KV({ data, highlight }: { data: Record<string, unknown>; highlight?: Set<string> }) {
  const keys = Object.keys(data).sort();
  if (!keys.length) return <div className="muted">none</div>;
  return (
    <table className="kv">
      <tbody>
        {keys.map((k) => (
          <tr key={k} className={highlight?.has(k) ? "changed" : undefined}>
            <th>{k}</th>
            <td>{show(data[k])}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function show(value: unknown): string {
  if (value === null || value === undefined) return "—";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toPrecision(6).replace(/\.?0+$/, "");
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return d.toISOString().replace("T", " ").slice(0, 19);
}

export function shortId(id: string, length = 10): string {
  return id.slice(0, length);
}

/** The shortest prefix length, at least `min`, that tells every id of `ids` apart (runs made
 * in the same millisecond share their first 10 characters, the time). As the CLI's tables do. */
export function uniquePrefixLength(ids: readonly string[], min = 10): number {
  const sorted = [...new Set(ids)].sort();
  let length = min;
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1];
    const b = sorted[i];
    let shared = 0;
    while (shared < a.length && a[shared] === b[shared]) shared++;
    length = Math.max(length, Math.min(shared + 1, Math.max(a.length, b.length)));
  }
  return length;
}

export function RunLink({ id, children }: { id: string; children?: ReactNode }) {
  return <Link to={`/runs/${id}`}>{children ?? shortId(id)}</Link>;
}

export function RefLink({ refText, children }: { refText: string; children?: ReactNode }) {
  return <Link to={`/lineage/${refText}`}>{children ?? refText}</Link>;
}

export function Section({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <section className="card">
      <header className="card-head">
        <h2>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}

export function bytes(n: number | undefined): string {
  if (n === undefined || n === null) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

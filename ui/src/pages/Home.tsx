// The start page: registered models and the latest runs.
import { Link } from "react-router-dom";
import { useApi } from "../api";
import { RegisteredModel, RunPage } from "../types";
import { Badge, ErrorBox, RunLink, Section, when } from "../components/common";
import { ModelTable } from "./Registry";
import { useEffect, useState } from "react";
import { api, ApiError, toApiError } from "../api";

export function HomePage() {
  const models = useApi<RegisteredModel[]>("/models");
  const [runs, setRuns] = useState<RunPage | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    api<RunPage>("/runs/search", { method: "POST", body: { limit: 15 } }).then(setRuns).catch((e) => setError(toApiError(e)));
  }, []);
  return (
    <div className="page">
      <h1>lineal</h1>
      <p className="muted">Type any reference in the box above (a model <code>churn@prod</code>, a dataset <code>churn-raw@v2</code>, a run id) to see its lineage.</p>
      <Section title="Registered models"><ErrorBox error={models.error} />{models.data ? <ModelTable models={models.data} /> : null}</Section>
      <Section title="Latest runs" actions={<Link to="/runs">all runs →</Link>}>
        <ErrorBox error={error} />
        <table className="list">
          <tbody>
            {runs?.runs.map((r) => (
              <tr key={r.id}><td><RunLink id={r.id} /></td><td>{r.name}</td><td>{r.kind}</td><td><Badge value={r.status} /></td><td className="small">{when(r.started_at)}</td></tr>
            ))}
          </tbody>
        </table>
      </Section>
    </div>
  );
}

// The shell: navigation, the reference box (any CLI reference opens its lineage), sign-in, and
// one route per page. Every page's state that matters is in its URL, so it can be shared.
import { FormEvent, lazy, ReactElement, Suspense, useEffect, useState } from "react";
import { Link, NavLink, Route, Routes, useNavigate, useParams } from "react-router-dom";
import { AuthConfig, setToken, getToken, signInWithSso, signOut, useApi } from "./api";
import { Whoami } from "./types";
import { RunsPage } from "./pages/Runs";
import { Loading } from "./components/common";

// Every page but the runs table is its own chunk, loaded when first opened: the runs page (the
// one most opened first) does not download and compile React Flow, uPlot and the others.
const RunPage = lazy(() => import("./pages/Run").then((m) => ({ default: m.RunPage })));
const LineagePage = lazy(() => import("./pages/Lineage").then((m) => ({ default: m.LineagePage })));
const ModelsPage = lazy(() => import("./pages/Registry").then((m) => ({ default: m.ModelsPage })));
const ModelPage = lazy(() => import("./pages/Registry").then((m) => ({ default: m.ModelPage })));
const ComparePage = lazy(() => import("./pages/Compare").then((m) => ({ default: m.ComparePage })));
const ImpactPage = lazy(() => import("./pages/Impact").then((m) => ({ default: m.ImpactPage })));
const AuditPage = lazy(() => import("./pages/Audit").then((m) => ({ default: m.AuditPage })));
const DatasetsPage = lazy(() => import("./pages/Datasets").then((m) => ({ default: m.DatasetsPage })));
const HomePage = lazy(() => import("./pages/Home").then((m) => ({ default: m.HomePage })));

export function App() {
  const [signIn, setSignIn] = useState(false);
  useEffect(() => {
    const open = () => setSignIn(true);
    window.addEventListener("lineal:unauthorized", open);
    return () => window.removeEventListener("lineal:unauthorized", open);
  }, []);
  return (
    <div className="app">
      <header className="top">
        <Link to="/" className="brand">lineal</Link>
        <nav>
          <NavLink to="/runs">Runs</NavLink>
          <NavLink to="/datasets">Datasets</NavLink>
          <NavLink to="/registry">Registry</NavLink>
          <NavLink to="/audit">Audit</NavLink>
        </nav>
        <RefBox />
        <Identity onSignIn={() => setSignIn(true)} />
      </header>
      {signIn ? <SignIn onClose={() => setSignIn(false)} /> : null}
      <main>
        <Suspense fallback={<Loading />}>
          <Routes>
            <Route path="/" element={<HomePage />} />
            <Route path="/runs" element={<RunsPage />} />
            <Route path="/runs/:runId" element={<RunPage />} />
            <Route path="/lineage/*" element={<Splat page={(ref) => <LineagePage refText={ref} />} />} />
            <Route path="/datasets/*" element={<Splat page={(rest) => <DatasetsPage rest={rest} />} />} />
            <Route path="/registry" element={<ModelsPage />} />
            <Route path="/registry/*" element={<Splat page={(name) => <ModelPage name={name} />} />} />
            <Route path="/compare" element={<ComparePage />} />
            <Route path="/impact/*" element={<Splat page={(ref) => <ImpactPage refText={ref} />} />} />
            <Route path="/audit" element={<AuditPage />} />
            <Route path="*" element={<div className="error">No such page. <Link to="/">Home</Link></div>} />
          </Routes>
        </Suspense>
      </main>
    </div>
  );
}

/** A page whose parameter is the rest of the path: references hold slashes (default/churn@v3). */
function Splat({ page }: { page: (value: string) => ReactElement }) {
  const raw = useParams()["*"] ?? "";
  let value = raw;
  try {
    value = decodeURIComponent(raw); // a pasted URL may still hold %40 for @
  } catch {
    value = raw; // a lone % is part of the text, not an escape
  }
  return page(value);
}

function RefBox() {
  const navigate = useNavigate();
  const [text, setText] = useState("");
  const go = (e: FormEvent) => {
    e.preventDefault();
    const ref = text.trim();
    if (ref) navigate(`/lineage/${ref}`);
  };
  return (
    <form className="refbox" onSubmit={go}>
      <input
        aria-label="reference"
        placeholder="churn@v3, dataset@v2, run id… → lineage"
        value={text}
        onChange={(e) => setText(e.target.value)}
      />
    </form>
  );
}

function Identity({ onSignIn }: { onSignIn: () => void }) {
  const me = useApi<Whoami>("/views/whoami");
  if (me.data) {
    const roles = Object.entries(me.data.roles)
      .map(([p, r]) => (p === "*" ? r : `${r}:${p}`))
      .join(", ");
    const canSignOut = me.data.method === "session" || (me.data.method === "token" && getToken());
    return (
      <div className="identity" data-testid="identity">
        <span title={Object.entries(me.data.roles).map(([p, r]) => `${r} in ${p === "*" ? "every project" : p}`).join(", ")}>
          {me.data.name}
        </span>
        {me.data.auth ? (
          <>
            <span className="muted"> · {roles || "no role"}</span>
            {canSignOut ? <button className="link" onClick={() => void signOut()}>sign out</button> : null}
          </>
        ) : (
          <span className="muted"> (auth off)</span>
        )}
      </div>
    );
  }
  return (
    <div className="identity">
      <button onClick={onSignIn}>Sign in</button>
    </div>
  );
}

function SignIn({ onClose }: { onClose: () => void }) {
  const [token, setText] = useState("");
  const config = useApi<AuthConfig>("/auth/config");
  const sso = config.data?.login_url ?? null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setToken(token);
    onClose();
  };
  return (
    <div className="modal" role="dialog" aria-label="sign in">
      <form onSubmit={submit} className="card">
        <h2>Sign in to lineal</h2>
        {sso ? (
          <div className="row">
            <button type="button" onClick={() => signInWithSso(sso)}>Sign in with SSO</button>
            <span className="muted">or paste an API token:</span>
          </div>
        ) : null}
        <p className="muted">
          This server needs a credential. Paste an API token (<code>lineal token create --role reader</code>);
          it is kept in this browser only and sent as a Bearer token.
        </p>
        <input
          aria-label="token"
          type="password"
          autoFocus
          placeholder="lnl_…"
          value={token}
          onChange={(e) => setText(e.target.value)}
        />
        <div className="row">
          <button type="submit" disabled={!token.trim()}>Sign in</button>
          <button type="button" className="link" onClick={onClose}>Cancel</button>
        </div>
      </form>
    </div>
  );
}

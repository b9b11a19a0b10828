// The shapes the server answers (see src/lineal/server/view_routes.py and the entities'
// to_dict). Only the fields the UI reads are typed.

export interface Run {
  id: string;
  project: string;
  name: string;
  kind: string;
  status: string;
  started_at: string;
  ended_at: string | null;
  parent_id: string | null;
  experiment: string | null;
  params: Record<string, unknown>;
  tags: Record<string, string>;
  metrics: Record<string, number | string>;
  error: { type?: string; message?: string; traceback?: string } | null;
  created_by: string;
  stale: boolean;
}

export interface RunPage {
  runs: Run[];
  next_page_token: string | null;
  columns: string[];
}

export interface Artifact {
  id: string;
  ref: string;
  project: string;
  name: string;
  version: number;
  kind: string;
  digest: string;
  size: number;
  uri: string;
  created_at: string;
  tainted: boolean;
  purged: { purged_at: string; purged_by: string; reason: string } | null;
  metadata?: Record<string, unknown>;
  role?: string;
}

export interface GraphNode {
  id: string;
  type: "artifact" | "run" | "model_version" | "deployment";
  ref: string;
  label: string;
  project: string;
  name: string;
  kind: string;
  version: number | null;
  digest: string | null;
  status: string | null;
  detail: string | null;
  time: string | null;
  tainted: boolean;
  depth: number;
  role: string | null;
  beyond_depth: boolean;
  flags: string[];
  size?: number;
  uri?: string;
  created_by?: string;
  taint?: { reason: string; actor: string; created_at: string };
  deployment?: Deployment;
  dataset?: { rows?: number; columns?: number; schema?: Record<string, string>; described?: boolean };
}

export interface GraphEdge {
  source: string;
  target: string;
  type: string;
  role: string | null;
}

export interface LineageView {
  start: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
  total: number;
  truncated: boolean;
  max_nodes: number;
  depth_limited: boolean;
  hidden_later: number;
  hidden_unreadable: number;
  as_of: string | null;
}

export interface Approval {
  id: string;
  decision: string;
  stage: string;
  actor: string;
  created_at: string;
  comment: string;
}

export interface ModelVersion {
  id: string;
  project: string;
  model: string;
  version: number;
  artifact_ref: string;
  artifact_digest: string;
  stage: string;
  status: string;
  created_at: string;
  created_by: string;
  description: string;
  aliases: string[];
  run_id: string | null;
  approvals: Approval[];
  ref: string;
}

export interface Deployment {
  id: string;
  project: string;
  name: string;
  environment: string;
  target: string;
  status: string;
  model: string;
  model_version: number;
  run_id: string;
  started_at: string;
  ended_at: string | null;
  created_by: string;
  model_ref: string;
  comment: string;
}

export interface RegistryEvent {
  id: string;
  seq: number;
  timestamp: string;
  actor: string;
  action: string;
  version: number | null;
  alias: string | null;
  before: unknown;
  after: unknown;
  comment: string;
}

export interface RegisteredModel {
  id: string;
  project: string;
  name: string;
  description: string;
  owner: string;
  latest_version: number;
  aliases: Record<string, number>;
  policy: Record<string, unknown>;
  ref: string;
  updated_at: string;
}

export interface ModelView {
  model: RegisteredModel;
  versions: ModelVersion[];
  history: RegistryEvent[];
  timeline: Deployment[];
  live: Deployment[];
  as_of?: { state: { time: string; aliases: Record<string, number>; stages: Record<string, string> }; live: Deployment[] };
}

export interface ImpactItem extends GraphNode {
  path: { nodes: string[]; roles: (string | null)[]; text: string };
}

export interface ImpactView {
  start: GraphNode;
  taint: { reason: string; actor: string; created_at: string } | null;
  counts: Record<string, number>;
  depth_limited: boolean;
  artifacts: ImpactItem[];
  model_versions: ImpactItem[];
  deployments: ImpactItem[];
}

export interface Whoami {
  name: string;
  method: string;
  auth: boolean;
  roles: Record<string, string>;
}

export interface ColumnSchema { name: string; type: string; nullable: boolean }

export interface ColumnProfile {
  name: string;
  type: string;
  null_count: number;
  distinct_count: number | null;
  distinct_is_estimate: boolean;
  min: number | string | null;
  max: number | string | null;
  mean: number | null;
  std: number | null;
  p5: number | null;
  p25: number | null;
  p50: number | null;
  p75: number | null;
  p95: number | null;
  top_values: [unknown, number][];
  quantiles_estimated: boolean;
}

/** One version in a list (``_dataset_summary`` in view_routes.py). */
export interface DatasetSummary {
  ref: string;
  project: string;
  name: string;
  version: number;
  rows: number;
  columns: number;
  digest: string;
  storage: string;
  size: number;
  context: string | null;
  created_at: string;
  producer_run_id: string | null;
  aliases: string[];
  tainted: boolean;
  purged: boolean;
}

/** ``DatasetVersion.to_dict()`` plus project and taint. */
export interface DatasetDetail {
  ref: string;
  project: string;
  name: string;
  version: number;
  kind: string;
  storage: string;
  uri: string;
  size: number;
  artifact_digest: string;
  created_at: string;
  producer_run_id: string | null;
  tags: Record<string, string>;
  aliases: string[];
  purged: { purged_at: string; purged_by: string; reason: string } | null;
  tainted: boolean;
  source: string | null;
  context: string | null;
  targets: string[];
  predictions: string[];
  column_tags: Record<string, string[]>;
  format: string | null;
  digest: string;
  num_rows: number;
  num_columns: number;
  nbytes: number;
  schema: ColumnSchema[];
  columns: ColumnProfile[];
}

export interface DatasetView { dataset: DatasetDetail; versions: DatasetSummary[]; truncated: boolean }

export interface DatasetsView { datasets: { latest: DatasetSummary; versions: number }[]; truncated: boolean }

export interface ColumnShift {
  name: string;
  changes: Record<string, [unknown, unknown]>;
  score: number;
  flagged: boolean;
  reason: string;
}

export interface DatasetDiffView {
  a: DatasetSummary;
  b: DatasetSummary;
  threshold: number;
  diff: {
    same_content: boolean;
    added_columns: string[];
    removed_columns: string[];
    retyped_columns: [string, string, string][];
    row_count: [number, number];
    column_shifts: ColumnShift[];
  };
}

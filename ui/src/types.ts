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
  dataset?: { rows?: number; columns?: number; schema?: Record<string, string> };
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

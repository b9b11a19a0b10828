// index.html's early script against the pages' own request builders: the same requests, as
// text, or the early answers would never be used.
import { afterEach, describe, expect, it } from "vitest";
import html from "../index.html?raw";
import { Early, EARLY_MS, requestKey, takeEarly, url } from "./api";
import { lineageQuery, runsSearchBody } from "./pages/requests";

interface Sent { target: string; init: RequestInit }

function runEarly(href: string, token: string | null = null, cookie = "") {
  const code = html.match(/<script>([\s\S]*?)<\/script>/)?.[1];
  if (!code) throw new Error("no early script in index.html");
  const sent: Sent[] = [];
  const win: { __linealEarly?: Early[] } = {};
  const fetch = (target: string, init: RequestInit) => {
    sent.push({ target, init });
    return Promise.resolve(new Response("{}"));
  };
  new Function("window", "localStorage", "document", "location", "fetch", "performance", code)(
    win, { getItem: (key: string) => (key === "lineal.token" ? token : null) }, { cookie },
    new URL(href, "http://lineal.test"), fetch, { now: () => 5 });
  return { early: win.__linealEarly ?? [], sent };
}

const runsKey = (filter: string, order: string) =>
  requestKey("POST", url("/runs/search"), JSON.stringify(runsSearchBody(filter, order, null)));
const lineageKey = (ref: string, depth: string, direction: string, asOf = "") =>
  requestKey("GET", url("/views/lineage", lineageQuery(ref, depth, direction, asOf)));

describe("the early script", () => {
  afterEach(() => {
    delete (globalThis as { __linealEarly?: Early[] }).__linealEarly;
  });

  it("asks for the runs table's first page as the page does", () => {
    expect(runEarly("/runs?columns=params.p0,metrics.m0").early.map((e) => e.key)).toEqual([runsKey("", "")]);
    const q = "?filter=" + encodeURIComponent("metrics.auc > 0.9 and params.C = '0.5'") +
      "&order_by=" + encodeURIComponent("metrics.auc DESC");
    expect(runEarly("/runs" + q).early.map((e) => e.key)).toEqual(
      [runsKey("metrics.auc > 0.9 and params.C = '0.5'", "metrics.auc DESC")]);
  });

  it("asks for the lineage page's graph as the page does", () => {
    expect(runEarly("/lineage/graph/raw@v1?depth=all&direction=down").early.map((e) => e.key))
      .toEqual([lineageKey("graph/raw@v1", "all", "down")]);
    expect(runEarly("/lineage/default%2Fchurn%40v3").early.map((e) => e.key))
      .toEqual([lineageKey("default/churn@v3", "1", "both")]);
    expect(runEarly("/lineage/churn@v3?as_of=2026-01-02T03:04:05.000Z&depth=3").early.map((e) => e.key))
      .toEqual([lineageKey("churn@v3", "3", "both", "2026-01-02T03:04:05.000Z")]);
  });

  it("sends the credential and the CSRF token the page's request would", () => {
    const { early, sent } = runEarly("/runs", "lnl_abc", "x=1; lineal_csrf=t%3D1");
    expect(early[0].token).toBe("lnl_abc");
    const headers = sent[0].init.headers as Record<string, string>;
    expect(headers.authorization).toBe("Bearer lnl_abc");
    expect(headers["x-csrf-token"]).toBe("t=1");
    expect(sent[0].init.method).toBe("POST");
    const get = runEarly("/lineage/a@v1", null, "lineal_csrf=t").sent[0];
    expect((get.init.headers as Record<string, string>)["x-csrf-token"]).toBeUndefined();
  });

  it("asks for nothing on other pages", () => {
    for (const page of ["/", "/runs/01J", "/registry", "/lineage/", "/datasets/a@v1"]) {
      expect(runEarly(page).sent).toEqual([]);
    }
  });
});

describe("takeEarly", () => {
  const entry = (key: string, token: string | null, at = 0): Early =>
    ({ key, token, at, response: Promise.resolve(new Response("{}")) });
  const hold = (entries: Early[]) => {
    (globalThis as { __linealEarly?: Early[] }).__linealEarly = entries;
  };
  afterEach(() => {
    delete (globalThis as { __linealEarly?: Early[] }).__linealEarly;
  });

  it("hands an answer out once", () => {
    hold([entry("GET /a", null)]);
    expect(takeEarly("GET /b", null, 1)).toBeNull();
    expect(takeEarly("GET /a", null, 1)).not.toBeNull();
    expect(takeEarly("GET /a", null, 1)).toBeNull();
  });

  it("never hands out an answer sent with another token, or too long ago", () => {
    hold([entry("GET /a", "one"), entry("GET /b", null)]);
    expect(takeEarly("GET /a", "two", 1)).toBeNull();
    expect(takeEarly("GET /b", null, EARLY_MS + 1)).toBeNull();
  });

  it("is a no-op without an early script", () => {
    expect(takeEarly("GET /a", null, 1)).toBeNull();
  });
});

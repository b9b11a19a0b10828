import { describe, expect, it } from "vitest";
import { datasetName, datasetRoute, diffPath, sideRef } from "./datasetPaths";

const q = (s: string) => new URLSearchParams(s);

describe("datasetRoute", () => {
  it("reads the list, a version and a diff", () => {
    expect(datasetRoute("", q(""))).toEqual({ page: "list" });
    expect(datasetRoute("churn-raw@v2", q(""))).toEqual({ page: "version", ref: "churn-raw@v2" });
    expect(datasetRoute("default/churn-raw@v2", q(""))).toEqual({ page: "version", ref: "default/churn-raw@v2" });
    expect(datasetRoute("default/churn-raw/diff", q("a=v1&b=v2"))).toEqual({ page: "diff", name: "default/churn-raw", a: "v1", b: "v2" });
  });
  it("keeps a dataset called diff a dataset", () => {
    expect(datasetRoute("diff", q(""))).toEqual({ page: "version", ref: "diff" });
    expect(datasetRoute("default/diff", q(""))).toEqual({ page: "version", ref: "default/diff" });
  });
});

describe("sides of a diff", () => {
  it("joins a selector to the name, keeps a whole reference", () => {
    expect(sideRef("default/churn", "v1")).toBe("default/churn@v1");
    expect(sideRef("churn", "")).toBe("churn@latest");
    expect(sideRef("churn", "other/train@v3")).toBe("other/train@v3");
    expect(datasetName("default/churn@v2")).toBe("default/churn");
    expect(datasetName("churn")).toBe("churn");
  });
  it("round-trips through the URL", () => {
    const path = diffPath("default/churn", "v1", "prod");
    const [rest, search] = path.replace("/datasets/", "").split("?");
    expect(datasetRoute(rest, q(search))).toEqual({ page: "diff", name: "default/churn", a: "v1", b: "prod" });
  });
});

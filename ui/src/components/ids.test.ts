import { describe, expect, it } from "vitest";
import { shortId, uniquePrefixLength } from "./common";

describe("uniquePrefixLength", () => {
  it("keeps 10 characters when they tell the ids apart", () => {
    expect(uniquePrefixLength(["01M8Y4VW1HAAAA", "01M8Y4VVWPBBBB", "01M8Y4VVM6CCCC"])).toBe(10);
    expect(uniquePrefixLength([])).toBe(10);
  });

  it("lengthens the prefix until ids made in the same millisecond differ", () => {
    const ids = ["01M8Y4VW7R3KQ1", "01M8Y4VW7R3KQ7", "01M8Y4VW7RZZZZ"];
    const length = uniquePrefixLength(ids);
    expect(length).toBe(14);
    expect(new Set(ids.map((id) => shortId(id, length))).size).toBe(3);
  });

  it("counts a repeated id once", () => {
    expect(uniquePrefixLength(["01M8Y4VW7R3KQ1", "01M8Y4VW7R3KQ1"])).toBe(10);
  });
});

import { describe, expect, it } from "vitest";
import { markdown } from "./markdown";

describe("markdown", () => {
  it("renders the common subset", () => {
    const html = markdown("# Churn\n\nTrained on **Q3** data, see [report](https://x.test/r).\n\n- C = `0.5`\n- *balanced*\n\n```\nlineal diff a b\n```");
    expect(html).toContain("<h3>Churn</h3>");
    expect(html).toContain("<strong>Q3</strong>");
    expect(html).toContain('<a href="https://x.test/r" rel="noopener noreferrer" target="_blank">report</a>');
    expect(html).toContain("<ul>\n<li>C = <code>0.5</code></li>\n<li><em>balanced</em></li>\n</ul>");
    expect(html).toContain("<pre><code>lineal diff a b</code></pre>");
  });

  it("never passes HTML or script links through", () => {
    const html = markdown('<img src=x onerror=alert(1)> [x](javascript:alert(1)) "q"');
    expect(html).not.toContain("<img");
    expect(html).not.toContain('href="javascript');
    expect(html).toContain("&lt;img");
  });
});

// Metric curves with uPlot (made for long series: 100k points draw in milliseconds). Several
// series share the step axis; a series missing a step has a gap there.
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface Series {
  label: string;
  points: [number, number | null][];
}

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f"];

export function MetricChart({ series, height = 260 }: { series: Series[]; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el || !series.length) return;
    const steps = Array.from(new Set(series.flatMap((s) => s.points.map((p) => p[0])))).sort((a, b) => a - b);
    const index = new Map(steps.map((s, i) => [s, i]));
    const columns = series.map((s) => {
      const column: (number | null)[] = new Array(steps.length).fill(null);
      for (const [step, value] of s.points) column[index.get(step)!] = value;
      return column;
    });
    const plot = new uPlot(
      {
        width: Math.max(300, el.clientWidth),
        height,
        scales: { x: { time: false } },
        axes: [{ label: "step" }, {}],
        series: [
          { label: "step" },
          ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true, points: { show: steps.length < 60 } })),
        ],
      },
      [steps, ...columns] as uPlot.AlignedData,
      el,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(300, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [series, height]);
  if (!series.length) return <div className="muted">no metric selected</div>;
  return <div ref={box} className="chart" data-testid="metric-chart" />;
}

// ECharts from the npm package, only the parts the pages use (a smaller bundle than the whole library).
import * as echarts from "echarts/core";
import { BarChart, FunnelChart, HeatmapChart, LineChart, SankeyChart, ScatterChart } from "echarts/charts";
import {
  GridComponent, LegendComponent, MarkLineComponent, TitleComponent, TooltipComponent, VisualMapComponent,
  AriaComponent,
} from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([BarChart, FunnelChart, HeatmapChart, LineChart, SankeyChart, ScatterChart, GridComponent, LegendComponent,
  MarkLineComponent, TitleComponent, TooltipComponent, VisualMapComponent, AriaComponent, CanvasRenderer]);

const charts = [];
window.addEventListener("resize", () => charts.forEach((c) => c.resize()));

// A chart in a new figure under `parent`: a heading, the chart's box, and a caption saying its units.
export function chart(parent, title, caption, option, height = 320) {
  const figure = document.createElement("figure");
  figure.className = "chart";
  const heading = document.createElement("h3");
  heading.textContent = title;
  const box = document.createElement("div");
  box.className = "chart-box";
  box.style.height = `${height}px`;
  box.setAttribute("role", "img");
  box.setAttribute("aria-label", `${title}: ${caption}`);
  const cap = document.createElement("figcaption");
  cap.textContent = caption;
  figure.append(heading, box, cap);
  parent.append(figure);
  const instance = echarts.init(box, null, { renderer: "canvas" });
  instance.setOption({ animation: false, aria: { enabled: true }, tooltip: { trigger: "axis" },
    grid: { left: 64, right: 24, top: 40, bottom: 48 }, ...option });
  charts.push(instance);
  return instance;
}

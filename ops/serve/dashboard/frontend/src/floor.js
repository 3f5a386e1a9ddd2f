// The floor plan on a canvas, in metres: zones, counting lines and camera views from the layout, the
// heatmap's presence seconds per cell beneath them, and each zone's dwell on hover (and in the table below).
const KIND_COLOURS = { entrance: "#27ae60", product: "#2e86c1", queue: "#e67e22", checkout: "#8e44ad", staff: "#7f8c8d" };

export async function floorPlan(parent, layout, heat, zones) {
  const [x0, y0, x1, y1] = layout.bounds_m;
  const margin = 1.0;
  const width = Math.min(parent.clientWidth || 900, 1000);
  const scale = (width - 40) / (x1 - x0 + 2 * margin);
  const height = Math.ceil((y1 - y0 + 2 * margin) * scale) + 40;
  const figure = document.createElement("figure");
  figure.className = "chart";
  const heading = document.createElement("h3");
  heading.textContent = "Floor plan";
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", `Floor plan of ${layout.store_id}, layout version ${layout.layout_version}: ${layout.zones.length} zones, ${layout.lines.length} counting lines, ${layout.cameras.length} cameras; heatmap of presence seconds per ${heat.cell_m} m cell`);
  const tip = document.createElement("div");
  tip.className = "floor-tip";
  tip.setAttribute("role", "status");
  const caption = document.createElement("figcaption");
  caption.textContent = `metres${layout.plan_image ? ", over the store's plan" : ""}; heatmap: presence seconds per ${heat.cell_m} m cell over the window; hover a zone for its dwell`;
  figure.append(heading, canvas, tip, caption);
  parent.append(figure);

  const px = (x) => 20 + (x - x0 + margin) * scale;
  const py = (y) => 20 + (y - y0 + margin) * scale;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fbfbfb";
  ctx.fillRect(0, 0, width, height);
  const plan = layout.plan_image;
  if (plan) { // the store's drawing first, placed in metres; everything else is drawn over it
    const image = new Image();
    image.src = plan.url;
    await image.decode();
    ctx.globalAlpha = 0.6;
    ctx.drawImage(image, px(plan.x_m), py(plan.y_m), plan.width_m * scale, plan.height_m * scale);
    ctx.globalAlpha = 1;
  }
  const peak = Math.max(1, ...heat.cells.map((c) => c[2]));
  for (const [cx, cy, seconds] of heat.cells) {
    const t = Math.sqrt(seconds / peak);
    ctx.fillStyle = `rgba(231, 76, 60, ${0.1 + 0.8 * t})`;
    ctx.fillRect(px(cx * heat.cell_m), py(cy * heat.cell_m), Math.ceil(heat.cell_m * scale), Math.ceil(heat.cell_m * scale));
  }
  const paths = [];
  for (const zone of layout.zones) {
    const path = new Path2D();
    zone.polygon_m.forEach(([x, y], i) => (i ? path.lineTo(px(x), py(y)) : path.moveTo(px(x), py(y))));
    path.closePath();
    ctx.strokeStyle = KIND_COLOURS[zone.kind] || "#333";
    ctx.lineWidth = 2;
    ctx.stroke(path);
    const [lx, ly] = zone.polygon_m[0];
    ctx.fillStyle = "#222";
    ctx.font = "12px sans-serif";
    ctx.fillText(zone.label || zone.zone_id, px(lx) + 4, py(ly) + 14);
    paths.push([zone, path]);
  }
  ctx.setLineDash([6, 4]);
  for (const cam of layout.cameras) {
    ctx.strokeStyle = "#95a5a6";
    ctx.beginPath();
    cam.view_m.forEach(([x, y], i) => (i ? ctx.lineTo(px(x), py(y)) : ctx.moveTo(px(x), py(y))));
    ctx.closePath();
    ctx.stroke();
  }
  ctx.setLineDash([]);
  for (const line of layout.lines) {
    ctx.strokeStyle = "#c0392b";
    ctx.lineWidth = 4;
    ctx.beginPath();
    ctx.moveTo(px(line.a_m[0]), py(line.a_m[1]));
    ctx.lineTo(px(line.b_m[0]), py(line.b_m[1]));
    ctx.stroke();
  }
  // Scale bar: one metre.
  ctx.fillStyle = "#222";
  ctx.fillRect(20, height - 14, scale, 3);
  ctx.fillText("1 m", 24 + scale, height - 8);

  const dwell = Object.fromEntries(zones.zones.map((z) => [z.zone_id, z]));
  canvas.addEventListener("mousemove", (e) => {
    const r = canvas.getBoundingClientRect();
    const mx = (e.clientX - r.left) * (canvas.width / r.width);
    const my = (e.clientY - r.top) * (canvas.height / r.height);
    const hit = paths.find(([, p]) => ctx.isPointInPath(p, mx, my));
    if (!hit) { tip.textContent = ""; return; }
    const d = dwell[hit[0].zone_id];
    tip.textContent = d
      ? `${hit[0].zone_id} (${hit[0].kind}): ${d.stays} stays, median dwell ${d.median_s} s, p90 ${d.p90_s} s`
      : `${hit[0].zone_id} (${hit[0].kind}): no stays in the window`;
  });
}

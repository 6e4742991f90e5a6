/**
 * Chart helpers: a hashrate y-axis whose width follows its longest label, so "80.00 MH/s" is never
 * cut to "0.00 MH/s"; the width used and the widest label are left on the chart's element
 * (`data-axis-size`, `data-label-width`) for the browser test to check.
 * @module
 */
import type uPlot from "uplot";
import { hashrate } from "./format.ts";

/** A y-axis for H/s values. */
export function hashrateAxis(el: () => HTMLElement | null): uPlot.Axis {
  return {
    values: (_u, vals) => vals.map((v) => hashrate(v)),
    size: (u, values) => {
      if (!values?.length) return 50;
      const ctx = u.ctx;
      ctx.save();
      ctx.font = u.axes[1]?.font?.[0] ?? "12px system-ui";
      const widest = Math.max(...values.map((v) => ctx.measureText(String(v)).width));
      ctx.restore();
      // tick (10) + gap (6) + label + margin (8), in CSS pixels
      const size = Math.ceil(widest / (devicePixelRatio || 1) + 24);
      const host = el();
      if (host) {
        host.dataset.axisSize = String(size);
        host.dataset.labelWidth = String(Math.ceil(widest / (devicePixelRatio || 1)));
      }
      return size;
    },
  };
}

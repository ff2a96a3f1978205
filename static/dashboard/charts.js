// The two time charts (uPlot): arrivals per 5 minutes as bars, online viewers per minute as a line.
// Times are shown in the event's zone whatever the projector laptop's own zone is.

import uPlot from "/static/vendor/uplot/uPlot.esm.js";

const TIME_ZONE = "Asia/Tokyo";
const HOURS = new Intl.DateTimeFormat("en-GB", { timeZone: TIME_ZONE, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const HEIGHT = { normal: 220, projector: 300 };

function palette(dark) {
  return dark
    ? { axis: "#d7dde5", grid: "rgba(255,255,255,.12)", bars: "#5cb8ff", line: "#ffd166" }
    : { axis: "#333", grid: "rgba(0,0,0,.08)", bars: "#0b57d0", line: "#0a7a2f" };
}

/** [[iso, count], …] as uPlot's columns: seconds and values. */
function columns(points) {
  return [points.map(([iso]) => Date.parse(iso) / 1000), points.map(([, value]) => value)];
}

export class TimeChart {
  /** @param {HTMLElement} element  @param {"bars"|"line"} kind */
  constructor(element, kind) {
    this.element = element;
    this.kind = kind;
    this.points = [];
    this.plot = null;
    new ResizeObserver(() => this.plot?.setSize(this.size())).observe(element);
  }

  size() {
    const projector = document.body.classList.contains("projector");
    return { width: Math.max(240, this.element.clientWidth), height: projector ? HEIGHT.projector : HEIGHT.normal };
  }

  /** (Re)build for the current language and mode; the data is kept. */
  build(label) {
    const projector = document.body.classList.contains("projector");
    const colours = palette(projector);
    const bars = this.kind === "bars";
    const font = projector ? "18px system-ui, sans-serif" : "12px system-ui, sans-serif";
    const axis = { stroke: colours.axis, font, size: projector ? 60 : 50, grid: { stroke: colours.grid }, ticks: { stroke: colours.grid } };
    const options = {
      ...this.size(),
      tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), TIME_ZONE),
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(5, Math.ceil(max * 1.15))] } },
      axes: [
        { ...axis, values: (_u, ticks) => ticks.map((tick) => HOURS.format(new Date(tick * 1000))) },
        { ...axis, values: (_u, ticks) => ticks.map((tick) => (Number.isInteger(tick) ? tick : "")) },
      ],
      series: [
        {},
        {
          label,
          stroke: bars ? colours.bars : colours.line,
          fill: bars ? colours.bars : "transparent",
          width: bars ? 0 : 3,
          points: { show: false },
          paths: bars ? uPlot.paths.bars({ size: [0.85, 80], align: 1 }) : undefined,
        },
      ],
    };
    this.plot?.destroy();
    this.plot = new uPlot(options, columns(this.points), this.element);
  }

  update(points) {
    this.points = points;
    this.plot?.setData(columns(points));
  }
}

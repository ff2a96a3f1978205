// The two time charts (uPlot): arrivals per 5 minutes as bars, online viewers per minute as a line.
// Times are shown in the event's zone whatever the projector laptop's own zone is, ticks on whole
// minutes only, and a chart with nothing to draw says so in words.

import uPlot from "/static/vendor/uplot/uPlot.esm.js";

const TIME_ZONE = "Asia/Tokyo";
const HOURS = new Intl.DateTimeFormat("en-GB", { timeZone: TIME_ZONE, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const HEIGHT = { normal: 220, projector: 260 };

function palette(dark) {
  return dark
    ? { axis: "#d7dde5", grid: "rgba(255,255,255,.12)", bars: "#5cb8ff", line: "#ffd166" }
    : { axis: "#333", grid: "rgba(0,0,0,.08)", bars: "#0b57d0", line: "#0a7a2f" };
}

// Tick spacings (seconds): whole minutes only, so two ticks never read the same HH:MM.
const TICK_STEPS = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
const MAX_TICKS = { normal: 7, projector: 6 };
// The width shown at least, in buckets: one bucket alone is drawn as a bar among empty neighbours.
const MIN_BUCKETS = 6;

/** The x range: the buckets shown with one bucket's room either side, never narrower than MIN_BUCKETS. */
export function timeRange(min, max, step) {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, step * MIN_BUCKETS];
  let low = min - step;
  let high = max + step;
  const missing = step * MIN_BUCKETS - (high - low);
  if (missing > 0) {
    low -= Math.ceil(missing / 2 / step) * step;
    high += Math.floor(missing / 2 / step) * step;
  }
  return [low, high];
}

/** Tick positions on whole minutes (a multiple of a step from TICK_STEPS), at most `most` of them. */
export function timeTicks(low, high, most) {
  const step = TICK_STEPS.find((candidate) => (high - low) / candidate <= most) ?? TICK_STEPS[TICK_STEPS.length - 1];
  const ticks = [];
  if (!Number.isFinite(low) || !Number.isFinite(high)) return ticks;
  for (let tick = Math.ceil(low / step) * step; tick <= high; tick += step) ticks.push(tick);
  return ticks;
}

/** [[iso, count], …] as uPlot's columns: seconds and values. */
function columns(points) {
  return [points.map(([iso]) => Date.parse(iso) / 1000), points.map(([, value]) => value)];
}

export class TimeChart {
  /**
   * @param {HTMLElement} element  @param {"bars"|"line"} kind  @param {number} step  seconds per bucket
   * @param {HTMLElement | null} empty  what is shown instead of an empty chart
   */
  constructor(element, kind, step, empty) {
    this.element = element;
    this.kind = kind;
    this.step = step;
    this.empty = empty;
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
      scales: { x: { time: true, range: () => this.range() }, y: { range: (_u, _min, max) => [0, Math.max(5, Math.ceil(max * 1.15))] } },
      axes: [
        {
          ...axis,
          splits: (_u, _axis, low, high) => timeTicks(low, high, projector ? MAX_TICKS.projector : MAX_TICKS.normal),
          values: (_u, ticks) => {
            const labels = ticks.map((tick) => HOURS.format(new Date(tick * 1000)));
            this.element.dataset.ticks = labels.join(" "); // the canvas' words, readable by tests and tools
            return labels;
          },
        },
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
    this.showEmpty();
  }

  /** The x range from the points themselves (uPlot's own guess for one point is a day either side). */
  range() {
    const [times] = columns(this.points);
    return timeRange(times[0], times[times.length - 1], this.step);
  }

  update(points) {
    this.points = points;
    this.plot?.setData(columns(points));
    this.showEmpty();
  }

  /** Before the first point, a sentence instead of axes around nothing. */
  showEmpty() {
    const none = this.points.length === 0;
    this.element.hidden = none;
    if (this.empty) this.empty.hidden = !none;
  }
}

/** The page's two charts, each with its label key and its series in the snapshot. */
export function makeCharts(byId) {
  return [
    [new TimeChart(byId("chart-arrivals"), "bars", 300, byId("chart-arrivals-empty")), "arrivals_series", "arrivals"],
    [new TimeChart(byId("chart-online"), "line", 60, byId("chart-online-empty")), "online_series", "online"],
  ];
}

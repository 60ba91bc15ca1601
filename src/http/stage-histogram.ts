/**
 * A Prometheus histogram with one label, kept in plain arrays and rendered in the text exposition
 * format. The per-frame stage histograms are fed by every result from the agent's start, but
 * prom-client (~2 MB of V8 heap with its default metrics) is loaded only when /metrics is first
 * scraped — most devices are never scraped — so these observations cannot live in its registry.
 */
export class LabelledHistogram {
  private readonly series = new Map<string, { buckets: Float64Array; sum: number; count: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly label: string,
    /** Upper bounds, ascending; +Inf is implied. */
    readonly bounds: readonly number[],
  ) {
    for (let i = 1; i < bounds.length; i++)
      if (!(bounds[i]! > bounds[i - 1]!)) throw new RangeError(`${name}: bucket bounds must ascend`);
  }

  observe(labelValue: string, value: number): void {
    if (!Number.isFinite(value)) return;
    let s = this.series.get(labelValue);
    if (!s) {
      s = { buckets: new Float64Array(this.bounds.length), sum: 0, count: 0 };
      this.series.set(labelValue, s);
    }
    // Non-cumulative here; cumulated when rendered.
    const i = this.bounds.findIndex((b) => value <= b);
    if (i >= 0) s.buckets[i]! += 1;
    s.sum += value;
    s.count += 1;
  }

  /** The metric in Prometheus text format (0.0.4), ending with a newline. */
  text(): string {
    const lines = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} histogram`];
    for (const [value, s] of this.series) {
      const label = `${this.label}="${escapeLabel(value)}"`;
      let cumulative = 0;
      for (const [i, bound] of this.bounds.entries()) {
        cumulative += s.buckets[i]!;
        lines.push(`${this.name}_bucket{le="${bound}",${label}} ${cumulative}`);
      }
      lines.push(`${this.name}_bucket{le="+Inf",${label}} ${s.count}`);
      lines.push(`${this.name}_sum{${label}} ${s.sum}`);
      lines.push(`${this.name}_count{${label}} ${s.count}`);
    }
    return `${lines.join('\n')}\n`;
  }
}

const escapeHelp = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabel = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

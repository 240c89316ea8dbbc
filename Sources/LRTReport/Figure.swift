import Foundation

/// A line of data on a panel: points at `x[i], y[i]`; a point its axes cannot show (NaN, or ≤ 0 on a log
/// axis) is left out and breaks the line there.
public struct LineSeries: Sendable {
    public var label: String
    public var x: [Double]
    public var y: [Double]
    public var color: Color
    /// Stroke width in CSS pixels.
    public var width = 1.6
    /// Dash pattern (on, off, …) in CSS pixels; empty for solid.
    public var dash: [Double] = []
    public var opacity = 1.0
    /// Marker radius for each point (0: none).
    public var markerRadius = 0.0

    /// A series; see the properties for the defaults.
    public init(label: String, x: [Double], y: [Double], color: Color, width: Double = 1.6, dash: [Double] = [],
                opacity: Double = 1, markerRadius: Double = 0) {
        (self.label, self.x, self.y, self.color, self.width, self.dash, self.opacity, self.markerRadius) =
            (label, x, y, color, width, dash, opacity, markerRadius)
    }
}

/// A legend line: a short sample of a line style and its label.
public struct LegendEntry: Sendable, Equatable {
    public var label: String
    public var color: Color
    public var dash: [Double]
    public var width: Double
    /// A heading (bold, no sample), such as "layers (input → output)".
    public var isHeading: Bool
    /// A note (no sample), such as "smoothed: EMA 0.6".
    public var isNote: Bool

    public init(label: String, color: Color, dash: [Double] = [], width: Double = 2, isHeading: Bool = false, isNote: Bool = false) {
        (self.label, self.color, self.dash, self.width, self.isHeading, self.isNote) = (label, color, dash, width, isHeading, isNote)
    }
}

/// One plot: a title, two labelled axes with ticks and gridlines, and its series.
public struct Panel: Sendable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var xScale = AxisScale.linear
    public var yScale = AxisScale.linear
    /// Series drawn in order (faint raw data first, so the smoothed lines lie on top).
    public var series: [LineSeries] = []
    /// Whether x ticks must be whole numbers (epochs).
    public var integerX = false
    /// Whether the x axis ends where the data does, rather than at the next nice tick (steps).
    public var tightX = false
    /// Shown in the middle of the panel when it has no data (e.g. "no telemetry: train with --log-every").
    public var emptyNote = "no data"

    public init(title: String, xLabel: String, yLabel: String, xScale: AxisScale = .linear, yScale: AxisScale = .linear) {
        (self.title, self.xLabel, self.yLabel, self.xScale, self.yScale) = (title, xLabel, yLabel, xScale, yScale)
    }

    /// Whether any series has a point the axes can show.
    public var hasData: Bool {
        series.contains { line in zip(line.x, line.y).contains { xScale.accepts($0) && yScale.accepts($1) } }
    }
}

/// A row of panels side by side, with one legend to their right.
public struct FigureRow: Sendable {
    public var panels: [Panel]
    public var legend: [LegendEntry]
    public init(panels: [Panel], legend: [LegendEntry]) { (self.panels, self.legend) = (panels, legend) }
}

/// Rows of panels under an optional title, laid out to a size and drawn as a ``Scene``.
public struct Figure: Sendable {
    public var title: String
    public var rows: [FigureRow]
    /// Width and height in CSS pixels.
    public var width: Double
    public var height: Double

    public init(title: String, rows: [FigureRow], width: Double, height: Double) {
        (self.title, self.rows, self.width, self.height) = (title, rows, width, height)
    }

    // Type sizes in CSS pixels.
    static let titleSize = 15.0, panelTitleSize = 13.0, labelSize = 12.0, tickSize = 11.0, legendSize = 11.0
    static let margin = 14.0, tickLength = 4.0, legendSampleWidth = 26.0, legendLineHeight = 16.0
    /// Room for text set in another font than the stroke font's metrics (an SVG viewer's DejaVu Sans is about 12% wider).
    static let otherFontSlack = 1.15

    /// Lays the figure out and returns what to draw.
    public func scene() -> Scene {
        var scene = Scene(width: width, height: height)
        scene.title = title
        var top = Figure.margin
        if !title.isEmpty {
            scene.shapes.append(.text(title, position: Point(width / 2, top + Figure.titleSize), size: Figure.titleSize,
                                      color: .ink, anchor: .middle, rotation: 0, bold: true, role: "title"))
            top += Figure.titleSize * 2
        }
        let legendWidth = rows.flatMap(\.legend).map { entry in
            StrokeFont.width(of: entry.label, size: Figure.legendSize, bold: entry.isHeading) + (entry.isHeading || entry.isNote ? 0 : Figure.legendSampleWidth + 8)
        }.max().map { $0 * Figure.otherFontSlack + 16 } ?? 0
        let rowHeight = (height - top - Figure.margin) / Double(max(1, rows.count))
        for (rowIndex, row) in rows.enumerated() {
            let cellWidth = (width - 2 * Figure.margin - legendWidth) / Double(max(1, row.panels.count))
            let rowTop = top + Double(rowIndex) * rowHeight
            var plotAreas: [Rectangle] = []
            for (column, panel) in row.panels.enumerated() {
                let cell = Rectangle(x: Figure.margin + Double(column) * cellWidth, y: rowTop, width: cellWidth, height: rowHeight)
                plotAreas.append(draw(panel, in: cell, into: &scene))
            }
            if !row.legend.isEmpty, let first = plotAreas.first {
                drawLegend(row.legend, x: width - Figure.margin - legendWidth + 16, top: first.y, into: &scene)
            }
        }
        return scene
    }

    /// Draws `panel` in `cell`; returns its plot area.
    func draw(_ panel: Panel, in cell: Rectangle, into scene: inout Scene) -> Rectangle {
        let points = panel.series.flatMap { line in zip(line.x, line.y).filter { panel.xScale.accepts($0) && panel.yScale.accepts($1) } }
        var xTicks = AxisTicks.covering(points.map(\.0), scale: panel.xScale, target: 6)
        if panel.integerX { xTicks = Figure.integerTicks(xTicks, data: points.map(\.0)) }
        else if panel.tightX { xTicks = Figure.tightTicks(xTicks, data: points.map(\.0)) }
        // Cells are taller than wide in a one-column figure: fewer ticks when short.
        let yTarget = cell.height < 220 ? 4 : 6
        let yTicks = Figure.paddedTicks(points.map(\.1), scale: panel.yScale, target: yTarget)

        let tickLabelWidth = (yTicks.labels.map { StrokeFont.width(of: $0, size: Figure.tickSize) }.max() ?? 0) * Figure.otherFontSlack
        let left = cell.x + Figure.labelSize * 1.4 + 6 + tickLabelWidth + Figure.tickLength + 4
        let top = cell.y + Figure.panelTitleSize * 2
        let bottom = cell.maxY - (Figure.tickLength + 4 + Figure.tickSize + 8 + Figure.labelSize + 10)
        let lastXLabel = StrokeFont.width(of: xTicks.labels.last ?? "", size: Figure.tickSize) / 2
        let right = cell.maxX - max(18, lastXLabel + 6)
        let area = Rectangle(x: left, y: top, width: max(10, right - left), height: max(10, bottom - top))

        func mapX(_ value: Double) -> Double {
            let (low, high) = (panel.xScale.transform(xTicks.lower), panel.xScale.transform(xTicks.upper))
            return area.x + (panel.xScale.transform(value) - low) / (high - low) * area.width
        }
        func mapY(_ value: Double) -> Double {
            let (low, high) = (panel.yScale.transform(yTicks.lower), panel.yScale.transform(yTicks.upper))
            return area.maxY - (panel.yScale.transform(value) - low) / (high - low) * area.height
        }

        // Title, centred over the plot area.
        scene.shapes.append(.text(panel.title, position: Point(area.x + area.width / 2, cell.y + Figure.panelTitleSize * 1.25),
                                  size: Figure.panelTitleSize, color: .ink, anchor: .middle, rotation: 0, bold: true, role: "panel-title"))
        // Gridlines and ticks.
        for (value, label) in zip(yTicks.values, yTicks.labels) {
            let y = mapY(value)
            scene.shapes.append(.polyline(points: [Point(area.x, y), Point(area.maxX, y)], color: .grid, width: 1, opacity: 1,
                                          dash: [], clip: nil, role: "gridline"))
            scene.shapes.append(.polyline(points: [Point(area.x - Figure.tickLength, y), Point(area.x, y)], color: .ink, width: 1,
                                          opacity: 1, dash: [], clip: nil, role: "tick"))
            scene.shapes.append(.text(label, position: Point(area.x - Figure.tickLength - 4, y + Figure.tickSize * 0.36),
                                      size: Figure.tickSize, color: .secondaryInk, anchor: .end, rotation: 0, bold: false, role: "y-tick-label"))
        }
        for (value, label) in zip(xTicks.values, xTicks.labels) {
            let x = mapX(value)
            scene.shapes.append(.polyline(points: [Point(x, area.y), Point(x, area.maxY)], color: .grid, width: 1, opacity: 1,
                                          dash: [], clip: nil, role: "gridline"))
            scene.shapes.append(.polyline(points: [Point(x, area.maxY), Point(x, area.maxY + Figure.tickLength)], color: .ink,
                                          width: 1, opacity: 1, dash: [], clip: nil, role: "tick"))
            scene.shapes.append(.text(label, position: Point(x, area.maxY + Figure.tickLength + 4 + Figure.tickSize * 0.75),
                                      size: Figure.tickSize, color: .secondaryInk, anchor: .middle, rotation: 0, bold: false, role: "x-tick-label"))
        }
        // Axis lines: left and bottom.
        scene.shapes.append(.polyline(points: [Point(area.x, area.y), Point(area.x, area.maxY), Point(area.maxX, area.maxY)],
                                      color: .ink, width: 1, opacity: 1, dash: [], clip: nil, role: "axis"))
        // Axis labels.
        scene.shapes.append(.text(panel.xLabel, position: Point(area.x + area.width / 2, cell.maxY - 10), size: Figure.labelSize,
                                  color: .ink, anchor: .middle, rotation: 0, bold: false, role: "x-label"))
        scene.shapes.append(.text(panel.yLabel, position: Point(cell.x + Figure.labelSize * 1.0, area.y + area.height / 2),
                                  size: Figure.labelSize, color: .ink, anchor: .middle, rotation: -90, bold: false, role: "y-label"))
        // Data.
        guard !points.isEmpty else {
            scene.shapes.append(.text(panel.emptyNote, position: Point(area.x + area.width / 2, area.y + area.height / 2),
                                      size: Figure.labelSize, color: .neutral, anchor: .middle, rotation: 0, bold: false, role: "note"))
            return area
        }
        let clip = Rectangle(x: area.x - 1, y: area.y - 1, width: area.width + 2, height: area.height + 2)
        for line in panel.series {
            var pieces: [[Point]] = [[]]
            var markers: [Point] = []
            for (x, y) in zip(line.x, line.y) {
                guard panel.xScale.accepts(x), panel.yScale.accepts(y) else {
                    if !pieces[pieces.count - 1].isEmpty { pieces.append([]) }
                    continue
                }
                let point = Point(mapX(x), mapY(y))
                pieces[pieces.count - 1].append(point)
                markers.append(point)
            }
            for piece in pieces where !piece.isEmpty {
                scene.shapes.append(.polyline(points: Figure.decimated(piece, columnWidth: 0.5), color: line.color, width: line.width, opacity: line.opacity,
                                              dash: line.dash, clip: clip, role: "series"))
            }
            if line.markerRadius > 0 {
                for marker in markers {
                    scene.shapes.append(.circle(center: marker, radius: line.markerRadius, fill: line.color, opacity: line.opacity,
                                                clip: clip, role: "marker"))
                }
            }
        }
        return area
    }

    /// `points` (ordered by x) with at most four points per `columnWidth`-wide column: the first, lowest,
    /// highest and last, in order, so a line of a million steps draws the same envelope in a fraction of the time.
    static func decimated(_ points: [Point], columnWidth: Double) -> [Point] {
        guard points.count > 64 else { return points }
        var result: [Point] = [], bucket: [Point] = []
        var column = Double.nan
        func flush() {
            guard let first = bucket.first, let last = bucket.last else { return }
            if bucket.count <= 4 { result += bucket } else {
                let low = bucket.min { $0.y < $1.y }!, high = bucket.max { $0.y < $1.y }!
                let middle = low.x <= high.x ? [low, high] : [high, low]
                result += [first] + middle + [last]
            }
            bucket.removeAll(keepingCapacity: true)
        }
        for point in points {
            let pointColumn = (point.x / columnWidth).rounded(.down)
            if pointColumn != column { flush(); column = pointColumn }
            bucket.append(point)
        }
        flush()
        return result
    }

    /// Whole-number ticks for an epoch axis: steps of 1, 2, 5, 10, …, never a fractional epoch; the axis runs a
    /// little beyond the first and last epoch, so their markers are not cut.
    static func integerTicks(_ ticks: AxisTicks, data: [Double]) -> AxisTicks {
        let low = (data.min() ?? 1).rounded(.down), high = (data.max() ?? 1).rounded(.up)
        let step = max(1, AxisTicks.niceStep((high - low) / 6))
        let first = (low / step).rounded(.up) * step, last = (high / step).rounded(.down) * step
        var values = first <= last ? Swift.stride(from: first, through: last, by: step).map { $0 } : []
        if values.isEmpty { values = [low] }
        let pad = max(0.25, (high - low) * 0.03)
        return AxisTicks(lower: min(low, values[0]) - pad, upper: max(high, values.last!) + pad, values: values,
                         labels: values.map { String(Int($0)) })
    }

    /// Ticks for a value axis: the data's range widened by 5% on each side (in the scale's units), so no line lies
    /// on the frame, with the nice ticks inside it (at least two; otherwise the range grows to the enclosing ticks).
    static func paddedTicks(_ values: [Double], scale: AxisScale, target: Int) -> AxisTicks {
        let drawn = values.filter(scale.accepts).map(scale.transform)
        guard let low = drawn.min(), let high = drawn.max(), high > low else {
            return AxisTicks.covering(values, scale: scale, target: target)
        }
        let pad = (high - low) * 0.05
        let (paddedLow, paddedHigh) = scale == .linear ? (low - pad, high + pad) : (pow(10, low - pad), pow(10, high + pad))
        return ticks(within: paddedLow, paddedHigh, scale: scale, target: target)
    }

    /// `ticks` cut to the data's range: the axis starts and ends where the data does (steps).
    static func tightTicks(_ ticks: AxisTicks, data: [Double]) -> AxisTicks {
        guard let low = data.min(), let high = data.max(), high > low else { return ticks }
        return Figure.ticks(within: low, high, scale: .linear, target: 6)
    }

    /// An axis from `low` to `high` exactly with the nice ticks inside it: the step that leaves at least
    /// `target − 2` ticks inside (or 2, the fewest an axis can be read by), else the enclosing ticks.
    static func ticks(within low: Double, _ high: Double, scale: AxisScale, target: Int) -> AxisTicks {
        var fallback: AxisTicks?
        for asked in [target, target * 3 / 2, target * 2] {
            let ticks = scale == .linear ? AxisTicks.linear(minimum: low, maximum: high, target: asked)
                                         : AxisTicks.logarithmic(minimum: low, maximum: high, target: asked)
            let slack = (high - low) * 1e-9
            let inside = zip(ticks.values, ticks.labels).filter { $0.0 >= low - slack && $0.0 <= high + slack }
            let cut = AxisTicks(lower: low, upper: high, values: inside.map(\.0), labels: inside.map(\.1))
            if inside.count >= max(2, target - 2) || scale == .logarithmic && inside.count >= 2 { return cut }
            if fallback == nil, inside.count >= 2 { fallback = cut }
        }
        return fallback ?? (scale == .linear ? AxisTicks.linear(minimum: low, maximum: high, target: target)
                                             : AxisTicks.logarithmic(minimum: low, maximum: high, target: target))
    }

    /// Draws a legend column whose first line is at `top`.
    func drawLegend(_ entries: [LegendEntry], x: Double, top: Double, into scene: inout Scene) {
        var y = top + Figure.legendSize
        for entry in entries {
            if entry.isHeading || entry.isNote {
                if entry.isHeading && y > top + Figure.legendSize { y += 4 }
                scene.shapes.append(.text(entry.label, position: Point(x, y), size: Figure.legendSize, color: entry.isNote ? .neutral : .ink,
                                          anchor: .start, rotation: 0, bold: entry.isHeading, role: entry.isNote ? "legend-note" : "legend-heading"))
            } else {
                let middle = y - Figure.legendSize * 0.35
                scene.shapes.append(.polyline(points: [Point(x, middle), Point(x + Figure.legendSampleWidth, middle)], color: entry.color,
                                              width: entry.width, opacity: 1, dash: entry.dash, clip: nil, role: "legend-sample"))
                scene.shapes.append(.text(entry.label, position: Point(x + Figure.legendSampleWidth + 8, y), size: Figure.legendSize,
                                          color: .ink, anchor: .start, rotation: 0, bold: false, role: "legend-label"))
            }
            y += Figure.legendLineHeight
        }
    }
}

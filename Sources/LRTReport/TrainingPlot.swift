import Foundation
import LRTHDF5

#if canImport(Glibc)
import Glibc
#endif

/// A panel of the training figure.
public enum PlotPanel: String, CaseIterable, Sendable {
    /// Training and validation loss per epoch.
    case loss
    /// Training and validation accuracy per epoch.
    case accuracy
    /// Each layer's rate multiplier `1 + log(1 + 1/‖g_l‖₂)` (Singh et al. 2015) over steps.
    case multipliers
    /// Each layer's gradient norm ‖g_l‖₂ over steps, on a log scale.
    case gradientNorms = "gradient-norms"

    /// Panels from a comma-separated list (`loss,accuracy,multipliers,gradient-norms`).
    /// - Throws: ``PlotError`` naming an unknown panel and the known ones.
    public static func parseList(_ text: String) throws(PlotError) -> [PlotPanel] {
        var panels: [PlotPanel] = []
        for name in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) where !name.isEmpty {
            guard let panel = PlotPanel(rawValue: name == "gradient_norms" ? "gradient-norms" : name) else {
                throw PlotError(.invalidOption, "--panels: unknown panel '\(name)'; choose from \(allCases.map(\.rawValue).joined(separator: ","))")
            }
            if !panels.contains(panel) { panels.append(panel) }
        }
        guard !panels.isEmpty else {
            throw PlotError(.invalidOption, "--panels is empty; name one or more of \(allCases.map(\.rawValue).joined(separator: ","))")
        }
        return panels
    }
}

/// How per-step series are smoothed before drawing (the raw series is drawn faint behind).
public enum Smoothing: Sendable, Equatable {
    /// No smoothing.
    case none
    /// An exponential moving average with weight `w` in 0..<1 on the previous value, debiased at the start
    /// as TensorBoard's scalar smoothing: `s_t = w·s_{t−1} + (1−w)·x_t`, shown as `s_t / (1 − w^t)`.
    case exponential(Double)
    /// The mean of the last `n` values.
    case window(Int)

    /// `none`, `0` (none), a weight such as `0.6` or `ema:0.6`, or `window:N`.
    /// - Throws: ``PlotError`` naming the value and the accepted forms.
    public static func parse(_ text: String) throws(PlotError) -> Smoothing {
        let value = text.trimmingCharacters(in: .whitespaces).lowercased()
        let hint = "use a weight in [0, 1) such as 0.6 (ema:0.6), window:N with N ≥ 1, or none"
        if value == "none" || value == "off" { return .none }
        if value.hasPrefix("window:") {
            guard let count = Int(value.dropFirst("window:".count)), count >= 1, count <= 1_000_000 else {
                throw PlotError(.invalidOption, "--smooth \(text): the window is not a whole number from 1 to 1000000; \(hint)")
            }
            return count == 1 ? .none : .window(count)
        }
        let weightText = value.hasPrefix("ema:") ? String(value.dropFirst(4)) : value
        guard let weight = Double(weightText), weight >= 0, weight < 1 else {
            throw PlotError(.invalidOption, "--smooth \(text) is not a smoothing; \(hint)")
        }
        return weight == 0 ? .none : .exponential(weight)
    }

    /// A short description for the legend (`EMA 0.6`, `mean of 25`).
    var summary: String {
        switch self {
        case .none: return "not smoothed"
        case .exponential(let weight): return "EMA \(String(format: "%g", weight))"
        case .window(let count): return "mean of \(count)"
        }
    }

    /// `values` smoothed; NaN (and, with `logarithmic`, values ≤ 0) stay where they are and are skipped.
    /// With `logarithmic`, the logarithms are averaged (a geometric mean), as a log axis shows them.
    public func apply(_ values: [Double], logarithmic: Bool = false) -> [Double] {
        func usable(_ value: Double) -> Bool { value.isFinite && (!logarithmic || value > 0) }
        let forward: (Double) -> Double = logarithmic ? { log($0) } : { $0 }
        let backward: (Double) -> Double = logarithmic ? { exp($0) } : { $0 }
        switch self {
        case .none: return values
        case .exponential(let weight):
            var last = 0.0, count = 0.0
            return values.map { value in
                guard usable(value) else { return .nan }
                last = last * weight + (1 - weight) * forward(value)
                count += 1
                return backward(last / (1 - pow(weight, count)))
            }
        case .window(let size):
            var recent: [Double] = [], sum = 0.0
            return values.map { value in
                guard usable(value) else { return .nan }
                recent.append(forward(value))
                sum += recent.last!
                if recent.count > size { sum -= recent.removeFirst() }
                return backward(sum / Double(recent.count))
            }
        }
    }
}

/// What `lrt plot` does: the inputs, the figure's content and look, and the output file.
public struct PlotConfiguration: Sendable {
    /// Checkpoints (`.h5`) and logs (`.jsonl`, `.csv`, `.steps.csv`), one run each (`X.csv` with `X.steps.csv`: one run).
    public var inputs: [String]
    /// Legend labels, one per run (default: the file names).
    public var labels: [String] = []
    /// The figure file, `.png` or `.svg`.
    public var outputPath: String
    /// The figure's title (default: none).
    public var title = ""
    /// How per-step series are smoothed (default: EMA 0.6).
    public var smoothing = Smoothing.exponential(0.6)
    /// Width and height in CSS pixels (default: 1100 wide, 340 high per row of panels).
    public var width: Double? = nil
    public var height: Double? = nil
    /// The panels to draw; nil: every panel the inputs have data for.
    public var panels: [PlotPanel]? = nil
    /// PNG pixels per CSS pixel (default 2).
    public var pixelScale = 2.0
    /// Replace an existing file that lrt did not write.
    public var overwrite = false

    /// The limits on `--size` and the pixel scale.
    public static let sizeRange = 200.0...8000.0, pixelScaleRange = 1.0...4.0, maximumPixels = 64_000_000.0

    /// A configuration for `inputs` written to `outputPath`, with the defaults above.
    public init(inputs: [String], outputPath: String) {
        self.inputs = inputs
        self.outputPath = outputPath
    }

    /// Width and height from `WxH` (CSS pixels, e.g. `1100x700`).
    /// - Throws: ``PlotError`` naming the value and the accepted range.
    public static func parseSize(_ text: String) throws(PlotError) -> (width: Double, height: Double) {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let width = Double(parts[0]), let height = Double(parts[1]),
              sizeRange.contains(width), sizeRange.contains(height) else {
            throw PlotError(.invalidOption, "--size \(text) is not WIDTHxHEIGHT in pixels from \(Int(sizeRange.lowerBound)) to \(Int(sizeRange.upperBound)), such as 1100x700")
        }
        return (width, height)
    }

    /// The output's format, from its extension.
    public var format: PlotFormat? { PlotFormat(path: outputPath) }

    /// Checks the options that do not need the inputs.
    /// - Throws: ``PlotError`` naming the bad value and a fix.
    public func validate() throws(PlotError) {
        guard format != nil else {
            throw PlotError(.invalidOption, "--out \(outputPath): the figure's name must end in .png or .svg")
        }
        guard PlotConfiguration.pixelScaleRange.contains(pixelScale) else {
            throw PlotError(.invalidOption, "--scale \(pixelScale) is outside 1...4; use 2 for crisp figures")
        }
        if let width, !PlotConfiguration.sizeRange.contains(width) { throw PlotError(.invalidOption, "width \(width) is outside 200...8000 pixels") }
        if let height, !PlotConfiguration.sizeRange.contains(height) { throw PlotError(.invalidOption, "height \(height) is outside 200...8000 pixels") }
        let pixels = (width ?? 1100) * (height ?? 1100) * pixelScale * pixelScale
        if format == .png, pixels > PlotConfiguration.maximumPixels {
            throw PlotError(.invalidOption, "a \(Int(width ?? 1100))x\(Int(height ?? 1100)) figure at --scale \(pixelScale) has \(Int(pixels)) pixels, more than \(Int(PlotConfiguration.maximumPixels)); use a smaller --size or --scale")
        }
    }
}

/// The file formats `lrt plot` writes.
public enum PlotFormat: String, Sendable {
    case png, svg

    /// The format a path's extension names (case-insensitive), or nil.
    public init?(path: String) {
        self.init(rawValue: (path as NSString).pathExtension.lowercased())
    }
}

/// What ``TrainingPlot/write(_:)`` made.
public struct PlotSummary: Sendable {
    public var path: String
    public var format: PlotFormat
    /// Pixels for a PNG, CSS pixels for an SVG.
    public var width: Int
    public var height: Int
    public var runs: [String]
    public var panels: [PlotPanel]
    /// Inputs cut short and the like, one line each.
    public var warnings: [String]
}

/// The training figure: loss and accuracy per epoch, each layer's rate multiplier and gradient norm per step,
/// one colour per run (Okabe–Ito) for epochs, one colour per layer (viridis, input to output) and one line style
/// per run for steps.
public enum TrainingPlot {
    /// Line styles of the runs on the per-step panels: solid, dashed, dotted, dash-dot.
    static let runDashes: [[Double]] = [[], [6, 3], [1.5, 2.5], [7, 3, 1.5, 3]]

    /// Reads the inputs, draws the figure and writes it safely (temporary file, rename).
    /// - Throws: ``PlotError``: a bad option, an unreadable or malformed input (named with its line), an output
    ///   that exists and is not an lrt plot (unless ``PlotConfiguration/overwrite``), or a failed write.
    public static func write(_ configuration: PlotConfiguration) throws(PlotError) -> PlotSummary {
        try configuration.validate()
        let format = configuration.format!
        let target = SafeFile.Target(path: configuration.outputPath, what: "plot", overwrite: configuration.overwrite,
                                     inputs: configuration.inputs, isReplaceable: isLRTPlot)
        do { try target.check() } catch { throw PlotError.file(error) }
        let runs = try RunReader.readRuns(paths: configuration.inputs, labels: configuration.labels)
        let (figure, panels) = try self.figure(runs: runs, configuration: configuration)
        let scene = figure.scene()
        let bytes: [UInt8], width: Int, height: Int
        switch format {
        case .svg:
            bytes = Array(SVGWriter.document(scene).utf8)
            (width, height) = (Int(scene.width), Int(scene.height))
        case .png:
            let image = Rasterizer.render(scene, scale: configuration.pixelScale)
            bytes = try PNGWriter.encode(rgb: image.pixels, width: image.width, height: image.height, title: configuration.title)
            (width, height) = (image.width, image.height)
        }
        do { try SafeFile.write(bytes, to: configuration.outputPath, what: "plot") } catch { throw PlotError.file(error) }
        return PlotSummary(path: configuration.outputPath, format: format, width: width, height: height, runs: runs.map(\.label),
                           panels: panels, warnings: runs.flatMap(\.warnings))
    }

    /// Whether the file at `path` is a PNG or SVG lrt wrote (looks at its first 4 KiB; regular files only).
    @Sendable public static func isLRTPlot(_ path: String) -> Bool {
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { return false }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = read(descriptor, &bytes, bytes.count)
        guard count > 0 else { return false }
        let head = Array(bytes.prefix(count))
        return PNGWriter.isLRTOutput(head) || SVGWriter.isLRTOutput(head)
    }

    /// The figure for `runs`: the panels asked for (or those with data), laid out in rows of epoch panels and
    /// step panels.
    /// - Throws: ``PlotError`` `.nothingToPlot` when a panel asked for, or every panel, has no data.
    public static func figure(runs: [RunRecord], configuration: PlotConfiguration) throws(PlotError) -> (Figure, [PlotPanel]) {
        let layers = runs.reduce(into: [String]()) { all, run in for layer in run.layers where !all.contains(layer) { all.append(layer) } }
        func has(_ panel: PlotPanel) -> Bool {
            switch panel {
            case .loss: return runs.contains { $0.epochs.column("loss") != nil || $0.epochs.column("val_loss") != nil }
            case .accuracy: return runs.contains { $0.epochs.column("accuracy") != nil || $0.epochs.column("val_accuracy") != nil }
            case .multipliers: return runs.contains { run in run.layers.contains { run.steps.column("multiplier/" + $0) != nil } }
            case .gradientNorms: return runs.contains { run in run.layers.contains { run.steps.column("gradient_norm/" + $0) != nil } }
            }
        }
        let inputs = configuration.inputs.joined(separator: ", ")
        var panels: [PlotPanel]
        if let asked = configuration.panels {
            for panel in asked where !has(panel) {
                let fix = panel == .loss || panel == .accuracy
                    ? "the inputs have no per-epoch \(panel.rawValue); plot a checkpoint or a log of a run that finished an epoch"
                    : "the inputs have no per-layer telemetry; train with --log-every N (the checkpoint or log then records it)"
                throw PlotError(.nothingToPlot, "--panels \(panel.rawValue): \(fix) (\(inputs))")
            }
            panels = asked
        } else {
            panels = PlotPanel.allCases.filter(has)
            guard !panels.isEmpty else {
                throw PlotError(.nothingToPlot, "nothing to plot in \(inputs): no per-epoch loss or accuracy and no per-layer telemetry; plot a checkpoint or log of a run that finished an epoch")
            }
        }
        var rows: [FigureRow] = []
        let epochPanels = panels.filter { $0 == .loss || $0 == .accuracy }
        let stepPanels = panels.filter { $0 == .multipliers || $0 == .gradientNorms }
        if !epochPanels.isEmpty {
            rows.append(FigureRow(panels: epochPanels.map { epochPanel($0, runs: runs) }, legend: epochLegend(runs: runs)))
        }
        let height = configuration.height ?? (Figure.margin * 2 + (configuration.title.isEmpty ? 0 : Figure.titleSize * 2) + 340 * Double(max(1, rows.count + (stepPanels.isEmpty ? 0 : 1))))
        if !stepPanels.isEmpty {
            let rowHeight = (height - Figure.margin * 2) / Double(rows.count + 1)
            let maximumEntries = max(3, Int((rowHeight - 40) / Figure.legendLineHeight) - (runs.count > 1 ? runs.count + 1 : 0) - 3)
            rows.append(FigureRow(panels: stepPanels.map { stepPanel($0, runs: runs, layers: layers, smoothing: configuration.smoothing) },
                                  legend: stepLegend(runs: runs, layers: layers, smoothing: configuration.smoothing, maximumLayers: maximumEntries)))
        }
        return (Figure(title: configuration.title, rows: rows, width: configuration.width ?? 1100, height: height), panels)
    }

    // MARK: - Epoch panels

    static func epochPanel(_ kind: PlotPanel, runs: [RunRecord]) -> Panel {
        let accuracy = kind == .accuracy
        var panel = Panel(title: accuracy ? "Accuracy" : "Loss", xLabel: "epoch",
                          yLabel: accuracy ? "accuracy (%)" : "cross-entropy loss")
        panel.integerX = true
        for (index, run) in runs.enumerated() {
            let color = Color.qualitative[index % Color.qualitative.count]
            for (column, dash, split) in [(accuracy ? "accuracy" : "loss", [Double](), "training"),
                                          (accuracy ? "val_accuracy" : "val_loss", [6.0, 3.5], "validation")] {
                guard var values = run.epochs.column(column) else { continue }
                if accuracy { values = values.map { $0 * 100 } }
                let markers = run.epochs.count <= 40 ? 2.6 : 0
                panel.series.append(LineSeries(label: "\(run.label) \(split)", x: run.epochs.x, y: values, color: color,
                                               width: 1.8, dash: dash, markerRadius: markers))
            }
        }
        return panel
    }

    static func epochLegend(runs: [RunRecord]) -> [LegendEntry] {
        let training = runs.contains { $0.epochs.column("loss") != nil || $0.epochs.column("accuracy") != nil }
        let validation = runs.contains { $0.epochs.column("val_loss") != nil || $0.epochs.column("val_accuracy") != nil }
        if runs.count == 1 {
            let color = Color.qualitative[0]
            return [LegendEntry(label: runs[0].label, color: .ink, isHeading: true)]
                + (training ? [LegendEntry(label: "training", color: color)] : [])
                + (validation ? [LegendEntry(label: "validation", color: color, dash: [6, 3.5])] : [])
        }
        var entries = [LegendEntry(label: "runs", color: .ink, isHeading: true)]
        for (index, run) in runs.enumerated() {
            entries.append(LegendEntry(label: run.label, color: Color.qualitative[index % Color.qualitative.count], width: 3))
        }
        if training && validation {
            entries.append(LegendEntry(label: "split", color: .ink, isHeading: true))
            entries.append(LegendEntry(label: "training", color: .neutral))
            entries.append(LegendEntry(label: "validation", color: .neutral, dash: [6, 3.5]))
        } else {
            entries.append(LegendEntry(label: training ? "training only" : "validation only", color: .neutral, isNote: true))
        }
        return entries
    }

    // MARK: - Step panels

    /// The colour of layer `index` of `count`: viridis from the input (dark) to the output (green).
    static func layerColor(_ index: Int, of count: Int) -> Color {
        Color.sequential(count <= 1 ? 0.35 : Double(index) / Double(count - 1))
    }

    static func stepPanel(_ kind: PlotPanel, runs: [RunRecord], layers: [String], smoothing: Smoothing) -> Panel {
        let norms = kind == .gradientNorms
        let prefix = norms ? "gradient_norm/" : "multiplier/"
        var panel = Panel(title: norms ? "Layer gradient norms" : "Layer rate multipliers", xLabel: "step",
                          yLabel: norms ? "‖g‖₂ (log scale)" : "rate multiplier (×)", yScale: norms ? .logarithmic : .linear)
        if !norms {  // multipliers spanning more than a factor of 30: a log axis shows them better
            let all = runs.flatMap { run in layers.compactMap { run.steps.column(prefix + $0) }.joined() }.filter { $0.isFinite && $0 > 0 }
            if let low = all.min(), let high = all.max(), high / low > 30 {
                panel.yScale = .logarithmic
                panel.yLabel = "rate multiplier (×, log scale)"
            }
        }
        panel.tightX = true
        let logarithmic = panel.yScale == .logarithmic
        var smoothed: [LineSeries] = []
        for (runIndex, run) in runs.enumerated() {
            let dash = runDashes[runIndex % runDashes.count]
            for (layerIndex, layer) in layers.enumerated() {
                guard let values = run.steps.column(prefix + layer) else { continue }
                let color = layerColor(layerIndex, of: layers.count)
                let label = runs.count > 1 ? "\(run.label) \(layer)" : layer
                if smoothing == .none {
                    smoothed.append(LineSeries(label: label, x: run.steps.x, y: values, color: color, width: 1.5, dash: dash))
                } else {
                    panel.series.append(LineSeries(label: label + " (raw)", x: run.steps.x, y: values, color: color, width: 1, opacity: 0.22))
                    smoothed.append(LineSeries(label: label, x: run.steps.x, y: smoothing.apply(values, logarithmic: logarithmic),
                                               color: color, width: 1.6, dash: dash))
                }
            }
        }
        panel.series += smoothed
        return panel
    }

    static func stepLegend(runs: [RunRecord], layers: [String], smoothing: Smoothing, maximumLayers: Int) -> [LegendEntry] {
        var entries = [LegendEntry(label: "layers (input → output)", color: .ink, isHeading: true)]
        var shown = Array(layers.indices)
        if layers.count > maximumLayers {  // evenly spaced layers, always the first and the last
            let stride = Double(layers.count - 1) / Double(max(1, maximumLayers - 1))
            shown = Array(Set((0..<maximumLayers).map { Int((Double($0) * stride).rounded()) })).sorted()
        }
        for index in shown {
            entries.append(LegendEntry(label: layers[index], color: layerColor(index, of: layers.count), width: 2.5))
        }
        if shown.count < layers.count {
            entries.append(LegendEntry(label: "\(shown.count) of \(layers.count) layers shown", color: .neutral, isNote: true))
        }
        if runs.count > 1 {
            entries.append(LegendEntry(label: "runs", color: .ink, isHeading: true))
            for (index, run) in runs.enumerated() {
                entries.append(LegendEntry(label: run.label, color: .neutral, dash: runDashes[index % runDashes.count], width: 1.8))
            }
        }
        if smoothing != .none {
            entries.append(LegendEntry(label: "smoothed: " + smoothing.summary + "; raw faint", color: .neutral, isNote: true))
        }
        return entries
    }
}

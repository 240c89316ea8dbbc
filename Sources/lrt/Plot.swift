import ArgumentParser
import Foundation
import LRTFormat
import LRTReport

struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Plot loss, accuracy and each layer's rate multiplier and gradient norm from checkpoints or logs.",
        discussion: """
            Inputs: lrt checkpoints (.h5), JSON-lines logs (.jsonl) and CSV logs (.csv per epoch, .steps.csv per step;
            X.csv and X.steps.csv together are one run). Several runs are overlaid: one colour per run for epochs,
            one colour per layer (input to output) and one line style per run for steps.
            Example: lrt plot paper.h5 off.h5 --label paper --label off --out rates.png
            """)

    @Argument(help: "Checkpoints (.h5) and logs (.jsonl, .csv, .steps.csv) of the runs to plot.")
    var inputs: [String] = []

    @Option(help: "The figure to write: FILE.png (through libpng) or FILE.svg.")
    var out: String

    @Option(help: "A title above the figure.")
    var title: String?

    @Option(help: "The legend label of each run, in input order (repeatable; default: the file names).")
    var label: [String] = []

    @Option(help: "Smoothing of per-step series: an EMA weight in [0, 1) (e.g. 0.6), window:N, or none.")
    var smooth = "0.6"

    @Option(help: "Figure size in pixels, WIDTHxHEIGHT (default: 1100 wide, 340 high per row).")
    var size: String?

    @Option(help: "Panels to draw, comma-separated: loss,accuracy,multipliers,gradient-norms (default: all with data).")
    var panels: String?

    @Option(help: "PNG pixels per figure pixel (1 to 4).")
    var scale = 2.0

    @Flag(help: "Replace an existing file at --out even if lrt did not write it.")
    var overwrite = false

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("name one or more checkpoints (.h5) or logs (.jsonl, .csv) to plot") }
        _ = try plotConfiguration()
    }

    /// The library's configuration from the flags.
    func plotConfiguration() throws -> PlotConfiguration {
        var configuration = PlotConfiguration(inputs: inputs, outputPath: out)
        configuration.labels = label
        configuration.title = title ?? ""
        configuration.smoothing = try Smoothing.parse(smooth)
        if let size { (configuration.width, configuration.height) = try PlotConfiguration.parseSize(size) }
        if let panels { configuration.panels = try PlotPanel.parseList(panels) }
        configuration.pixelScale = scale
        configuration.overwrite = overwrite
        try configuration.validate()
        return configuration
    }

    func run() throws {
        // Checkpoints are read by the HDF5 C library: in a child process, so a hostile file cannot crash lrt.
        let checkpoints = inputs.filter { !$0.lowercased().hasSuffix(".csv") && !$0.lowercased().hasSuffix(".jsonl") }
        if !checkpoints.isEmpty {
            try Isolation.superviseUnlessChild(files: inputs, timeout: IsolatedRead.defaultTimeout(files: checkpoints))
        }
        let summary = try TrainingPlot.write(try plotConfiguration())
        summary.warnings.forEach { FileHandle.standardError.write(Data(("warning: " + $0 + "\n").utf8)) }
        let unit = summary.format == .png ? "pixels" : "points"
        print("wrote \(summary.path): \(summary.width)×\(summary.height) \(unit), \(summary.panels.map(\.rawValue).joined(separator: ", ")) for \(summary.runs.joined(separator: ", "))")
    }
}

import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import LRTData
import XCTest
@testable import LRTReport

/// The elements of an SVG document by class, through Foundation's XML parser (so the document is well-formed).
final class SVGElements: NSObject, XMLParserDelegate {
    struct Element { var name: String; var attributes: [String: String]; var text = "" }
    private(set) var elements: [Element] = []
    private var open: [Int] = []

    init(_ document: String) throws {
        super.init()
        let parser = XMLParser(data: Data(document.utf8))
        parser.delegate = self
        guard parser.parse() else { throw parser.parserError ?? CocoaError(.coderReadCorrupt) }
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        elements.append(Element(name: name, attributes: attributes))
        open.append(elements.count - 1)
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if let last = open.last { elements[last].text += string }
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        open.removeLast()
    }

    func with(class name: String) -> [Element] { elements.filter { $0.attributes["class"] == name } }
    func texts(class name: String) -> [String] { with(class: name).map(\.text) }
}

/// Two runs with three layers, as `--layer-rates paper` and `off` give them.
func sampleRuns() -> [RunRecord] {
    var runs: [RunRecord] = []
    for (label, rule) in [("paper", true), ("off", false)] {
        var run = RunRecord(label: label, sources: [label + ".jsonl"])
        for epoch in 1...3 {
            let e = Double(epoch)
            run.epochs.append(x: e, values: [("loss", 2.3 / e), ("accuracy", 0.3 * e), ("val_loss", 2.0 / e), ("val_accuracy", 0.28 * e)])
        }
        for step in stride(from: 10, through: 120, by: 10) {
            var values: [(name: String, value: Double)] = []
            for (index, layer) in ["conv2d", "conv2d_1", "dense"].enumerated() {
                let norm = 0.1 * Double(index + 1) * (1 + Double(step) / 100)
                values.append(("gradient_norm/" + layer, norm))
                values.append(("multiplier/" + layer, rule ? 1 + log(1 + 1 / norm) : 1))
            }
            run.steps.append(x: Double(step), values: values)
        }
        runs.append(run)
    }
    return runs
}

final class FigureTests: XCTestCase {
    func testSVGHasAxesTicksEverySeriesAndTheLegend() throws {
        var configuration = PlotConfiguration(inputs: ["paper.jsonl", "off.jsonl"], outputPath: "figure.svg")
        configuration.title = "Rates <on> & off"
        let (figure, panels) = try TrainingPlot.figure(runs: sampleRuns(), configuration: configuration)
        XCTAssertEqual(panels, [.loss, .accuracy, .multipliers, .gradientNorms])
        let document = SVGWriter.document(figure.scene())
        XCTAssertTrue(SVGWriter.isLRTOutput(Array(document.utf8)))
        XCTAssertFalse(document.contains("nan") || document.contains("inf"), "a non-finite coordinate was written")
        let svg = try SVGElements(document)

        XCTAssertEqual(svg.texts(class: "title"), ["Rates <on> & off"])
        XCTAssertEqual(svg.texts(class: "panel-title"), ["Loss", "Accuracy", "Layer rate multipliers", "Layer gradient norms"])
        XCTAssertEqual(svg.texts(class: "x-label"), ["epoch", "epoch", "step", "step"])
        XCTAssertEqual(svg.texts(class: "y-label"), ["cross-entropy loss", "accuracy (%)", "rate multiplier (×)", "‖g‖₂ (log scale)"])
        XCTAssertEqual(svg.with(class: "axis").count, 4)
        // Epoch ticks are whole epochs; step ticks lie within the logged steps 10…120.
        let xTicks = svg.texts(class: "x-tick-label")
        XCTAssertEqual(Array(xTicks.prefix(3)), ["1", "2", "3"])
        XCTAssertEqual(Array(xTicks[3..<6]), ["1", "2", "3"])
        XCTAssertEqual(Array(xTicks[6...]), ["20", "40", "60", "80", "100", "120", "20", "40", "60", "80", "100", "120"])
        // Accuracy 28…90 % padded by 5%: ticks 30…90 by 10.
        let yTicks = svg.texts(class: "y-tick-label")
        XCTAssertTrue(["30", "40", "50", "60", "70", "80", "90"].allSatisfy(yTicks.contains), "\(yTicks)")
        XCTAssertTrue(yTicks.contains("0.2") && yTicks.contains("0.5"), "log ticks of the gradient norms: \(yTicks)")
        // Epoch panels: 2 runs × (training, validation) × 2 panels; step panels: 2 runs × 3 layers × (raw, smoothed) × 2.
        XCTAssertEqual(svg.with(class: "series").count, 8 + 24)
        XCTAssertEqual(svg.with(class: "series").filter { $0.attributes["stroke-dasharray"] != nil }.count, 4 + 6)
        XCTAssertEqual(svg.with(class: "marker").count, 2 * 2 * 2 * 3)
        XCTAssertEqual(svg.texts(class: "legend-label"), ["paper", "off", "training", "validation", "conv2d", "conv2d_1", "dense", "paper", "off"])
        XCTAssertEqual(svg.texts(class: "legend-heading"), ["runs", "split", "layers (input → output)", "runs"])
        XCTAssertEqual(svg.texts(class: "legend-note"), ["smoothed: EMA 0.6; raw faint"])
        // Runs have Okabe–Ito colours on the epoch panels.
        let lossLines = svg.with(class: "series").prefix(2).map { $0.attributes["stroke"] }
        XCTAssertEqual(lossLines, ["#0072b2", "#0072b2"])
        XCTAssertEqual(svg.with(class: "series")[2].attributes["stroke"], "#d55e00")
    }

    func testLogAxisLeavesOutZerosAndNaNAndBreaksTheLine() throws {
        var panel = Panel(title: "norms", xLabel: "step", yLabel: "‖g‖₂", yScale: .logarithmic)
        panel.series = [LineSeries(label: "layer", x: [1, 2, 3, 4, 5, 6], y: [1, 0, .nan, 10, 100, -1], color: .black)]
        let figure = Figure(title: "", rows: [FigureRow(panels: [panel], legend: [])], width: 400, height: 300)
        let svg = try SVGElements(SVGWriter.document(figure.scene()))
        let pieces = svg.with(class: "series").map { $0.attributes["d"]! }
        XCTAssertEqual(pieces.count, 2, "the point at 1, then the line 10 → 100: \(pieces)")
        XCTAssertEqual(pieces[0].filter { $0 == "L" }.count, 0)
        XCTAssertEqual(pieces[1].filter { $0 == "L" }.count, 1)
        XCTAssertEqual(svg.texts(class: "y-tick-label").first, "1")
        XCTAssertEqual(svg.texts(class: "y-tick-label").last, "100")
    }

    func testManyLayersAreListedByDepthWithTheMiddleLeftOut() {
        let layers = (1...40).map { "block\($0)" }
        let legend = TrainingPlot.stepLegend(runs: [RunRecord(label: "a", sources: [])], layers: layers, smoothing: .none, maximumLayers: 10)
        let shown = legend.filter { !$0.isHeading && !$0.isNote }.map(\.label)
        XCTAssertEqual(shown.count, 10)
        XCTAssertEqual(shown.first, "block1")
        XCTAssertEqual(shown.last, "block40")
        XCTAssertTrue(legend.contains { $0.isNote && $0.label == "10 of 40 layers shown" }, "\(legend)")
        XCTAssertNotEqual(TrainingPlot.layerColor(0, of: 40), TrainingPlot.layerColor(39, of: 40))
    }

    func testPanelsWithoutDataAreLeftOutOrRefusedWhenAskedFor() throws {
        var run = RunRecord(label: "epochs-only", sources: ["a.csv"])
        run.epochs.append(x: 1, values: [("loss", 1)])
        let configuration = PlotConfiguration(inputs: ["a.csv"], outputPath: "a.png")
        let (_, panels) = try TrainingPlot.figure(runs: [run], configuration: configuration)
        XCTAssertEqual(panels, [.loss])
        var asked = configuration
        asked.panels = [.loss, .gradientNorms]
        XCTAssertThrowsError(try TrainingPlot.figure(runs: [run], configuration: asked)) { error in
            XCTAssertTrue("\(error)".contains("--panels gradient-norms") && "\(error)".contains("--log-every"), "\(error)")
        }
        XCTAssertThrowsError(try TrainingPlot.figure(runs: [RunRecord(label: "x", sources: ["x.csv"])], configuration: configuration)) { error in
            XCTAssertEqual((error as? PlotError)?.kind, .nothingToPlot)
        }
    }
}

final class RasterTests: TemporaryFolderTestCase {
    /// A one-panel figure with a diagonal line from (0, 0) to (10, 10).
    func diagonalScene() -> Scene {
        var panel = Panel(title: "Diagonal", xLabel: "x", yLabel: "y")
        panel.series = [LineSeries(label: "line", x: [0, 10], y: [0, 10], color: Color(hex: 0xD55E00), width: 2)]
        return Figure(title: "", rows: [FigureRow(panels: [panel], legend: [])], width: 400, height: 300).scene()
    }

    func testPNGDecodesAtTwiceTheSizeWithTheLineWhereTheSceneHasIt() throws {
        let scene = diagonalScene()
        let image = Rasterizer.render(scene, scale: 2)
        let bytes = try PNGWriter.encode(rgb: image.pixels, width: image.width, height: image.height, title: "diagonal")
        XCTAssertTrue(PNGWriter.isLRTOutput(bytes))
        let path = folder.appendingPathComponent("diagonal.png").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let decoded = try PNGCodec.decode(fileAt: path, channels: 3)
        XCTAssertEqual(decoded.width, 800)
        XCTAssertEqual(decoded.height, 600)
        XCTAssertEqual(decoded.pixels, image.pixels, "libpng's decoding gives back the rendered pixels")

        guard case let .polyline(points, _, _, _, _, _, _)? = scene.shapes.first(where: { $0.role == "series" }) else {
            return XCTFail("no series in the scene")
        }
        func pixel(_ x: Double, _ y: Double) -> (Int, Int, Int) {
            let index = (Int(y * 2) * decoded.width + Int(x * 2)) * 3
            return (Int(decoded.pixels[index]), Int(decoded.pixels[index + 1]), Int(decoded.pixels[index + 2]))
        }
        // Along the line: the series colour (213, 94, 0) within 12 per channel.
        for t in [0.1, 0.3, 0.5, 0.7, 0.9] {
            let x = points[0].x + (points[1].x - points[0].x) * t, y = points[0].y + (points[1].y - points[0].y) * t
            let (red, green, blue) = pixel(x, y)
            XCTAssertEqual(red, 213, accuracy: 12, "at \(x), \(y)")
            XCTAssertEqual(green, 94, accuracy: 12, "at \(x), \(y)")
            XCTAssertEqual(blue, 0, accuracy: 12, "at \(x), \(y)")
        }
        // 10 pixels beside the line, inside the plot: no series colour (white or a light gridline).
        let middle = Point((points[0].x + points[1].x) / 2, (points[0].y + points[1].y) / 2)
        let (red, green, blue) = pixel(middle.x + 10, middle.y + 10)
        XCTAssertGreaterThan(min(red, green, blue), 200, "beside the line")
        // The margin outside the plot area is the white background.
        let corner = pixel(2, 2)
        XCTAssertEqual(corner.0, 255)
        XCTAssertEqual(corner.1, 255)
        XCTAssertEqual(corner.2, 255)
    }

    func testTextIsDrawnInkWhereTheLabelIs() {
        var scene = Scene(width: 120, height: 40)
        scene.shapes = [.text("Loss 0.5", position: Point(10, 25), size: 13, color: .black, anchor: .start, rotation: 0, bold: false, role: "t")]
        let image = Rasterizer.render(scene, scale: 2)
        func darkPixels(x: Range<Int>, y: Range<Int>) -> Int {
            var count = 0
            for row in y { for column in x where image.pixels[(row * image.width + column) * 3] < 128 { count += 1 } }
            return count
        }
        let width = Int(StrokeFont.width(of: "Loss 0.5", size: 13) * 2)
        // Ink between the baseline and the cap height, over the text's width; none above it or after it.
        XCTAssertGreaterThan(darkPixels(x: 20..<(20 + width), y: 26..<50), 150)
        XCTAssertEqual(darkPixels(x: 0..<240, y: 0..<20), 0)
        XCTAssertEqual(darkPixels(x: (24 + width)..<240, y: 0..<80), 0)
    }

    func testDashesAlternateAlongTheLine() {
        let pieces = Rasterizer.dashed([Point(0, 0), Point(10, 0), Point(10, 10)], pattern: [4, 2])
        // On 0–4, off, on 6–10 (ending at the corner), off to (10, 2), on to (10, 6), off, on from (10, 8) to the end.
        XCTAssertEqual(pieces.count, 4, "\(pieces)")
        XCTAssertEqual(pieces[0].first, Point(0, 0))
        XCTAssertEqual(pieces[0].last, Point(4, 0))
        XCTAssertEqual(pieces[1].first, Point(6, 0))
        XCTAssertEqual(pieces[1].last, Point(10, 0))
    }

    func testPNGCRCIsTheStandardOne() {
        // CRC-32 of "IEND" is 0xAE426082, as every PNG's last chunk shows.
        XCTAssertEqual(PNGWriter.crc32(Array("IEND".utf8)), 0xAE42_6082)
    }
}

final class PlotFileTests: TemporaryFolderTestCase {
    func testWritesPNGAndSVGAndRefusesToReplaceAFileLrtDidNotWrite() throws {
        let log = try write(RunReaderTests.jsonLines, to: "paper.jsonl")
        for name in ["figure.png", "figure.svg"] {
            let out = folder.appendingPathComponent(name).path
            var configuration = PlotConfiguration(inputs: [log], outputPath: out)
            configuration.width = 600
            configuration.height = 400
            let summary = try TrainingPlot.write(configuration)
            XCTAssertEqual(summary.panels, [.loss, .accuracy, .multipliers, .gradientNorms])
            XCTAssertTrue(TrainingPlot.isLRTPlot(out), name)
            // Writing again replaces lrt's own figure.
            _ = try TrainingPlot.write(configuration)
            if name.hasSuffix(".png") {
                let decoded = try PNGCodec.decode(fileAt: out, channels: 3)
                XCTAssertEqual(decoded.width, 1200)
                XCTAssertEqual(decoded.height, 800)
            }
        }
        for (name, contents) in [("notes.png", "my notes"), ("drawing.svg", "<?xml version=\"1.0\"?><svg/>")] {
            let other = try write(contents, to: name)
            XCTAssertThrowsError(try TrainingPlot.write(PlotConfiguration(inputs: [log], outputPath: other))) { error in
                XCTAssertTrue("\(error)".contains("\(other) exists and is not an lrt plot") && "\(error)".contains("--overwrite"), "\(error)")
            }
            XCTAssertEqual(try String(contentsOfFile: other, encoding: .utf8), contents, "the file was changed")
            var forced = PlotConfiguration(inputs: [log], outputPath: other)
            forced.overwrite = true
            _ = try TrainingPlot.write(forced)
            XCTAssertTrue(TrainingPlot.isLRTPlot(other))
        }
        XCTAssertThrowsError(try TrainingPlot.write(PlotConfiguration(inputs: [log], outputPath: log))) { error in
            XCTAssertTrue("\(error)".contains("must end in .png or .svg"), "\(error)")
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".lrt-tmp") }
        XCTAssertEqual(leftovers, [])
    }
}

final class DecimationTests: XCTestCase {
    func testLongSeriesKeepTheirEnvelopeWithFewerPoints() {
        // 100,000 points over 100 pixels: a sawtooth between 0 and 10 in every column.
        let points: [Point] = (0..<100_000).map { (index: Int) -> Point in
            let y: Double = index % 7 == 0 ? 10 : Double(index % 3)
            return Point(Double(index) / 1000, y)
        }
        let kept = Figure.decimated(points, columnWidth: 0.5)
        XCTAssertLessThanOrEqual(kept.count, 4 * 201)
        XCTAssertEqual(kept.first, points.first)
        XCTAssertEqual(kept.last, points.last)
        let heights: [Double] = kept.map { $0.y }, positions: [Double] = kept.map { $0.x }
        XCTAssertEqual(heights.max(), 10)
        XCTAssertEqual(heights.min(), 0)
        XCTAssertEqual(positions, positions.sorted(), "still ordered by x")
        let short = Array(points.prefix(10))
        XCTAssertEqual(Figure.decimated(short, columnWidth: 0.5), short)
    }
}

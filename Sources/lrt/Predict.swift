import ArgumentParser
import Foundation
import LRTData
import LRTFormat
import LRTLayers
import LRTTraining

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify image files and folders, or predict inputs stored in an HDF5 file.",
        discussion: """
            lrt predict MODEL PATH…: PNG and JPEG files, and folders searched recursively (*.png, *.jpg, *.jpeg in \
            any letter case; other files are skipped with one summary line), read as the model's training run read \
            its images (colour mode, size, resize mode; the defaults for a Keras file). Prints each image's top-k \
            classes and probabilities as a table, or one JSON object per line with --json; --csv writes them too.

            lrt predict MODEL --inputs X.h5 --out Y.h5: X.h5 holds a dataset (default `x`) of shape \
            [count, …model input shape]; Y.h5 receives `y_pred` [count, …model output shape], probabilities when \
            the model ends in softmax, with the class names in its `class_names` attribute: the layout of Keras \
            reference files (Tools/keras_check.py). Integer inputs need --scale (255 for 8-bit pixels).
            """)

    @Argument(help: "An lrt checkpoint or Keras legacy .h5 model.")
    var model: String

    @Argument(help: "Image files and folders to classify.")
    var paths: [String] = []

    @Option(help: ArgumentHelp("Classes shown per image, most probable first (default: 5, or the class count when smaller).", valueName: "k"))
    var topK: Int?

    @Flag(help: "Print one JSON object per image and line: {\"file\": …, \"predictions\": [{\"class\": …, \"probability\": …}, …]}.")
    var json = false

    @Option(help: ArgumentHelp("Also write the predictions to this CSV file (file,class_1,probability_1,…).", valueName: "file"))
    var csv: String?

    @Option(help: ArgumentHelp("An image that cannot be read: error (stop, naming it) or skip (leave it out, with a summary line).", valueName: "error|skip"))
    var onBadImage = DataFlags.BadImagePolicy.error

    @Option(help: ArgumentHelp("HDF5 file with the inputs (instead of image PATHs).", valueName: "file"))
    var inputs: String?

    @Option(help: "The dataset in INPUTS holding the inputs.")
    var inputName = "x"

    @Option(help: ArgumentHelp("HDF5 file to write (dataset y_pred), with --inputs.", valueName: "file"))
    var out: String?

    @Option(help: ArgumentHelp("With --inputs: divide every input by this, e.g. 255 for 8-bit pixels (required for integer inputs).", valueName: "value"))
    var scale: Double?

    @Option(help: "Examples per forward pass.")
    var batchSize = 256

    @Flag(help: "Replace OUT or the CSV file even when it is not an lrt output (it may never be an input).")
    var overwrite = false

    func validate() throws {
        try checkSettings { try RunSetting.check(batchSize: batchSize) }
        if let topK, topK < 1 { throw ValidationError("--top-k must be at least 1, got \(topK)") }
        if let scale, !(scale.isFinite && scale > 0) {
            throw ValidationError("--scale must be a positive number (inputs are divided by it), e.g. 255; got \(scale)")
        }
        if inputs != nil {
            guard paths.isEmpty else {
                throw ValidationError("give image files or folders, or --inputs X.h5, not both (got \(paths.first!) and --inputs)")
            }
            guard out != nil else { throw ValidationError("--inputs needs --out Y.h5, the file to write y_pred to") }
            let imageOnly = [(topK != nil, "--top-k"), (json, "--json"), (csv != nil, "--csv"), (onBadImage != .error, "--on-bad-image")]
            if let flag = imageOnly.first(where: { $0.0 })?.1 {
                throw ValidationError("\(flag) applies to image files, not to --inputs X.h5 (which writes y_pred to --out)")
            }
        } else {
            guard !paths.isEmpty else {
                throw ValidationError("name the images to classify (lrt predict MODEL IMAGE_OR_FOLDER…), or pass --inputs X.h5 --out Y.h5")
            }
            if out != nil { throw ValidationError("--out applies to --inputs X.h5; for images use --csv FILE") }
            if scale != nil { throw ValidationError("--scale applies to --inputs X.h5; images are read as the model was trained") }
        }
    }

    func run() throws {
        if let inputs, let out {
            try Prediction.checkOutput(out, modelPath: model, inputsPath: inputs, overwrite: overwrite)
            try Isolation.superviseUnlessChild(files: [model, inputs])
            let summary = try Prediction.run(modelPath: model, inputsPath: inputs, outputPath: out, inputName: inputName,
                                             batchSize: batchSize, scale: scale, overwrite: overwrite)
            summary.warnings.forEach { Runs.printError("warning: \($0)") }
            if summary.classNamesAreIndices {
                Runs.printError("note: \(model) holds no class names; y_pred@class_names lists the class indices 0 to \(summary.classNames.count - 1)")
            }
            print("wrote \(out) (y_pred \(summary.outputShape))")
            return
        }
        var configuration = PredictionConfiguration(modelPath: model, paths: paths)
        configuration.topK = topK
        configuration.batchSize = batchSize
        configuration.skipBadImages = onBadImage == .skip
        configuration.csvPath = csv
        configuration.overwrite = overwrite
        if let csv { try CSVOutput.check(csv, what: "predictions CSV", overwrite: overwrite, inputs: [model] + paths) }
        try Isolation.superviseUnlessChild(files: [model])
        let summary = try checkSettings { try ImagePredictions.run(configuration) }
        summary.warnings.forEach { Runs.printError("warning: \($0)") }
        if summary.classNamesAreIndices {
            Runs.printError("note: \(model) holds no class names; classes are shown as their indices 0 to \(summary.classNames.count - 1)")
        }
        if let first = summary.skipped.examples.first {
            let count = summary.skipped.count
            Runs.printError("note: skipped \(count) \(count == 1 ? "file that is" : "files that are") not a .png/.jpg/.jpeg image, e.g. \(first)")
        }
        if !summary.rejected.isEmpty {
            let shown = summary.rejected.prefix(3).map(\.description).joined(separator: "; ")
            Runs.printError("warning: --on-bad-image skip left out \(summary.rejected.count) image\(summary.rejected.count == 1 ? "" : "s"): \(shown)\(summary.rejected.count > 3 ? "; …" : "")")
        }
        if json {
            for prediction in summary.predictions {
                let classes = prediction.classes.map { JSONValue.object([("class", .string($0.name)), ("probability", .number($0.probability))]) }
                print(JSONValue.object([("file", .string(prediction.file)), ("predictions", .array(classes))]).serialized)
            }
        } else {
            printTable(summary)
        }
        if let csv { Runs.printError("wrote \(csv) (\(summary.predictions.count) images)") }
    }

    /// One row per image: the file, then each of the top-k classes with its probability, in aligned columns.
    private func printTable(_ summary: PredictionSummary) {
        let cells = summary.predictions.map { prediction in
            [prediction.file] + prediction.classes.map { $0.name + "  " + String(format: "%.4f", $0.probability) }
        }
        let header = ["file"] + (1...summary.topK).map { "top \($0)" }
        let widths = header.indices.map { column in
            ([header] + cells).map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0
        }
        for row in [header] + cells {
            let line = row.enumerated().map { column, text in
                column == row.count - 1 ? text : text.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "   ")
            print(line)
        }
    }
}

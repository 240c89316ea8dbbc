import LRTTensor
import Foundation
import LRTLayers
import LRTOptimizers

/// What `lrt inspect` shows about a checkpoint or Keras model: format, a Keras-style model
/// summary, the optimizer and its state, training progress, the metrics history and the
/// dataset's classes, as text (``text``) or JSON (``json``).
public struct Inspection {
    /// One row of the model summary.
    public struct LayerSummary: Equatable, Sendable {
        public var name: String
        public var className: String
        /// One example's output shape (no batch axis).
        public var outputShape: [Int]
        /// Stored weights: trainable and non-trainable.
        public var parameterCount: Int
        public var trainableCount: Int
        /// The layers (or the input) whose outputs it takes, in a Functional model; empty in a Sequential one.
        public var inputs: [String]
    }

    /// The optimizer: lrt's own (`lrt/optimizer`) or the one a Keras file was compiled with.
    public struct OptimizerSummary {
        /// `lrt` (from `lrt/optimizer`) or `keras` (from `training_config` and `optimizer_weights`).
        public var source: String
        public var className: String
        /// The hyperparameters, as saved.
        public var config: JSONValue
        /// Updates applied (lrt `step`, Keras `iteration`), if known.
        public var step: Int?
        /// The slots held per parameter.
        public var slotNames: [String]
        /// The per-layer rate multipliers of the last step (lrt only).
        public var layerRateMultipliers: [(layerName: String, multiplier: Double)]
        /// Why Keras's optimizer state cannot be imported, if so.
        public var problem: String?
    }

    public var path: String
    public var contents: Checkpoint.Contents
    public var layers: [LayerSummary]
    public var optimizer: OptimizerSummary?

    /// Loads `path` (strictly, as ``Checkpoint/load(from:)``) and summarizes it.
    public init(path: String) throws {
        self.init(path: path, contents: try Checkpoint.load(from: path))
    }

    /// Summarizes contents already loaded from `path`.
    public init(path: String, contents: Checkpoint.Contents) {
        self.path = path
        self.contents = contents
        let inputs = contents.model.layerInputs
        layers = contents.model.layers.enumerated().map { index, layer in
            LayerSummary(name: layer.name, className: layer.className, outputShape: layer.outputShape,
                         parameterCount: layer.weights.reduce(0) { $0 + $1.value.count },
                         trainableCount: contents.model.frozenLayers.contains(layer.name) ? 0  // Keras counts a frozen layer's weights as non-trainable
                             : layer.parameters.reduce(0) { $0 + $1.value.count },
                         inputs: inputs?[index] ?? [])
        }
        if let lrtOptimizer = contents.optimizer {
            let config = lrtOptimizer.config
            optimizer = OptimizerSummary(
                source: "lrt", className: config["class_name"]?.stringValue ?? lrtOptimizer.rule.name,
                config: config["config"] ?? .object([]), step: lrtOptimizer.step, slotNames: lrtOptimizer.rule.slotNames,
                layerRateMultipliers: lrtOptimizer.multipliers, problem: nil)
        } else if let keras = contents.kerasOptimizer {
            optimizer = OptimizerSummary(
                source: "keras", className: keras.className, config: keras.config, step: keras.iteration,
                slotNames: keras.slots.keys.sorted(), layerRateMultipliers: [], problem: keras.problem?.description)
        }
    }

    public var totalParameters: Int { layers.reduce(0) { $0 + $1.parameterCount } }
    public var trainableParameters: Int { layers.reduce(0) { $0 + $1.trainableCount } }
    public var nonTrainableParameters: Int { totalParameters - trainableParameters }

    /// The format in words: `lrt-checkpoint version 1` or `Keras legacy HDF5`.
    public var formatDescription: String {
        var text: String
        switch contents.origin {
        case .lrt(let version): text = "\(Checkpoint.formatName) version \(version) (Keras legacy HDF5 layout + /lrt)"
        case .keras: text = "Keras legacy HDF5 (.h5)"
        }
        var details: [String] = []
        if let kerasVersion = contents.kerasVersion { details.append("keras_version \(kerasVersion)") }
        if let backend = contents.backend { details.append("backend \(backend)") }
        if !details.isEmpty { text += ", " + details.joined(separator: ", ") }
        return text
    }

    // MARK: Text

    /// The report for people, as `lrt inspect` prints it.
    public var text: String {
        var lines: [String] = []
        let model = contents.model
        lines.append(field("file", path))
        lines.append(field("format", formatDescription))
        lines.append(field("model", "\"\(model.name)\" (\(model.className)), input \(Self.shapeText(model.inputShape))"))
        lines.append("")
        lines += summaryTable()
        lines.append("")

        if let optimizer {
            let source = optimizer.source == "lrt" ? "lrt/optimizer" : "Keras training_config"
            let settings = optimizer.config.keys.compactMap { key -> String? in
                guard let value = optimizer.config[key], Self.isShown(key, value, in: optimizer) else { return nil }
                return "\(key) \(Self.valueText(value))"
            }
            lines.append(field("optimizer", "\(optimizer.className) (\(source))"))
            lines += Self.wrapped(settings, width: 100).map { field("", $0) }
            var state: [String] = []
            if let step = optimizer.step { state.append("step \(step)") }
            state.append(optimizer.slotNames.isEmpty ? "no slots" : "slots \(optimizer.slotNames.joined(separator: ", "))")
            lines.append(field("", state.joined(separator: ", ")))
            if let problem = optimizer.problem { lines.append(field("", "state not importable: \(problem)")) }
            if !optimizer.layerRateMultipliers.isEmpty {
                lines.append(field("layer rates", "(multipliers of the last step)"))
                let width = optimizer.layerRateMultipliers.map(\.layerName.count).max() ?? 0
                for (layer, multiplier) in optimizer.layerRateMultipliers {
                    lines.append(field("", layer.padding(toLength: width, withPad: " ", startingAt: 0) + String(format: "  %.4f", multiplier)))
                }
            }
        } else {
            lines.append(field("optimizer", "none (a model-only file)"))
        }

        if let training = contents.training {
            let progress = training.epochOrder.isEmpty
                ? "between epochs"
                : "\(training.position)/\(training.epochOrder.count) examples into epoch \(training.epoch + 1)"
            lines.append(field("training", "epoch \(training.epoch) done, global step \(training.globalStep), \(progress)"))
            lines.append(field("", "batch size \(training.batchSize), seed \(training.seed)"))
            if let plan = training.plan { lines.append(field("plan", Self.planText(plan, training: training))) }
            lines.append(field("dataset", training.dataRoot.isEmpty ? "(not recorded)" : training.dataRoot))
            lines.append(field("classes", "\(training.classNames.count): \(training.classNames.joined(separator: ", "))"))
            lines += datasetLines(training)
            lines.append("")
            lines += historyTable(training.history)
            lines += telemetryTable(training.telemetry)
        } else {
            lines.append(field("training", "none recorded"))
        }
        if !contents.warnings.isEmpty {
            lines.append("")
            lines += contents.warnings.map { "warning: \($0)" }
        }
        return lines.joined(separator: "\n")
    }

    /// The images, splits and preprocessing of the run's dataset.
    private func datasetLines(_ training: TrainingState) -> [String] {
        var lines: [String] = []
        var counts = [training.trainingCount > 0 ? "\(training.trainingCount) training" : "training count not recorded"]
        switch training.validationSource {
        case "split": counts.append("\(training.validationCount) validation (split \(training.validationFraction), seed \(training.seed), digest \(training.validationDigest))")
        case "none": counts.append("no validation")
        default: counts.append("\(training.validationCount) validation (\(training.validationSource), digest \(training.validationDigest))")
        }
        if let test = training.test { counts.append("\(test.count) test") }
        lines.append(field("images", counts.joined(separator: ", ")))
        var preprocessing = [training.colorMode.isEmpty ? "model's channels" : training.colorMode,
                             "resize \(training.resizeMode.isEmpty ? "stretch" : training.resizeMode)"]
        if training.normalization.isEmpty {
            preprocessing.append("pixels in [0, 1]")
        } else {
            let mean = training.normalizationMean.map { String(format: "%.4f", $0) }.joined(separator: ", ")
            let deviation = training.normalizationStandardDeviation.map { String(format: "%.4f", $0) }.joined(separator: ", ")
            preprocessing.append("normalize \(training.normalization) (mean \(mean); std \(deviation))")
        }
        lines.append(field("preprocess", preprocessing.joined(separator: ", ")))
        if !training.augmentation.isEmpty { lines.append(field("augment", training.augmentation)) }
        if !training.classWeights.isEmpty {
            let weights = zip(training.classNames, training.classWeights).map { "\($0) \(String(format: "%.4g", $1))" }
            lines.append(field("weights", "\(training.classWeightSource): \(weights.joined(separator: ", "))"))
        }
        if !training.cachePath.isEmpty {
            lines.append(field("cache", "\(training.cachePath) (\(training.streamed ? "streamed, chunk-shuffled order" : "read into memory"))"))
        }
        let policy = training.skipBadImages ? "skip" : "error"
        let shown = training.skippedImages.prefix(3).joined(separator: ", ") + (training.skippedImages.count > 3 ? ", …" : "")
        lines.append(field("bad images", training.skippedImages.isEmpty ? "\(policy), none skipped"
                                                                       : "\(policy), \(training.skippedImages.count) skipped: \(shown)"))
        return lines
    }

    /// `20 epochs, log every 50 steps, log /runs/a.csv, early stopping after 3 epochs without val_loss improving (wait 1)`.
    static func planText(_ plan: RunPlan, training: TrainingState) -> String {
        var parts = ["\(plan.epochs) epochs", plan.logEvery > 0 ? "telemetry every \(plan.logEvery) steps" : "no telemetry"]
        if !plan.logPath.isEmpty { parts.append("log \(plan.logPath)") }
        if !plan.tensorBoardPath.isEmpty { parts.append("tensorboard \(plan.tensorBoardPath)") }
        if plan.patience > 0 {
            let wait = training.earlyStopping.map { $0.stoppedEpoch > 0 ? ", stopped at epoch \($0.stoppedEpoch)" : ", wait \($0.wait)" } ?? ""
            parts.append("early stopping after \(plan.patience) epochs without \(plan.monitor) improving\(wait)")
        }
        if !plan.keepBestPath.isEmpty {
            let best = training.keepBest.map { $0.bestEpoch > 0 ? String(format: " (best %.4f at epoch %d)", $0.best, $0.bestEpoch) : "" } ?? ""
            parts.append("best by \(plan.monitor) kept in \(plan.keepBestPath)\(best)")
        }
        if plan.saveEvery > 0 { parts.append("saved every \(plan.saveEvery) steps") }
        if plan.synchronizeBatchNormalization { parts.append("batch normalization synchronized over the ranks") }
        return parts.joined(separator: ", ")
    }

    private func field(_ name: String, _ value: String) -> String {
        name.padding(toLength: 12, withPad: " ", startingAt: 0) + value
    }

    /// Keras's `summary()`: layer (type), output shape, parameter count; then the totals.
    private func summaryTable() -> [String] {
        let connected = contents.model.layerInputs != nil  // Keras shows "Connected to" for Functional models
        let rows = layers.map { layer in
            ("\(layer.name) (\(layer.className))", Self.shapeText([-1] + layer.outputShape), layer.parameterCount.groupedDigits,
             layer.inputs.joined(separator: ", "))
        }
        let nameWidth = max(13, rows.map(\.0.count).max() ?? 0)
        let shapeWidth = max(12, rows.map(\.1.count).max() ?? 0)
        let countWidth = max(7, rows.map(\.2.count).max() ?? 0)
        let inputsWidth = connected ? max(12, rows.map(\.3.count).max() ?? 0) : 0
        func row(_ name: String, _ shape: String, _ count: String, _ inputs: String) -> String {
            let text = name.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  "
                + shape.padding(toLength: shapeWidth, withPad: " ", startingAt: 0) + "  "
                + String(repeating: " ", count: max(0, countWidth - count.count)) + count
            return connected ? text + "  " + inputs : text
        }
        let rule = String(repeating: "─", count: nameWidth + shapeWidth + countWidth + 4 + (connected ? inputsWidth + 2 : 0))
        var lines = [row("Layer (type)", "Output Shape", "Param #", "Connected to"), rule]
        lines += rows.map { row($0.0, $0.1, $0.2, $0.3) }
        lines.append(rule)
        lines.append("Total params: \(totalParameters.groupedDigits) (\(Self.bytesText(totalParameters * 4)))")
        lines.append("Trainable params: \(trainableParameters.groupedDigits) (\(Self.bytesText(trainableParameters * 4)))")
        lines.append("Non-trainable params: \(nonTrainableParameters.groupedDigits) (\(Self.bytesText(nonTrainableParameters * 4)))")
        return lines
    }

    private func historyTable(_ history: MetricsHistory) -> [String] {
        guard history.count > 0 else { return ["history     no completed epochs"] }
        let names = ["epoch"] + history.names
        let widths = names.map { max($0.count, 8) }
        func row(_ cells: [String]) -> String {
            zip(cells, widths).map { cell, width in String(repeating: " ", count: max(0, width - cell.count)) + cell }
                .joined(separator: "  ")
        }
        var lines = ["history", row(names)]
        for epoch in 0..<history.count {
            let values = history.names.map { name -> String in
                guard let value = history.columns[name]?[epoch] else { return "" }
                return abs(value) >= 1000 ? String(format: "%.0f", value) : String(format: "%.4f", value)
            }
            lines.append(row([String(epoch + 1)] + values))
        }
        return lines
    }

    /// The last telemetry record: each rate group's norms and multiplier.
    private func telemetryTable(_ telemetry: TelemetryHistory) -> [String] {
        guard let step = telemetry.steps.last, !telemetry.names.isEmpty else { return [] }
        let row = telemetry.steps.count - 1
        let width = max(5, telemetry.names.map(\.count).max() ?? 0)
        let header = "group".padding(toLength: width, withPad: " ", startingAt: 0) + "  gradient_norm  weight_norm  update_norm  multiplier"
        var lines = ["", "telemetry   step \(step) (\(telemetry.steps.count) records)", header]
        for (column, name) in telemetry.names.enumerated() {
            lines.append(name.padding(toLength: width, withPad: " ", startingAt: 0)
                         + String(format: "  %13.4g  %11.4g  %11.4g  %10.4f", telemetry.gradientNorms[row][column],
                                  telemetry.weightNorms[row][column], telemetry.updateNorms[row][column],
                                  telemetry.multipliers[row][column]))
        }
        return lines
    }

    // MARK: JSON

    /// The report for scripts: one JSON object (non-finite numbers as null; the 64-bit
    /// seed and generator state as decimal strings, which JSON numbers cannot hold exactly).
    public var json: JSONValue {
        let model = contents.model
        func number(_ value: Int) -> JSONValue { .number(Double(value)) }
        func shape(_ dimensions: [Int]) -> JSONValue { .array(dimensions.map(number)) }
        var format: [(key: String, value: JSONValue)] = []
        switch contents.origin {
        case .lrt(let version): format = [("format", .string(Checkpoint.formatName)), ("format_version", number(Int(version)))]
        case .keras: format = [("format", .string("keras")), ("format_version", .null)]
        }
        let layerObjects: [JSONValue] = layers.map { layer in
            .object([("name", .string(layer.name)), ("class_name", .string(layer.className)),
                     ("output_shape", shape(layer.outputShape)), ("parameters", number(layer.parameterCount)),
                     ("trainable_parameters", number(layer.trainableCount))]
                    + (model.layerInputs == nil ? [] : [("inputs", .array(layer.inputs.map { .string($0) }))]))
        }
        let modelObject: JSONValue = .object([
            ("name", .string(model.name)), ("class_name", .string(model.className)), ("input_shape", shape(model.inputShape)),
            ("layers", .array(layerObjects)),
            ("total_parameters", number(totalParameters)), ("trainable_parameters", number(trainableParameters)),
            ("non_trainable_parameters", number(nonTrainableParameters)),
        ])
        let optimizerObject: JSONValue = optimizer.map { optimizer in
            .object([
                ("source", .string(optimizer.source)), ("class_name", .string(optimizer.className)),
                ("config", optimizer.config), ("step", optimizer.step.map(number) ?? .null),
                ("slot_names", .array(optimizer.slotNames.map(JSONValue.string))),
                ("layer_rate_multipliers", .array(optimizer.layerRateMultipliers.map {
                    .object([("layer", .string($0.layerName)), ("multiplier", .number($0.multiplier))])
                })),
                ("problem", optimizer.problem.map(JSONValue.string) ?? .null),
            ])
        } ?? .null
        var trainingObject = JSONValue.null
        var datasetObject = JSONValue.null
        var historyObject = JSONValue.null
        var telemetryObject = JSONValue.null
        if let training = contents.training {
            trainingObject = .object([
                ("epoch", number(training.epoch)), ("global_step", number(training.globalStep)),
                ("position", number(training.position)), ("epoch_length", number(training.epochOrder.count)),
                ("batch_size", number(training.batchSize)), ("seed", .string(String(training.seed))),
                ("generator_state", .string(String(training.generatorState))),
            ])
            func floats(_ values: [Float]) -> JSONValue { .array(values.map { .number(Double($0)) }) }
            datasetObject = .object([("root", .string(training.dataRoot)),
                                     ("class_names", .array(training.classNames.map(JSONValue.string))),
                                     ("training_count", number(training.trainingCount)),
                                     ("validation_source", .string(training.validationSource)),
                                     ("validation_fraction", .number(training.validationFraction)),
                                     ("validation_count", number(training.validationCount)),
                                     ("validation_digest", .string(training.validationDigest)),
                                     ("test_count", training.test.map { number($0.count) } ?? .null),
                                     ("color_mode", .string(training.colorMode)), ("resize_mode", .string(training.resizeMode)),
                                     ("normalize", .string(training.normalization)),
                                     ("normalization_mean", floats(training.normalizationMean)),
                                     ("normalization_std", floats(training.normalizationStandardDeviation)),
                                     ("augment", .string(training.augmentation)),
                                     ("class_weight", .string(training.classWeightSource)),
                                     ("class_weights", floats(training.classWeights)),
                                     ("cache", .string(training.cachePath)), ("streamed", .bool(training.streamed)),
                                     ("on_bad_image", .string(training.skipBadImages ? "skip" : "error")),
                                     ("skipped_images", .array(training.skippedImages.map(JSONValue.string)))])
            historyObject = .object(training.history.names.map { name in
                (name, .array((training.history.columns[name] ?? []).map(JSONValue.number)))
            })
            let telemetry = training.telemetry
            func table(_ rows: [[Double]]) -> JSONValue { .array(rows.map { .array($0.map(JSONValue.number)) }) }
            telemetryObject = telemetry.names.isEmpty ? .null : .object([
                ("names", .array(telemetry.names.map(JSONValue.string))), ("steps", .array(telemetry.steps.map(number))),
                ("gradient_norms", table(telemetry.gradientNorms)), ("weight_norms", table(telemetry.weightNorms)),
                ("update_norms", table(telemetry.updateNorms)), ("multipliers", table(telemetry.multipliers)),
            ])
        }
        return .object([("file", .string(path))] + format + [
            ("keras_version", contents.kerasVersion.map(JSONValue.string) ?? .null),
            ("backend", contents.backend.map(JSONValue.string) ?? .null),
            ("model", modelObject), ("optimizer", optimizerObject), ("training", trainingObject),
            ("dataset", datasetObject), ("history", historyObject), ("telemetry", telemetryObject),
            ("warnings", .array(contents.warnings.map(JSONValue.string))),
        ])
    }

    // MARK: Formatting

    /// Settings worth a line: not null, not empty, not a feature that is off (no weight decay,
    /// Keras bookkeeping).
    static func isShown(_ key: String, _ value: JSONValue, in optimizer: OptimizerSummary) -> Bool {
        if value.isNull || value.arrayValue?.isEmpty == true { return false }
        if optimizer.source == "keras" { return !KerasOptimizerImport.isInert(key, value) }
        let decay = optimizer.config["weight_decay"]?.numberValue ?? 0
        if key.hasPrefix("weight_decay") || key == "exclude_from_weight_decay" { return decay != 0 }
        return !(key == "layer_rates_per_tensor" && value.boolValue == false)
    }

    /// `items` joined by ", " into lines of at most about `width` characters.
    static func wrapped(_ items: [String], width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for item in items {
            if !line.isEmpty, line.count + item.count + 2 > width {
                lines.append(line + ",")
                line = ""
            }
            line += line.isEmpty ? item : ", " + item
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }

    /// `(None, 8, 8, 1)` for a batch axis (−1), else `[8, 8, 1]`.
    static func shapeText(_ shape: [Int]) -> String {
        guard shape.first == -1 else { return "[\(shape.map(String.init).joined(separator: ", "))]" }
        return "(" + (["None"] + shape.dropFirst().map(String.init)).joined(separator: ", ") + ")"
    }


    static func bytesText(_ bytes: Int) -> String {
        let units = ["B", "KB", "MB", "GB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.2f", value) + " " + units[unit]
    }

    static func valueText(_ value: JSONValue) -> String {
        if let number = value.numberValue { return String(format: "%g", number) }
        if let text = value.stringValue { return text }
        if let schedule = value["class_name"]?.stringValue {
            let options = (value["config"] ?? .object([])).keys.compactMap { key in
                value["config"]?[key].map { "\(key) \(valueText($0))" }
            }
            return "\(schedule)(\(options.joined(separator: ", ")))"
        }
        return value.serialized
    }
}

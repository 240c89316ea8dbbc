import Foundation
import LRTHDF5
import LRTLayers
import LRTOptimizers
import LRTTensor

/// What a file may declare, checked before anything is allocated: files are never trusted.
public enum CheckpointLimits {
    /// Bytes of the `model_config` text (16 MiB; Keras configs of large models stay far below 1 MiB).
    public static let modelConfigBytes = 16 << 20
    /// Bytes of `training_config` and `lrt/optimizer@config` (1 MiB).
    public static let configBytes = 1 << 20
    // Weight and model sizes are bounded where models are built: ``ModelConfig/maximumWeightsPerTensor``.
    /// Length of `lrt/training/epoch_order`, i.e. training examples (2^27).
    public static let epochOrderLength = 1 << 27
    /// Completed epochs (2^24).
    public static let epochs = 1 << 24
    /// Updates (`global_step`, optimizer `step`; 2^48).
    public static let steps = 1 << 48
    /// Mini-batch size (2^20, as the command line accepts).
    public static let batchSize = 1 << 20
    /// Telemetry records in `lrt/history/telemetry` (2^24), and values per table (2^26).
    public static let telemetryRecords = 1 << 24
    public static let telemetryValues = 1 << 26
}

extension Checkpoint {
    /// Reads a checkpoint lrt wrote, or a Keras legacy `.h5` model (Keras 3 or Keras 2 layout).
    ///
    /// Nothing in the file is trusted: the format and version are checked, the model is
    /// rebuilt from its config (after a size check), every dataset's shape is checked
    /// before it is read, and every count, index and name is checked against the model.
    /// Weights and optimizer slots must be finite and stored as float32 (float16 and float64
    /// are converted with a note in ``Contents/warnings``). Only this file is read: external
    /// links, external storage and virtual datasets are refused.
    ///
    /// - Throws: ``CheckpointError``, one line naming the file and the object inside it.
    public static func load(from path: String) throws -> Contents {
        let file: HDF5File
        do { file = try HDF5File.openForReading(atPath: path) } catch let error as HDF5Error {
            throw CheckpointError(.hdf5(error))
        }
        defer { try? file.close() }
        do {
            return try CheckpointReader(root: file.root, path: path).read()
        } catch let error as HDF5Error {
            // Names the file, the object inside it and what is wrong with it.
            throw CheckpointError(.hdf5(error))
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw CheckpointError(path: path, "\(path): \(error)")  // not expected: every reader above throws one of the two
        }
    }
}

/// Reads one open file into ``Checkpoint/Contents``.
struct CheckpointReader {
    let root: HDF5Group
    /// The file on disk, for messages.
    let path: String

    func read() throws -> Checkpoint.Contents {
        var origin = Checkpoint.Origin.keras
        if root.contains("lrt") { origin = .lrt(formatVersion: try checkFormat(of: try root.openGroup("lrt"))) }
        guard root.hasAttribute("model_config") else {
            throw CheckpointError(path: path, "\(path) is an HDF5 file but not an lrt checkpoint or Keras model: it has no model_config attribute at / (was it written by another program?)")
        }
        let modelConfig = try jsonAttribute(root, "model_config", limit: CheckpointLimits.modelConfigBytes)
        var generator = SeededGenerator(seed: 0)
        let model: any Model
        do { model = try ModelConfig.build(json: modelConfig, generator: &generator) } catch let error as ModelConfigError {
            throw CheckpointError(.model(location: "\(path): its model_config (/@model_config) cannot be built", error))
        } catch {
            throw CheckpointError(path: path, "\(path): its model_config (/@model_config) cannot be built: \(error)")
        }
        guard root.contains("model_weights") else {
            throw CheckpointError(path: path, "\(path) has no model_weights group; it holds no weights to load")
        }
        var contents = Checkpoint.Contents(model: model)
        contents.origin = origin
        contents.kerasVersion = try optionalString(root, "keras_version")
        contents.backend = try optionalString(root, "backend")
        if root.hasAttribute("training_config") {
            contents.trainingConfig = try jsonAttribute(root, "training_config", limit: CheckpointLimits.configBytes)
        }
        contents.warnings = try readWeights(into: model, from: try root.openGroup("model_weights"))
        if root.contains("lrt/optimizer") {
            contents.optimizer = try readOptimizer(from: try root.openGroup("lrt/optimizer"), model: model,
                                                   warnings: &contents.warnings)
        } else if origin == .keras, let trainingConfig = contents.trainingConfig {
            contents.kerasOptimizer = KerasOptimizerState.read(trainingConfig: trainingConfig, root: root, model: model,
                                                               path: path, warnings: &contents.warnings)
        }
        if root.contains("lrt/training") {
            contents.training = try readTraining(from: try root.openGroup("lrt"), model: model)
        }
        return contents
    }

    // MARK: Format

    /// Checks `lrt@format` and `lrt@format_version`; returns the version.
    private func checkFormat(of lrt: HDF5Group) throws -> Int64 {
        let format = lrt.hasAttribute("format") ? try lrt.stringAttribute("format") : ""
        guard format == Checkpoint.formatName else {
            throw CheckpointError(path: path, "\(path): /lrt@format is '\(format.prefix(80))', not '\(Checkpoint.formatName)'; the /lrt group was not written by lrt")
        }
        guard lrt.hasAttribute("format_version") else {
            throw CheckpointError(path: path, "\(path): /lrt@format_version is missing; the file is damaged or was not written by lrt")
        }
        let version = try lrt.int64Attribute("format_version")
        guard version <= Checkpoint.formatVersion else {
            throw CheckpointError(path: path, "\(path) has lrt format version \(version); this lrt reads versions up to \(Checkpoint.formatVersion): upgrade lrt")
        }
        guard version >= 1 else {
            throw CheckpointError(path: path, "\(path): /lrt@format_version is \(version); valid versions start at 1 (the file is damaged)")
        }
        return version
    }

    // MARK: Weights

    /// Loads every layer's weights by name, strictly: missing, unexpected, duplicate or
    /// mis-shaped weights are errors naming their path in the file.
    private func readWeights(into model: any Model, from group: HDF5Group) throws -> [String] {
        let fileLayers = try group.stringArrayAttribute("layer_names")
        if let duplicate = firstDuplicate(fileLayers) {
            throw CheckpointError(path: path, "\(path): \(group.path)@layer_names lists layer '\(duplicate)' twice")
        }
        var warnings: [String] = []
        let modelLayers = Dictionary(uniqueKeysWithValues: model.layers.map { ($0.name, $0) })
        for layerName in fileLayers {
            guard !layerName.isEmpty, group.contains(layerName) else {
                throw CheckpointError(path: path, "\(path): layer_names lists '\(layerName)' but \(group.path)/\(layerName) is missing")
            }
            let layerGroup = try group.openGroup(layerName)
            let weightNames = try layerGroup.stringArrayAttribute("weight_names")
            let parameters = modelLayers[layerName]?.weights ?? []
            guard weightNames.count == parameters.count else {
                let owner = modelLayers[layerName] == nil ? "the model has no layer '\(layerName)'" : "the model's layer '\(layerName)' has \(parameters.count)"
                throw CheckpointError(path: path, "\(path): \(layerGroup.path) has \(weightNames.count) weights but \(owner)")
            }
            var loaded = Set<String>()
            for weightName in weightNames {
                // Keras 3: "mlp/dense/kernel"; Keras 2: "dense/kernel:0".
                let shortName = Self.shortWeightName(weightName)
                guard let parameter = parameters.first(where: { $0.weightName == shortName }) else {
                    throw CheckpointError(path: path, "\(path): \(layerGroup.path) holds weight '\(weightName)', which layer '\(layerName)' does not have (it has \(parameters.map(\.weightName)))")
                }
                guard loaded.insert(shortName).inserted else {
                    throw CheckpointError(path: path, "\(path): \(layerGroup.path)@weight_names names weight '\(shortName)' twice")
                }
                let datasetPath = "\(layerGroup.path)/\(weightName)"
                guard layerGroup.contains(weightName) else {
                    throw CheckpointError(path: path, "\(path): weight dataset \(datasetPath) is missing")
                }
                let shape = try layerGroup.datasetShape(weightName)
                guard shape == parameter.value.shape else {
                    throw CheckpointError(path: path, "\(path): \(datasetPath) has shape \(shape) but \(parameter.path) needs \(parameter.value.shape)")
                }
                let values = try readTensorValues(layerGroup, weightName, datasetPath: datasetPath, notes: &warnings)
                parameter.value = Tensor(shape: shape, storage: values)
            }
        }
        if let missing = model.layers.first(where: { !$0.weights.isEmpty && !fileLayers.contains($0.name) }) {
            throw CheckpointError(path: path, "\(path): no weights for layer '\(missing.name)' in \(group.path) (layer_names: \(fileLayers))")
        }
        return warnings
    }

    /// The values of a weight or optimizer-slot dataset, strictly: stored as little-endian
    /// float32, or as float16 or float64 (converted, with a note in `notes`); integers,
    /// big-endian and other types are refused, and so is any NaN or infinite value (a diverged
    /// run or a damaged file would otherwise load silently and fail later, far from the cause).
    private func readTensorValues(_ group: HDF5Group, _ name: String, datasetPath: String,
                                  notes: inout [String]) throws -> [Float] {
        let type = try group.datasetType(name)
        switch (type.kind, type.bits, type.isBigEndian) {
        case (.float, 32, false): break
        case (.float, 16, false): notes.append("\(path): \(datasetPath) is stored as float16; converted exactly to float32")
        case (.float, 64, false): notes.append("\(path): \(datasetPath) is stored as float64; rounded to float32")
        default:
            throw CheckpointError(path: path, "\(path): \(datasetPath) is stored as \(type); lrt reads weights and optimizer state as little-endian float32 (float16 and float64 are converted): re-save the model with float32 weights")
        }
        let values = try group.readFloats(name).values
        if let index = values.firstIndex(where: { !$0.isFinite }) {
            throw CheckpointError(path: path, "\(path): \(datasetPath) holds \(values[index]) at index \(index); weights and optimizer state must be finite (the run diverged before this save, or the file is damaged): use an earlier checkpoint")
        }
        return values
    }

    /// The weight's own name: the last path component without Keras 2's `:0` suffix.
    static func shortWeightName(_ weightName: String) -> String {
        var shortName = String(weightName.split(separator: "/").last ?? "")
        if let colon = shortName.firstIndex(of: ":") { shortName = String(shortName[..<colon]) }
        return shortName
    }

    // MARK: lrt optimizer

    private func readOptimizer(from group: HDF5Group, model: any Model, warnings: inout [String]) throws -> Optimizer {
        let config = try jsonAttribute(group, "config", limit: CheckpointLimits.configBytes)
        let optimizer: Optimizer
        do { optimizer = try Optimizer.make(config: config) } catch let error as OptimizerError {
            throw CheckpointError(.optimizer(location: "\(path): \(group.path)@config cannot be used", error))
        }
        let slotNames = optimizer.rule.slotNames
        let fileSlotNames = try group.stringArrayAttribute("slot_names")
        guard fileSlotNames == slotNames else {
            throw CheckpointError(path: path, "\(path): \(group.path)@slot_names is \(fileSlotNames) but its optimizer (\(optimizer.rule.name)) keeps \(slotNames)")
        }
        let scalarState = group.hasAttribute("scalar_state")
            ? try jsonAttribute(group, "scalar_state", limit: CheckpointLimits.configBytes) : .null
        let expectedMembers = Set(slotNames + ["layer_rate_multipliers"])
        if let unexpected = try group.memberNames().first(where: { !expectedMembers.contains($0) }) {
            throw CheckpointError(path: path, "\(path): \(group.path)/\(unexpected) is not part of the lrt format (expected \(expectedMembers.sorted()))")
        }
        let step = try integerAttribute(group, "step", in: 0...CheckpointLimits.steps)

        let parameterPaths = Set(model.parameters.map(\.path))
        var slotMembers: [String: Set<String>] = [:]
        for slotName in slotNames {
            guard group.contains(slotName) else {
                throw CheckpointError(path: path, "\(path): \(group.path)/\(slotName) is missing (the \(optimizer.rule.name) optimizer keeps a '\(slotName)' slot per parameter)")
            }
            let members = try group.openGroup(slotName).memberNames()
            if let unknown = members.first(where: { !parameterPaths.contains($0) }) {
                throw CheckpointError(path: path, "\(path): \(group.path)/\(slotName)/\(unknown) names a parameter the model does not have (it has \(model.parameters.map(\.path)))")
            }
            slotMembers[slotName] = Set(members)
        }
        var slots: [String: [Tensor]] = [:]
        for parameter in model.parameters {
            var tensors: [Tensor] = []
            for slotName in slotNames where slotMembers[slotName]?.contains(parameter.path) == true {
                let slotGroup = try group.openGroup(slotName)
                let datasetPath = "\(slotGroup.path)/\(parameter.path)"
                let shape = try slotGroup.datasetShape(parameter.path)
                guard shape == parameter.value.shape else {
                    throw CheckpointError(path: path, "\(path): \(datasetPath) has shape \(shape) but \(parameter.path) is \(parameter.value.shape)")
                }
                let values = try readTensorValues(slotGroup, parameter.path, datasetPath: datasetPath, notes: &warnings)
                tensors.append(Tensor(shape: shape, storage: values))
            }
            if tensors.isEmpty { continue }
            guard tensors.count == slotNames.count else {
                throw CheckpointError(path: path, "\(path): \(group.path) lacks some of the slots \(slotNames) for \(parameter.path)")
            }
            slots[parameter.path] = tensors
        }

        // Rate groups: layers with parameters, or single parameters (per-tensor rates).
        let layers = try group.stringArrayAttribute("layer_rate_layers")
        let rateGroups = Set(model.parameterGroups.map(\.layerName) + model.parameters.map(\.path))
        if let unknown = layers.first(where: { !rateGroups.contains($0) }) {
            throw CheckpointError(path: path, "\(path): \(group.path)@layer_rate_layers names '\(unknown)', which is neither a layer with parameters nor a parameter of the model")
        }
        if let duplicate = firstDuplicate(layers) {
            throw CheckpointError(path: path, "\(path): \(group.path)@layer_rate_layers lists '\(duplicate)' twice")
        }
        let multiplierShape = try group.datasetShape("layer_rate_multipliers")
        guard multiplierShape == [layers.count] else {
            throw CheckpointError(path: path, "\(path): \(group.path)/layer_rate_multipliers has shape \(multiplierShape) for \(layers.count) layers in layer_rate_layers")
        }
        let multipliers = try group.readFloats("layer_rate_multipliers").values
        if let bad = multipliers.first(where: { !$0.isFinite || $0 < 0 }) {
            throw CheckpointError(path: path, "\(path): \(group.path)/layer_rate_multipliers holds \(bad); multipliers are finite and at least 0 (the file is damaged)")
        }
        do {
            try optimizer.restore(step: step, slots: slots, multipliers: zip(layers, multipliers).map { ($0, Double($1)) },
                                  scalarState: scalarState, parameters: model.parameters)
        } catch let error as OptimizerError {
            throw CheckpointError(.optimizer(location: "\(path): \(group.path) cannot be restored", error))
        }
        return optimizer
    }

    // MARK: Training state

    /// The validation split, preprocessing and test metrics; files written before they were recorded validated on
    /// `test/` and read images at the model's size and channels.
    private func readDataRecord(_ dataset: HDF5Group, into state: inout TrainingState) throws {
        if dataset.hasAttribute("validation_source") {
            state.validationSource = try dataset.stringAttribute("validation_source")
            guard ["val/", "validation/", "split", "none", "test/"].contains(state.validationSource) else {
                throw CheckpointError(path: path, "\(path): \(dataset.path)@validation_source is '\(state.validationSource)'; expected val/, validation/, split, none or test/")
            }
            state.validationFraction = try dataset.doubleAttribute("validation_fraction")
            guard (0..<1).contains(state.validationFraction) else {
                throw CheckpointError(path: path, "\(path): \(dataset.path)@validation_fraction is \(state.validationFraction); expected a fraction in [0, 1)")
            }
            state.validationCount = try integerAttribute(dataset, "validation_count", in: 0...CheckpointLimits.epochOrderLength)
            state.validationDigest = try dataset.stringAttribute("validation_digest")
        }
        for (name, value, allowed) in [("color_mode", \TrainingState.colorMode, ["", "grayscale", "rgb", "rgba"]),
                                       ("resize_mode", \TrainingState.resizeMode, ["", "stretch", "crop", "pad", "error"])]
        where dataset.hasAttribute(name) {
            state[keyPath: value] = try dataset.stringAttribute(name)
            guard allowed.contains(state[keyPath: value]) else {
                throw CheckpointError(path: path, "\(path): \(dataset.path)@\(name) is '\(state[keyPath: value])'; expected one of \(allowed.filter { !$0.isEmpty }.joined(separator: ", "))")
            }
        }
        if dataset.hasAttribute("on_bad_image") {
            let policy = try dataset.stringAttribute("on_bad_image")
            guard ["error", "skip"].contains(policy) else {
                throw CheckpointError(path: path, "\(path): \(dataset.path)@on_bad_image is '\(policy)'; expected error or skip")
            }
            state.skipBadImages = policy == "skip"
        }
        if dataset.hasAttribute("augment") {
            state.augmentation = try dataset.stringAttribute("augment")  // checked by the trainer, which parses it
        }
        if dataset.hasAttribute("skipped_images") {
            state.skippedImages = try dataset.stringArrayAttribute("skipped_images")
        }
        if dataset.hasAttribute("training_count") {
            state.trainingCount = try integerAttribute(dataset, "training_count", in: 0...CheckpointLimits.epochOrderLength)
        }
        if dataset.hasAttribute("normalize") {
            state.normalization = try dataset.stringAttribute("normalize")
            state.normalizationMean = try dataset.readFloats("normalization_mean").values
            state.normalizationStandardDeviation = try dataset.readFloats("normalization_std").values
            let channels = state.normalizationMean.count
            guard state.normalization == "mean-std", [1, 3, 4].contains(channels),
                  state.normalizationStandardDeviation.count == channels,
                  state.normalizationMean.allSatisfy(\.isFinite),
                  state.normalizationStandardDeviation.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                throw CheckpointError(path: path, "\(path): \(dataset.path)@normalize, normalization_mean and normalization_std must be mean-std with one finite mean and non-negative deviation per channel (1, 3 or 4); re-save the checkpoint")
            }
        }
        if dataset.hasAttribute("class_weight") {
            state.classWeightSource = try dataset.stringAttribute("class_weight")
            state.classWeights = try dataset.readFloats("class_weights").values
            guard state.classWeights.count == state.classNames.count,
                  state.classWeights.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                throw CheckpointError(path: path, "\(path): \(dataset.path)/class_weights must hold one finite, non-negative weight per class (\(state.classNames.count)); re-save the checkpoint")
            }
        }
        if dataset.hasAttribute("cache") {
            state.cachePath = try dataset.stringAttribute("cache")
            state.streamed = try dataset.int64Attribute("streamed") != 0
        }
        if dataset.hasAttribute("test_accuracy") {
            state.test = TrainingState.TestMetrics(loss: try dataset.doubleAttribute("test_loss"),
                                                   accuracy: try dataset.doubleAttribute("test_accuracy"),
                                                   count: try integerAttribute(dataset, "test_count", in: 0...CheckpointLimits.epochOrderLength))
        }
    }

    private func readTraining(from lrt: HDF5Group, model: any Model) throws -> TrainingState {
        let training = try lrt.openGroup("training")
        var state = TrainingState()
        state.epoch = try integerAttribute(training, "epoch", in: 0...CheckpointLimits.epochs)
        state.globalStep = try integerAttribute(training, "global_step", in: 0...CheckpointLimits.steps)
        state.batchSize = try integerAttribute(training, "batch_size", in: 1...CheckpointLimits.batchSize)
        if training.hasAttribute("ranks") {  // files written before MPI runs: single-process
            state.ranks = try integerAttribute(training, "ranks", in: 1...(1 << 24))
        }
        state.position = try integerAttribute(training, "position", in: 0...CheckpointLimits.epochOrderLength)
        state.epochSeen = try integerAttribute(training, "epoch_seen", in: 0...CheckpointLimits.epochOrderLength)
        state.epochCorrect = try integerAttribute(training, "epoch_correct", in: 0...CheckpointLimits.epochOrderLength)
        state.seed = UInt64(bitPattern: try training.int64Attribute("seed"))
        state.generatorState = UInt64(bitPattern: try training.int64Attribute("generator_state"))
        // Files written before the streams were separated drew dropout masks from the order stream.
        for (name, stream) in [("augmentation_generator_state", \TrainingState.augmentationGeneratorState),
                               ("dropout_generator_state", \TrainingState.dropoutGeneratorState)] {
            state[keyPath: stream] = training.hasAttribute(name)
                ? UInt64(bitPattern: try training.int64Attribute(name)) : TrainingState.streamSeed(state.seed, stream: name)
        }
        state.epochLossSum = try training.doubleAttribute("epoch_loss_sum")
        guard state.epochLossSum.isFinite, state.epochLossSum >= 0 else {
            throw CheckpointError(path: path, "\(path): \(training.path)@epoch_loss_sum is \(state.epochLossSum); a sum of cross-entropy losses is finite and at least 0")
        }

        let orderShape = try training.datasetShape("epoch_order")
        guard orderShape.count == 1, orderShape[0] <= CheckpointLimits.epochOrderLength else {
            throw CheckpointError(path: path, "\(path): \(training.path)/epoch_order has shape \(orderShape); expected one axis of at most \(CheckpointLimits.epochOrderLength) indices")
        }
        let order = try training.readInt64s("epoch_order").values
        var seen = [Bool](repeating: false, count: order.count)
        for index in order {
            guard index >= 0, index < Int64(order.count), !seen[Int(index)] else {
                throw CheckpointError(path: path, "\(path): \(training.path)/epoch_order is not a permutation of 0..<\(order.count) (it holds \(index) \(index >= 0 && index < Int64(order.count) ? "twice" : "out of range"))")
            }
            seen[Int(index)] = true
        }
        state.epochOrder = order.map { Int($0) }
        guard state.position <= order.count, state.epochSeen <= order.count, state.epochCorrect <= state.epochSeen else {
            throw CheckpointError(path: path, "\(path): \(training.path) is inconsistent: position \(state.position), epoch_seen \(state.epochSeen), epoch_correct \(state.epochCorrect) for an epoch order of \(order.count) examples")
        }

        if training.contains("plan") { state.plan = try readPlan(try training.openGroup("plan")) }
        state.earlyStopping = try readMonitor(training, "early_stopping")
        state.keepBest = try readMonitor(training, "keep_best")
        state.eventFiles = try readEventFiles(training)

        let dataset = try lrt.openGroup("dataset")
        state.dataRoot = try dataset.stringAttribute("root")
        state.classNames = try dataset.stringArrayAttribute("class_names")
        try readDataRecord(dataset, into: &state)
        if let duplicate = firstDuplicate(state.classNames) {
            throw CheckpointError(path: path, "\(path): \(dataset.path)@class_names lists '\(duplicate)' twice")
        }
        let outputs = model.outputShape.reduce(1, *)
        guard state.classNames.count == outputs else {
            throw CheckpointError(path: path, "\(path): \(dataset.path)@class_names has \(state.classNames.count) classes but the model outputs \(outputs) values")
        }

        let history = try lrt.openGroup("history")
        let names = try history.stringArrayAttribute("metric_names")
        if let duplicate = firstDuplicate(names) {
            throw CheckpointError(path: path, "\(path): \(history.path)@metric_names lists '\(duplicate)' twice")
        }
        guard !names.contains("telemetry") else {
            throw CheckpointError(path: path, "\(path): \(history.path)@metric_names lists 'telemetry', the name of the telemetry group")
        }
        if let unexpected = try history.memberNames().first(where: { !names.contains($0) && $0 != "telemetry" }) {
            throw CheckpointError(path: path, "\(path): \(history.path)/\(unexpected) is not listed in \(history.path)@metric_names \(names)")
        }
        var columns: [String: [Double]] = [:]
        for name in names {
            guard !name.isEmpty, history.contains(name) else {
                throw CheckpointError(path: path, "\(path): \(history.path)@metric_names lists '\(name)' but \(history.path)/\(name) is missing")
            }
            let shape = try history.datasetShape(name)
            guard shape == [state.epoch] else {
                throw CheckpointError(path: path, "\(path): \(history.path)/\(name) has shape \(shape) for \(state.epoch) epochs (expected [\(state.epoch)])")
            }
            columns[name] = try history.readFloats(name).values.map(Double.init)
        }
        state.history = MetricsHistory(names: names, columns: columns)
        if lrt.contains("history/telemetry") { state.telemetry = try readTelemetry(try lrt.openGroup("history/telemetry"), globalStep: state.globalStep) }
        return state
    }

    /// `lrt/history/telemetry`: `@names` (rate groups), `steps` int64 [records], and four float32
    /// tables [records, names]: gradient, weight and update norms, and multipliers.
    private func readTelemetry(_ group: HDF5Group, globalStep: Int) throws -> TelemetryHistory {
        let names = try group.stringArrayAttribute("names")
        if let duplicate = firstDuplicate(names) {
            throw CheckpointError(path: path, "\(path): \(group.path)@names lists '\(duplicate)' twice")
        }
        let tableNames = ["gradient_norms", "weight_norms", "update_norms", "multipliers"]
        let columnNames = ["losses", "learning_rates"]  // [records]; missing in files written before they were kept
        if let unexpected = try group.memberNames().first(where: { !(["steps"] + tableNames + columnNames).contains($0) }) {
            throw CheckpointError(path: path, "\(path): \(group.path)/\(unexpected) is not part of the lrt format (expected steps, \((tableNames + columnNames).joined(separator: ", ")))")
        }
        let stepsShape = try group.datasetShape("steps")
        guard stepsShape.count == 1, stepsShape[0] <= CheckpointLimits.telemetryRecords else {
            throw CheckpointError(path: path, "\(path): \(group.path)/steps has shape \(stepsShape); expected one axis of at most \(CheckpointLimits.telemetryRecords) records")
        }
        guard stepsShape[0] * max(names.count, 1) <= CheckpointLimits.telemetryValues else {
            throw CheckpointError(path: path, "\(path): \(group.path) holds \(stepsShape[0]) records of \(names.count) values, more than the \(CheckpointLimits.telemetryValues) lrt reads")
        }
        let steps = try group.readInt64s("steps").values
        if let bad = steps.first(where: { $0 < 0 || $0 > Int64(globalStep) }) {
            throw CheckpointError(path: path, "\(path): \(group.path)/steps holds step \(bad), outside 0...\(globalStep) (the global step)")
        }
        var tables: [[[Double]]] = []
        for name in tableNames {
            let shape = try group.datasetShape(name)
            guard shape == [steps.count, names.count] else {
                throw CheckpointError(path: path, "\(path): \(group.path)/\(name) has shape \(shape); expected [\(steps.count), \(names.count)] (records, names)")
            }
            let values = try group.readFloats(name).values.map(Double.init)
            tables.append((0..<steps.count).map { row in Array(values[row * names.count ..< (row + 1) * names.count]) })
        }
        var columns: [[Double]?] = []
        for name in columnNames {
            guard group.contains(name) else { columns.append(nil); continue }
            let shape = try group.datasetShape(name)
            guard shape == [steps.count] else {
                throw CheckpointError(path: path, "\(path): \(group.path)/\(name) has shape \(shape); expected [\(steps.count)] (records)")
            }
            columns.append(try group.readFloats(name).values.map(Double.init))
        }
        guard let telemetry = TelemetryHistory(names: names, steps: steps.map { Int($0) }, gradientNorms: tables[0],
                                               weightNorms: tables[1], updateNorms: tables[2], multipliers: tables[3],
                                               losses: columns[0], learningRates: columns[1])
        else {
            throw CheckpointError(path: path, "\(path): \(group.path) is inconsistent")
        }
        return telemetry
    }

    /// `lrt/training/plan` (see `Checkpoint.writePlan`); settings missing from it keep their defaults.
    private func readPlan(_ group: HDF5Group) throws -> RunPlan {
        var plan = RunPlan(epochs: try integerAttribute(group, "epochs", in: 1...CheckpointLimits.epochs))
        if group.hasAttribute("log_every") { plan.logEvery = try integerAttribute(group, "log_every", in: 0...CheckpointLimits.steps) }
        if group.hasAttribute("patience") { plan.patience = try integerAttribute(group, "patience", in: 0...CheckpointLimits.epochs) }
        if group.hasAttribute("save_every") { plan.saveEvery = try integerAttribute(group, "save_every", in: 0...CheckpointLimits.steps) }
        if group.hasAttribute("sync_batch_norm") { plan.synchronizeBatchNormalization = try integerAttribute(group, "sync_batch_norm", in: 0...1) == 1 }
        for (name, setting) in [("log", \RunPlan.logPath), ("tensorboard", \RunPlan.tensorBoardPath),
                                ("monitor", \RunPlan.monitor), ("keep_best", \RunPlan.keepBestPath)] {
            if let value = try optionalString(group, name) {
                guard value.utf8.count <= 4096 else {
                    throw CheckpointError(path: path, "\(path): \(attributePath(group, name)) holds \(value.utf8.count) bytes, more than the 4096 lrt reads (the file is damaged)")
                }
                plan[keyPath: setting] = value
            }
        }
        if group.hasAttribute("min_delta") {
            plan.minimumDelta = try group.doubleAttribute("min_delta")
            guard plan.minimumDelta.isFinite, plan.minimumDelta >= 0 else {
                throw CheckpointError(path: path, "\(path): \(attributePath(group, "min_delta")) is \(plan.minimumDelta); expected a finite value ≥ 0 (the file is damaged)")
            }
        }
        return plan
    }

    /// A callback's monitor state (`lrt/training/early_stopping`, `lrt/training/keep_best`), nil when missing.
    private func readMonitor(_ training: HDF5Group, _ name: String) throws -> MonitorState? {
        guard training.contains(name) else { return nil }
        let group = try training.openGroup(name)
        let best = try group.doubleAttribute("best")
        guard !best.isNaN else { throw CheckpointError(path: path, "\(path): \(attributePath(group, "best")) is NaN (the file is damaged)") }
        return MonitorState(best: best, bestEpoch: try integerAttribute(group, "best_epoch", in: 0...CheckpointLimits.epochs),
                            wait: try integerAttribute(group, "wait", in: 0...CheckpointLimits.epochs),
                            stoppedEpoch: try integerAttribute(group, "stopped_epoch", in: 0...CheckpointLimits.epochs))
    }

    /// The TensorBoard event files and the lengths the checkpoint covers (`lrt/training/tensorboard`); none when missing.
    private func readEventFiles(_ training: HDF5Group) throws -> [EventFileExtent] {
        guard training.contains("tensorboard") else { return [] }
        let group = try training.openGroup("tensorboard")
        let shape = try group.datasetShape("lengths")
        guard shape.count == 1, shape[0] <= 16 else {
            throw CheckpointError(path: path, "\(path): \(group.path)/lengths has shape \(shape); expected one axis of at most 16 event files (the file is damaged)")
        }
        let files = try group.stringArrayAttribute("files")
        let lengths = try group.readInt64s("lengths").values
        guard files.count == lengths.count, lengths.allSatisfy({ (0...(Int64(1) << 48)).contains($0) }) else {
            throw CheckpointError(path: path, "\(path): \(group.path) holds \(files.count) files and \(lengths.count) lengths; expected one length from 0 to 2^48 bytes per file (the file is damaged)")
        }
        return zip(files, lengths).map { EventFileExtent(path: $0, length: Int($1)) }
    }

    // MARK: Attributes

    /// `object@name` as the HDF5 layer writes it in messages.
    private func attributePath(_ object: HDF5Object, _ name: String) -> String { "\(object.path)@\(name)" }

    /// A JSON string attribute, at most `limit` bytes.
    private func jsonAttribute(_ object: HDF5Object, _ name: String, limit: Int) throws -> JSONValue {
        let text = try object.stringAttribute(name)
        guard text.utf8.count <= limit else {
            throw CheckpointError(path: path, "\(path): \(attributePath(object, name)) holds \(text.utf8.count) bytes, more than the \(limit) lrt reads (the file is damaged or not a model)")
        }
        do { return try JSONValue.parse(text) } catch {
            throw CheckpointError(path: path, "\(path): \(attributePath(object, name)) is not valid JSON: \(error) (the file is damaged)")
        }
    }

    private func optionalString(_ object: HDF5Object, _ name: String) throws -> String? {
        object.hasAttribute(name) ? try object.stringAttribute(name) : nil
    }

    /// An integer attribute within `range`, naming it when it is not.
    private func integerAttribute(_ object: HDF5Object, _ name: String, in range: ClosedRange<Int>) throws -> Int {
        let value = try object.int64Attribute(name)
        guard value >= Int64(range.lowerBound), value <= Int64(range.upperBound) else {
            throw CheckpointError(path: path, "\(path): \(attributePath(object, name)) = \(value) is out of range \(range.lowerBound)...\(range.upperBound) (the file is damaged)")
        }
        return Int(value)
    }
}

/// The first element that occurs twice, if any.
func firstDuplicate(_ names: [String]) -> String? {
    var seen = Set<String>()
    return names.first { !seen.insert($0).inserted }
}

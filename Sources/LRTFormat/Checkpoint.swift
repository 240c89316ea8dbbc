import Foundation
import LRTHDF5
import LRTLayers
import LRTOptimizers
import LRTTensor

/// A checkpoint or model file that cannot be read or written, naming the file,
/// the path inside it and a fix.
public struct CheckpointError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The lrt checkpoint: one HDF5 file that Keras reads as a legacy `.h5` model and
/// that also holds everything needed to resume training.
///
/// Layout (documented in `Schemas/checkpoint.md`):
/// - root attributes `model_config`, `keras_version`, `backend`, `training_config`;
/// - `model_weights/` exactly as Keras 3 writes it (`layer_names`, each layer's
///   `weight_names`, datasets `model_weights/<layer>/<model>/<layer>/<weight>`);
/// - `lrt/`: `format`, `format_version`, the optimizer (`lrt/optimizer`), training state
///   (`lrt/training`), dataset classes (`lrt/dataset`) and metrics (`lrt/history`).
public enum Checkpoint {
    /// The value of the `lrt/format` attribute.
    public static let formatName = "lrt-checkpoint"
    /// The version this build writes; files with a newer major version are refused.
    public static let formatVersion: Int64 = 1
    /// The Keras version whose legacy HDF5 layout the file follows.
    public static let kerasVersion = "3.15.1"

    /// What a file holds. Optimizer and training state are nil in plain model files.
    public struct Contents {
        public var model: Sequential
        public var optimizer: Optimizer?
        public var training: TrainingState?
        /// Non-fatal findings, e.g. non-finite weights.
        public var warnings: [String] = []
    }

    // MARK: - Writing

    /// Writes `model` (and, when given, the optimizer and training state) to `path`
    /// atomically: to a temporary file beside it, renamed over `path` when complete,
    /// so an interrupted save never damages an existing file.
    ///
    /// - Parameter compressWeights: gzip level 4 on weight datasets (default false).
    public static func save(model: Sequential, optimizer: Optimizer?, training: TrainingState?,
                            to path: String, compressWeights: Bool = false) throws {
        let temporaryPath = temporaryPath(for: path)
        do {
            let file = try HDF5File.create(atPath: temporaryPath)
            try write(model: model, optimizer: optimizer, training: training, into: file.root,
                      gzipLevel: compressWeights ? 4 : nil)
            try file.close()
            guard rename(temporaryPath, path) == 0 else {
                throw CheckpointError("cannot move the finished checkpoint to \(path): \(String(cString: strerror(errno)))")
            }
        } catch {
            unlink(temporaryPath)
            if error is CheckpointError { throw error }
            throw CheckpointError("cannot write checkpoint \(path): \(error)")
        }
    }

    /// Checks that a checkpoint can be written at `path` before any work is done.
    public static func checkWritable(_ path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        let folder = directory.isEmpty ? "." : directory
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CheckpointError("cannot write checkpoint \(path): folder \(folder) does not exist; create it or choose another --out")
        }
        guard FileManager.default.isWritableFile(atPath: folder) else {
            throw CheckpointError("cannot write checkpoint \(path): folder \(folder) is not writable; choose another --out")
        }
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw CheckpointError("cannot write checkpoint \(path): it is a folder; choose a file name such as \(path)/model.h5")
        }
    }

    static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp").path
    }

    private static func write(model: Sequential, optimizer: Optimizer?, training: TrainingState?,
                              into root: HDF5Group, gzipLevel: Int?) throws {
        try root.setAttribute("model_config", string: model.config.serialized)
        try root.setAttribute("keras_version", string: kerasVersion)
        try root.setAttribute("backend", string: "lrt")
        if let optimizer { try root.setAttribute("training_config", string: trainingConfig(optimizer).serialized) }
        try writeWeights(of: model, into: try root.createGroup("model_weights"), gzipLevel: gzipLevel)

        let lrt = try root.createGroup("lrt")
        try lrt.setAttribute("format", string: formatName)
        try lrt.setAttribute("format_version", int64: formatVersion)
        if let optimizer { try writeOptimizer(optimizer, model: model, into: try lrt.createGroup("optimizer")) }
        if let training { try writeTraining(training, into: lrt) }
    }

    /// Keras's layout: one group per layer (weightless ones too, with an empty `weight_names`).
    private static func writeWeights(of model: Sequential, into group: HDF5Group, gzipLevel: Int?) throws {
        try group.setAttribute("layer_names", strings: model.layers.map(\.name))
        try group.setAttribute("keras_version", string: kerasVersion)
        try group.setAttribute("backend", string: "lrt")
        for layer in model.layers {
            let layerGroup = try group.createGroup(layer.name)
            let weightNames = layer.weights.map { "\(model.name)/\(layer.name)/\($0.weightName)" }
            if weightNames.isEmpty {
                try layerGroup.setEmptyArrayAttribute("weight_names")
                continue
            }
            try layerGroup.setAttribute("weight_names", strings: weightNames)
            let weightsGroup = try layerGroup.createGroup("\(model.name)/\(layer.name)")
            for parameter in layer.weights {
                try weightsGroup.writeFloats(parameter.weightName, parameter.value.storage,
                                             shape: parameter.value.shape, gzipLevel: gzipLevel)
            }
        }
    }

    /// What Keras's `load_model` compiles the model with.
    private static func trainingConfig(_ optimizer: Optimizer) -> JSONValue {
        var optimizerConfig: [(key: String, value: JSONValue)] = [("name", .string("SGD"))]
        if let sgd = optimizer.rule as? StochasticGradientDescent {
            optimizerConfig += [
                ("learning_rate", .number(optimizer.schedule.rate(step: optimizer.step, epoch: 0))),
                ("momentum", .number(Double(sgd.momentum))), ("nesterov", .bool(sgd.nesterov)),
            ]
        }
        return .object([
            ("loss", .string("sparse_categorical_crossentropy")), ("loss_weights", .null),
            ("metrics", .array([.string("accuracy")])), ("weighted_metrics", .null),
            ("optimizer_config", .object([("class_name", .string("SGD")), ("config", .object(optimizerConfig))])),
        ])
    }

    private static func writeOptimizer(_ optimizer: Optimizer, model: Sequential, into group: HDF5Group) throws {
        try group.setAttribute("config", string: optimizer.config.serialized)
        try group.setAttribute("step", int64: Int64(optimizer.step))
        try group.setAttribute("slot_names", strings: optimizer.rule.slotNames)
        for (slotIndex, slotName) in optimizer.rule.slotNames.enumerated() {
            let slotGroup = try group.createGroup(slotName)
            for parameter in model.parameters {
                guard let tensor = optimizer.slots[parameter.path]?[slotIndex] else { continue }
                try slotGroup.writeFloats(parameter.path, tensor.storage, shape: tensor.shape)
            }
        }
        let multipliers = optimizer.multipliers
        try group.writeFloats("layer_rate_multipliers", multipliers.map { Float($0.multiplier) }, shape: [multipliers.count])
        try group.setAttribute("layer_rate_layers", strings: multipliers.map(\.layerName))
    }

    private static func writeTraining(_ state: TrainingState, into lrt: HDF5Group) throws {
        let training = try lrt.createGroup("training")
        try training.setAttribute("epoch", int64: Int64(state.epoch))
        try training.setAttribute("global_step", int64: Int64(state.globalStep))
        try training.setAttribute("seed", int64: Int64(bitPattern: state.seed))
        try training.setAttribute("generator_state", int64: Int64(bitPattern: state.generatorState))
        try training.setAttribute("position", int64: Int64(state.position))
        try training.setAttribute("batch_size", int64: Int64(state.batchSize))
        try training.setAttribute("epoch_loss_sum", double: state.epochLossSum)
        try training.setAttribute("epoch_correct", int64: Int64(state.epochCorrect))
        try training.setAttribute("epoch_seen", int64: Int64(state.epochSeen))
        try training.writeInt64s("epoch_order", state.epochOrder.map(Int64.init), shape: [state.epochOrder.count])

        let dataset = try lrt.createGroup("dataset")
        try dataset.setAttribute("root", string: state.dataRoot)
        try dataset.setAttribute("class_names", strings: state.classNames)

        let history = try lrt.createGroup("history")
        try history.setAttribute("metric_names", strings: state.history.names)
        for name in state.history.names {
            let values = state.history.columns[name] ?? []
            try history.writeFloats(name, values.map(Float.init), shape: [values.count])
        }
    }

    // MARK: - Reading

    /// Reads a checkpoint lrt wrote, or a Keras legacy `.h5` model (weights only).
    ///
    /// Nothing in the file is trusted: the format and version are checked, the model
    /// is rebuilt from its config, and every weight's shape is checked against it.
    public static func load(from path: String) throws -> Contents {
        let file: HDF5File
        do { file = try HDF5File.openForReading(atPath: path) } catch {
            throw CheckpointError("\(error)")
        }
        defer { try? file.close() }
        let root = file.root
        do {
            if root.contains("lrt") { try checkFormat(of: try root.openGroup("lrt"), path: path) }
            guard root.hasAttribute("model_config") else {
                throw CheckpointError("\(path) is an HDF5 file but not an lrt checkpoint or Keras model: it has no model_config attribute at / (was it written by another program?)")
            }
            let configText = try root.stringAttribute("model_config")
            var generator = SeededGenerator(seed: 0)
            let model: Sequential
            do { model = try ModelConfig.build(text: configText, generator: &generator) } catch {
                throw CheckpointError("\(path): its model_config cannot be built: \(error)")
            }
            guard root.contains("model_weights") else {
                throw CheckpointError("\(path) has no model_weights group; it holds no weights to load")
            }
            var contents = Contents(model: model)
            contents.warnings = try readWeights(into: model, from: try root.openGroup("model_weights"), path: path)
            if root.contains("lrt/optimizer") {
                contents.optimizer = try readOptimizer(from: try root.openGroup("lrt/optimizer"), model: model, path: path)
            }
            if root.contains("lrt/training") {
                contents.training = try readTraining(from: try root.openGroup("lrt"), path: path)
            }
            return contents
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw CheckpointError("\(error)")
        }
    }

    private static func checkFormat(of lrt: HDF5Group, path: String) throws {
        let format = lrt.hasAttribute("format") ? try lrt.stringAttribute("format") : ""
        guard format == formatName else {
            throw CheckpointError("\(path): /lrt has format '\(format)', not '\(formatName)'; it was not written by lrt")
        }
        let version = try lrt.int64Attribute("format_version")
        guard version <= formatVersion else {
            throw CheckpointError("\(path) has lrt format version \(version); this lrt reads versions up to \(formatVersion): upgrade lrt")
        }
        guard version >= 1 else { throw CheckpointError("\(path): invalid lrt format_version \(version)") }
    }

    /// Loads every layer's weights by name, strictly: missing, unexpected or
    /// mis-shaped weights are errors naming their path in the file.
    private static func readWeights(into model: Sequential, from group: HDF5Group, path: String) throws -> [String] {
        let fileLayers = try group.stringArrayAttribute("layer_names")
        var warnings: [String] = []
        let modelLayers = Dictionary(uniqueKeysWithValues: model.layers.map { ($0.name, $0) })
        for layerName in fileLayers {
            guard group.contains(layerName) else {
                throw CheckpointError("\(path): layer_names lists '\(layerName)' but \(group.path)/\(layerName) is missing")
            }
            let layerGroup = try group.openGroup(layerName)
            let weightNames = try layerGroup.stringArrayAttribute("weight_names")
            let parameters = modelLayers[layerName]?.weights ?? []
            guard weightNames.count == parameters.count else {
                throw CheckpointError("\(path): \(layerGroup.path) has \(weightNames.count) weights but the model's layer '\(layerName)' has \(parameters.count)")
            }
            for weightName in weightNames {
                // Keras 3: "mlp/dense/kernel"; Keras 2: "dense/kernel:0".
                var shortName = String(weightName.split(separator: "/").last ?? "")
                if let colon = shortName.firstIndex(of: ":") { shortName = String(shortName[..<colon]) }
                guard let parameter = parameters.first(where: { $0.weightName == shortName }) else {
                    throw CheckpointError("\(path): \(layerGroup.path) holds weight '\(weightName)', which layer '\(layerName)' does not have")
                }
                let datasetPath = "\(layerGroup.path)/\(weightName)"
                guard layerGroup.contains(weightName) else {
                    throw CheckpointError("\(path): weight dataset \(datasetPath) is missing")
                }
                let shape = try layerGroup.datasetShape(weightName)
                guard shape == parameter.value.shape else {
                    throw CheckpointError("\(path): \(datasetPath) has shape \(shape) but \(parameter.path) needs \(parameter.value.shape)")
                }
                let values = try layerGroup.readFloats(weightName).values
                if !values.allSatisfy(\.isFinite) { warnings.append("\(path): \(datasetPath) contains NaN or infinite values") }
                parameter.value = Tensor(shape: shape, storage: values)
            }
        }
        if let missing = model.layers.first(where: { !$0.weights.isEmpty && !fileLayers.contains($0.name) }) {
            throw CheckpointError("\(path): no weights for layer '\(missing.name)' in \(group.path) (layer_names: \(fileLayers))")
        }
        return warnings
    }

    private static func readOptimizer(from group: HDF5Group, model: Sequential, path: String) throws -> Optimizer {
        let optimizer: Optimizer
        do {
            optimizer = try Optimizer.make(config: try JSONValue.parse(try group.stringAttribute("config")))
        } catch let error as OptimizerError {
            throw CheckpointError("\(path): \(group.path) config: \(error)")
        }
        let slotNames = optimizer.rule.slotNames
        var slots: [String: [Tensor]] = [:]
        for parameter in model.parameters {
            var tensors: [Tensor] = []
            for slotName in slotNames where group.contains("\(slotName)/\(parameter.path)") {
                let slotGroup = try group.openGroup(slotName)
                let (values, shape) = try slotGroup.readFloats(parameter.path)
                guard shape == parameter.value.shape else {
                    throw CheckpointError("\(path): \(slotGroup.path)/\(parameter.path) has shape \(shape) but \(parameter.path) is \(parameter.value.shape)")
                }
                tensors.append(Tensor(shape: shape, storage: values))
            }
            if tensors.isEmpty { continue }
            guard tensors.count == slotNames.count else {
                throw CheckpointError("\(path): \(group.path) lacks some of the slots \(slotNames) for \(parameter.path)")
            }
            slots[parameter.path] = tensors
        }
        let multipliers = try group.readFloats("layer_rate_multipliers").values
        let layers = try group.stringArrayAttribute("layer_rate_layers")
        guard multipliers.count == layers.count else {
            throw CheckpointError("\(path): \(group.path)/layer_rate_multipliers has \(multipliers.count) values for \(layers.count) layers")
        }
        do {
            try optimizer.restore(step: Int(try group.int64Attribute("step")), slots: slots,
                                  multipliers: zip(layers, multipliers).map { ($0, Double($1)) },
                                  parameters: model.parameters)
        } catch let error as OptimizerError {
            throw CheckpointError("\(path): \(error)")
        }
        return optimizer
    }

    private static func readTraining(from lrt: HDF5Group, path: String) throws -> TrainingState {
        let training = try lrt.openGroup("training")
        var state = TrainingState()
        func count(_ name: String) throws -> Int {
            let value = try training.int64Attribute(name)
            guard value >= 0, value < Int64(Int32.max) * 1024 else {
                throw CheckpointError("\(path): \(training.path) attribute \(name) = \(value) is out of range")
            }
            return Int(value)
        }
        state.epoch = try count("epoch")
        state.globalStep = try count("global_step")
        state.position = try count("position")
        state.batchSize = try count("batch_size")
        state.epochCorrect = try count("epoch_correct")
        state.epochSeen = try count("epoch_seen")
        state.seed = UInt64(bitPattern: try training.int64Attribute("seed"))
        state.generatorState = UInt64(bitPattern: try training.int64Attribute("generator_state"))
        state.epochLossSum = try training.doubleAttribute("epoch_loss_sum")
        state.epochOrder = try training.readInt64s("epoch_order").values.map { Int($0) }
        guard state.batchSize > 0, state.position <= state.epochOrder.count,
              Set(state.epochOrder).count == state.epochOrder.count, state.epochOrder.allSatisfy({ $0 >= 0 })
        else {
            throw CheckpointError("\(path): \(training.path) is inconsistent (batch size, position or epoch order)")
        }
        let dataset = try lrt.openGroup("dataset")
        state.dataRoot = try dataset.stringAttribute("root")
        state.classNames = try dataset.stringArrayAttribute("class_names")
        let history = try lrt.openGroup("history")
        let names = try history.stringArrayAttribute("metric_names")
        var columns: [String: [Double]] = [:]
        for name in names {
            let values = try history.readFloats(name).values.map(Double.init)
            guard values.count == state.epoch else {
                throw CheckpointError("\(path): \(history.path)/\(name) has \(values.count) entries for \(state.epoch) epochs")
            }
            columns[name] = values
        }
        state.history = MetricsHistory(names: names, columns: columns)
        return state
    }
}

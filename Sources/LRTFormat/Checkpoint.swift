import Foundation
import LRTHDF5
import LRTLayers
import LRTOptimizers
import LRTTensor

/// The lrt checkpoint: one HDF5 file that Keras reads as a legacy `.h5` model and
/// that also holds everything needed to resume training.
///
/// Layout (documented in `Schemas/checkpoint.md`):
/// - root attributes `model_config`, `keras_version`, `backend`, `training_config`;
/// - `model_weights/` exactly as Keras 3 writes it (`layer_names`, each layer's
///   `weight_names`, datasets `model_weights/<layer>/<model>/<layer>/<weight>`);
/// - `lrt/`: `format`, `format_version`, the optimizer (`lrt/optimizer`), training state
///   (`lrt/training`), dataset classes (`lrt/dataset`), metrics (`lrt/history`) and per-layer
///   telemetry (`lrt/history/telemetry`).
public enum Checkpoint {
    /// The value of the `lrt/format` attribute.
    public static let formatName = "lrt-checkpoint"
    /// The version this build writes; files with a newer major version are refused.
    public static let formatVersion: Int64 = 1
    /// The Keras version whose legacy HDF5 layout the file follows.
    public static let kerasVersion = "3.15.1"

    /// What a file holds. Optimizer and training state are nil in plain model files.
    public struct Contents {
        public var model: any Model
        /// The lrt optimizer with its state (`lrt/optimizer`); nil in Keras files and model-only files.
        public var optimizer: Optimizer?
        public var training: TrainingState?
        /// Non-fatal findings, e.g. weights stored as float64 and converted.
        public var warnings: [String] = []
        /// Who wrote the file: lrt (with its format version) or Keras.
        public var origin: Origin = .keras
        /// The root `keras_version` attribute (`"3.15.1"`, `"2.15.0"`), if present.
        public var kerasVersion: String?
        /// The root `backend` attribute (`"lrt"`, `"jax"`, `"tensorflow"`), if present.
        public var backend: String?
        /// The root `training_config` (loss, metrics, `optimizer_config`), if present.
        public var trainingConfig: JSONValue?
        /// In a Keras file (no `lrt/optimizer`): the optimizer named by `training_config` and the
        /// state in `optimizer_weights`; ``KerasOptimizerState/makeOptimizer(for:layerRates:)``
        /// turns it into an lrt optimizer that continues where Keras stopped.
        public var kerasOptimizer: KerasOptimizerState?

        public init(model: any Model) { self.model = model }
    }

    /// Who wrote a file.
    public enum Origin: Equatable, Sendable {
        /// lrt, in the given `lrt/format_version`.
        case lrt(formatVersion: Int64)
        /// Keras (or another program writing Keras's legacy HDF5 layout): no `lrt/` group.
        case keras
    }

    // MARK: - Writing

    /// Writes `model` (and, when given, the optimizer and training state) to `path`
    /// atomically and durably (``SafeFile/write(_:to:what:)``): the file is built in memory,
    /// written to an exclusive temporary file beside `path`, `fsync`ed and renamed over
    /// `path`, so an interrupted save or a full disk never damages an existing file.
    ///
    /// Call ``reserve(_:overwrite:inputs:inputFolders:)`` first: it checks the target and
    /// takes the lock that keeps two runs from writing the same file.
    ///
    /// - Parameter compressWeights: gzip level 4 on weight datasets (default false).
    /// - Throws: ``CheckpointError`` naming `path` and a fix; `path` is untouched then.
    public static func save(model: any Model, optimizer: Optimizer?, training: TrainingState?,
                            to path: String, compressWeights: Bool = false) throws {
        try writeFile(path, what: "checkpoint") { root in
            try write(model: model, optimizer: optimizer, training: training, into: root,
                      gzipLevel: compressWeights ? 4 : nil)
        }
    }

    /// Builds an HDF5 file in memory with `body` and writes it to `path` through
    /// ``SafeFile/write(_:to:what:)``: the one way lrt writes HDF5 files.
    static func writeFile(_ path: String, what: String, _ body: (HDF5Group) throws -> Void) throws {
        do {
            let file = try HDF5File.createInMemory(name: path)
            try body(file.root)
            try SafeFile.write(try file.closeAndTakeImage(), to: path, what: what)
        } catch let error as FileError {
            throw CheckpointError(.file(error))
        } catch {
            throw CheckpointError.carrying(error, path: path)
        }
    }

    /// Checks that a checkpoint can be written at `path` before any work is done (see
    /// ``SafeFile/Target/check()``): an existing file there must be an lrt or Keras checkpoint
    /// unless `overwrite`, and may never be one of `inputs` or inside `inputFolders`.
    ///
    /// - Throws: ``CheckpointError`` naming `path` and a fix.
    public static func checkWritable(_ path: String, overwrite: Bool = false, inputs: [String] = [],
                                     inputFolders: [String] = []) throws {
        do {
            try target(path, overwrite: overwrite, inputs: inputs, inputFolders: inputFolders).check()
        } catch let error as FileError {
            throw CheckpointError(.file(error))
        }
    }

    /// ``checkWritable(_:overwrite:inputs:inputFolders:)``, then takes the advisory lock on
    /// `path` for the whole run: a second run writing the same file fails at once, naming the
    /// first one's process id. Release the lock (or drop it) after the last save.
    ///
    /// - Throws: ``CheckpointError`` naming `path` and a fix.
    public static func reserve(_ path: String, overwrite: Bool = false, inputs: [String] = [],
                               inputFolders: [String] = []) throws -> SafeFile.Lock {
        try checkWritable(path, overwrite: overwrite, inputs: inputs, inputFolders: inputFolders)
        do { return try SafeFile.Lock(path, what: "checkpoint") } catch let error as FileError {
            throw CheckpointError(.file(error))
        }
    }

    /// The target description of a checkpoint at `path`.
    static func target(_ path: String, overwrite: Bool, inputs: [String], inputFolders: [String]) -> SafeFile.Target {
        SafeFile.Target(path: path, what: "checkpoint", overwrite: overwrite, inputs: inputs, inputFolders: inputFolders,
                        isReplaceable: isCheckpoint)
    }

    /// Whether `path` is an HDF5 file with a root `model_config` attribute: an lrt checkpoint
    /// or a Keras model, which `--out` may replace without `--overwrite`.
    public static func isCheckpoint(_ path: String) -> Bool {
        guard let file = try? HDF5File.openForReading(atPath: path) else { return false }
        defer { try? file.close() }
        return file.root.hasAttribute("model_config")
    }

    private static func write(model: any Model, optimizer: Optimizer?, training: TrainingState?,
                              into root: HDF5Group, gzipLevel: Int?) throws {
        try root.setAttribute("model_config", string: model.config.serialized)
        try root.setAttribute("keras_version", string: kerasVersion)
        try root.setAttribute("backend", string: "lrt")
        if let optimizer { try root.setAttribute("training_config", string: floatJSON(trainingConfig(optimizer))) }
        try writeWeights(of: model, into: try root.createGroup("model_weights"), gzipLevel: gzipLevel)

        let lrt = try root.createGroup("lrt")
        try lrt.setAttribute("format", string: formatName)
        try lrt.setAttribute("format_version", int64: formatVersion)
        if let optimizer { try writeOptimizer(optimizer, model: model, into: try lrt.createGroup("optimizer")) }
        if let training { try writeTraining(training, into: lrt) }
    }

    /// Keras's layout: one group per layer (weightless ones too, with an empty `weight_names`).
    private static func writeWeights(of model: any Model, into group: HDF5Group, gzipLevel: Int?) throws {
        try group.setAttribute("layer_names", strings: model.layers.map(\.name))
        try group.setAttribute("keras_version", string: kerasVersion)
        try group.setAttribute("backend", string: "lrt")
        for layer in model.layers {
            let layerGroup = try group.createGroup(layer.name)
            let scope = (model.weightScope.map { [$0] } ?? []) + [layer.name]  // Keras 3's weight path: [model/]layer/weight
            let weightNames = layer.weights.map { (scope + [$0.weightName]).joined(separator: "/") }
            if weightNames.isEmpty {
                try layerGroup.setEmptyArrayAttribute("weight_names")
                continue
            }
            try layerGroup.setAttribute("weight_names", strings: weightNames)
            let weightsGroup = try layerGroup.createGroup(scope.joined(separator: "/"))
            for parameter in layer.weights {
                try weightsGroup.writeFloats(parameter.weightName, parameter.value.storage,
                                             shape: parameter.value.shape, gzipLevel: gzipLevel)
            }
        }
    }

    /// What Keras's `load_model` compiles the model with: the Keras optimizer closest to
    /// lrt's, with only the options whose meaning is the same in both (see
    /// ``kerasOptimizerConfig(_:)``).
    private static func trainingConfig(_ optimizer: Optimizer) -> JSONValue {
        .object([
            ("loss", .string("sparse_categorical_crossentropy")), ("loss_weights", .null),
            ("metrics", .array([.string("accuracy")])), ("weighted_metrics", .null),
            ("optimizer_config", kerasOptimizerConfig(optimizer)),
        ])
    }

    /// JSON text with every number written as a float (`1.0`, not `1`): Keras's optimizers
    /// refuse an integer `learning_rate` or `momentum`.
    static func floatJSON(_ value: JSONValue) -> String {
        switch value {
        case .number(let number): return number.isFinite ? "\(number)" : "null"
        case .array(let items): return "[" + items.map(floatJSON).joined(separator: ", ") + "]"
        case .object(let members):
            return "{" + members.map { JSONValue.string($0.key).serialized + ": " + floatJSON($0.value) }.joined(separator: ", ") + "}"
        default: return value.serialized
        }
    }

    private static func writeOptimizer(_ optimizer: Optimizer, model: any Model, into group: HDF5Group) throws {
        try group.setAttribute("config", string: optimizer.config.serialized)
        try group.setAttribute("step", int64: Int64(optimizer.step))
        let scalarState = optimizer.scalarState
        if !scalarState.isNull { try group.setAttribute("scalar_state", string: scalarState.serialized) }
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
        try training.setAttribute("augmentation_generator_state", int64: Int64(bitPattern: state.augmentationGeneratorState))
        try training.setAttribute("dropout_generator_state", int64: Int64(bitPattern: state.dropoutGeneratorState))
        try training.setAttribute("position", int64: Int64(state.position))
        try training.setAttribute("batch_size", int64: Int64(state.batchSize))
        try training.setAttribute("ranks", int64: Int64(state.ranks))
        try training.setAttribute("epoch_loss_sum", double: state.epochLossSum)
        try training.setAttribute("epoch_correct", int64: Int64(state.epochCorrect))
        try training.setAttribute("epoch_seen", int64: Int64(state.epochSeen))
        try training.writeInt64s("epoch_order", state.epochOrder.map(Int64.init), shape: [state.epochOrder.count])
        if let plan = state.plan { try writePlan(plan, into: try training.createGroup("plan")) }
        for (name, monitor) in [("early_stopping", state.earlyStopping), ("keep_best", state.keepBest)] {
            guard let monitor else { continue }
            let group = try training.createGroup(name)
            try group.setAttribute("best", double: monitor.best)
            try group.setAttribute("best_epoch", int64: Int64(monitor.bestEpoch))
            try group.setAttribute("wait", int64: Int64(monitor.wait))
            try group.setAttribute("stopped_epoch", int64: Int64(monitor.stoppedEpoch))
        }
        if !state.eventFiles.isEmpty {
            let group = try training.createGroup("tensorboard")
            try group.setAttribute("files", strings: state.eventFiles.map(\.path))
            try group.writeInt64s("lengths", state.eventFiles.map { Int64($0.length) }, shape: [state.eventFiles.count])
        }

        let dataset = try lrt.createGroup("dataset")
        try dataset.setAttribute("root", string: state.dataRoot)
        try dataset.setAttribute("class_names", strings: state.classNames)
        try dataset.setAttribute("validation_source", string: state.validationSource)
        try dataset.setAttribute("validation_fraction", double: state.validationFraction)
        try dataset.setAttribute("validation_count", int64: Int64(state.validationCount))
        try dataset.setAttribute("validation_digest", string: state.validationDigest)
        try dataset.setAttribute("color_mode", string: state.colorMode)
        try dataset.setAttribute("resize_mode", string: state.resizeMode)
        try dataset.setAttribute("on_bad_image", string: state.skipBadImages ? "skip" : "error")
        try dataset.setAttribute("augment", string: state.augmentation)
        if !state.skippedImages.isEmpty {  // missing means none
            try dataset.setAttribute("skipped_images", strings: state.skippedImages)
        }
        try dataset.setAttribute("training_count", int64: Int64(state.trainingCount))
        if !state.normalization.isEmpty {  // missing means inputs in [0, 1]
            try dataset.setAttribute("normalize", string: state.normalization)
            try dataset.writeFloats("normalization_mean", state.normalizationMean, shape: [state.normalizationMean.count])
            try dataset.writeFloats("normalization_std", state.normalizationStandardDeviation,
                                    shape: [state.normalizationStandardDeviation.count])
        }
        if !state.classWeights.isEmpty {  // missing means every class weighs 1
            try dataset.setAttribute("class_weight", string: state.classWeightSource)
            try dataset.writeFloats("class_weights", state.classWeights, shape: [state.classWeights.count])
        }
        if !state.cachePath.isEmpty {
            try dataset.setAttribute("cache", string: state.cachePath)
            try dataset.setAttribute("streamed", int64: state.streamed ? 1 : 0)
        }
        if let test = state.test {
            try dataset.setAttribute("test_loss", double: test.loss)
            try dataset.setAttribute("test_accuracy", double: test.accuracy)
            try dataset.setAttribute("test_count", int64: Int64(test.count))
        }

        let history = try lrt.createGroup("history")
        try history.setAttribute("metric_names", strings: state.history.names)
        for name in state.history.names {
            let values = state.history.columns[name] ?? []
            try history.writeFloats(name, values.map(Float.init), shape: [values.count])
        }

        let telemetry = state.telemetry
        guard !telemetry.names.isEmpty else { return }
        let group = try history.createGroup("telemetry")
        try group.setAttribute("names", strings: telemetry.names)
        try group.writeInt64s("steps", telemetry.steps.map(Int64.init), shape: [telemetry.steps.count])
        let shape = [telemetry.steps.count, telemetry.names.count]  // [records, rate groups]
        for (name, table) in [("gradient_norms", telemetry.gradientNorms), ("weight_norms", telemetry.weightNorms),
                              ("update_norms", telemetry.updateNorms), ("multipliers", telemetry.multipliers)] {
            try group.writeFloats(name, table.flatMap { $0.map(Float.init) }, shape: shape)
        }
        try group.writeFloats("losses", telemetry.losses.map(Float.init), shape: [telemetry.steps.count])
        try group.writeFloats("learning_rates", telemetry.learningRates.map(Float.init), shape: [telemetry.steps.count])
    }

    /// `lrt/training/plan`: one attribute per setting (`epochs`, `log_every`, `log`, `tensorboard`, `monitor`,
    /// `patience`, `min_delta`, `keep_best`, `save_every`, `sync_batch_norm`).
    private static func writePlan(_ plan: RunPlan, into group: HDF5Group) throws {
        try group.setAttribute("epochs", int64: Int64(plan.epochs))
        try group.setAttribute("log_every", int64: Int64(plan.logEvery))
        try group.setAttribute("log", string: plan.logPath)
        try group.setAttribute("tensorboard", string: plan.tensorBoardPath)
        try group.setAttribute("monitor", string: plan.monitor)
        try group.setAttribute("patience", int64: Int64(plan.patience))
        try group.setAttribute("min_delta", double: plan.minimumDelta)
        try group.setAttribute("keep_best", string: plan.keepBestPath)
        try group.setAttribute("save_every", int64: Int64(plan.saveEvery))
        try group.setAttribute("sync_batch_norm", int64: plan.synchronizeBatchNormalization ? 1 : 0)
    }
}

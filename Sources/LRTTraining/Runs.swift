import Foundation
import LRTData
import LRTFormat
import LRTLayers
import LRTOptimizers
import LRTTensor

/// Everything a new training run needs; the command line builds one of these.
public struct TrainingConfiguration: Sendable {
    /// A folder of class folders, or with `train/` (and optionally `val/` or `validation/`, and `test/`) holding them.
    public var dataRoot: String
    /// The data a run reads: split, colour mode, resizing.
    public var data = DataOptions()
    /// The Keras model config (JSON text).
    public var modelConfig: String
    public var epochs = 20
    public var batchSize = 32
    /// The optimizer, Keras-style (``LRTOptimizers/Optimizer/make(config:)``); default:
    /// SGD with momentum 0.9, learning rate 0.01 and the paper's layer-wise rates.
    public var optimizerConfig = TrainingConfiguration.defaultOptimizer
    public var seed: UInt64 = 0
    /// Where the checkpoint goes.
    public var outputPath = "lrt-checkpoint.h5"
    public static let defaultOptimizer: JSONValue = .object([
        ("class_name", .string("SGD")),
        ("config", .object([("learning_rate", .number(0.01)), ("momentum", .number(0.9))])),
    ])

    public init(dataRoot: String, modelConfig: String) {
        self.dataRoot = dataRoot
        self.modelConfig = modelConfig
    }

    /// Checks every value before any work, naming the bad one.
    public func validate() throws {
        guard epochs >= 1 else { throw TrainingError("invalid epochs \(epochs): train for at least 1 epoch") }
        guard batchSize >= 1, batchSize <= 1 << 20 else { throw TrainingError("invalid batch size \(batchSize): use a value from 1 to 1048576, e.g. 32") }
        _ = try makeOptimizer()
    }

    func makeOptimizer() throws -> Optimizer {
        do { return try Optimizer.make(config: optimizerConfig) } catch {
            throw TrainingError("\(error)")
        }
    }
}

/// How a run reads its data.
public struct DataOptions: Sendable {
    /// The fraction of each class held out for validation when the dataset has no `val/` folder (0: none).
    public var validationSplit = 0.1
    /// The channels to read images as (default: the model's input channels).
    public var colorMode: ColorMode?
    /// How images of another size than the model's input are handled.
    public var resizeMode = ResizeMode.stretch
    /// Leave out images that cannot be read (warning once, and recording them in the checkpoint) instead of
    /// stopping before training with the first one (`--on-bad-image skip`).
    public var skipBadImages = false
    /// Random changes to each training image (`--augment flip,crop,…`); nil: none.
    public var augmentation: Augmentation?
    public init() {}
}

/// What a finished (or stopped) run reports.
public struct RunSummary: Sendable {
    public var checkpointPath: String
    public var epochs: Int
    public var history: MetricsHistory
    /// The last validation accuracy, when an epoch finished and there is a validation split.
    public var validationAccuracy: Double? { history.columns["val_accuracy"]?.last }
    /// The test split's metrics, evaluated once after the last epoch (nil: no test split, or stopped early).
    public var test: TrainingState.TestMetrics?
    /// The test accuracy, when there is one.
    public var testAccuracy: Double? { test?.accuracy }
    public var stoppedEarly: Bool
}

/// The runs behind `lrt train`, `lrt resume`, `lrt finetune` and `lrt eval`.
public enum Runs {
    /// Options shared by runs that train.
    public struct Hooks {
        /// Receives progress lines (default: standard error).
        public var progress: ((String) -> Void)?
        /// Polled after every batch; returning true saves and stops (Ctrl-C).
        public var shouldStop: () -> Bool = { false }
        /// Record per-layer telemetry (gradient, weight and update norms, rate multiplier)
        /// every this many steps, into the checkpoint and the metrics log (0: never).
        public var logEvery = 50
        /// A JSON-lines file that receives every epoch's metrics and telemetry record, or nil.
        public var metricsLogPath: String?
        /// Gzip the weight datasets of the checkpoints written (h5py and Keras read them).
        public var compressWeights = false
        public init() {}
    }

    /// Trains a new model from `configuration` and writes its checkpoint.
    public static func train(_ configuration: TrainingConfiguration, hooks: Hooks = Hooks()) throws -> RunSummary {
        try configuration.validate()
        var generator = SeededGenerator(seed: configuration.seed)
        let model: any Model
        do { model = try ModelConfig.build(text: configuration.modelConfig, generator: &generator) } catch {
            throw TrainingError("\(error)")
        }
        return try start(model: model, generator: generator, configuration: configuration, hooks: hooks)
    }

    /// Trains from the weights in `modelPath` (an lrt checkpoint or Keras `.h5`) with a
    /// fresh training state; the model config comes from the file.
    /// - Parameter keepOptimizer: continue with the file's optimizer and its state (an lrt
    ///   checkpoint's, or the slots Keras saved in `optimizer_weights`) instead of the one
    ///   `configuration` describes.
    public static func finetune(modelPath: String, configuration: TrainingConfiguration, keepOptimizer: Bool = false,
                                hooks: Hooks = Hooks()) throws -> RunSummary {
        try configuration.validate()
        let contents = try Checkpoint.load(from: modelPath)
        contents.warnings.forEach { (hooks.progress ?? printError)("warning: \($0)") }
        var optimizer: Optimizer?
        if keepOptimizer {
            if let saved = contents.optimizer {
                optimizer = saved
            } else if let keras = contents.kerasOptimizer {
                optimizer = try keras.makeOptimizer(for: contents.model)
            } else {
                throw TrainingError("\(modelPath) holds no optimizer state to keep; leave out --keep-optimizer")
            }
        }
        return try start(model: contents.model, generator: SeededGenerator(seed: configuration.seed),
                         configuration: configuration, optimizer: optimizer, hooks: hooks)
    }

    private static func start(model: any Model, generator: SeededGenerator, configuration: TrainingConfiguration,
                              optimizer: Optimizer? = nil, hooks: Hooks) throws -> RunSummary {
        try Checkpoint.checkWritable(configuration.outputPath)
        var state = TrainingState()
        state.seed = configuration.seed
        state.batchSize = configuration.batchSize
        state.dataRoot = absolutePath(configuration.dataRoot)
        state.generatorState = generator.state
        state.augmentationGeneratorState = TrainingState.streamSeed(configuration.seed, stream: "augmentation_generator_state")
        state.dropoutGeneratorState = TrainingState.streamSeed(configuration.seed, stream: "dropout_generator_state")
        state.colorMode = configuration.data.colorMode?.rawValue ?? ""
        state.resizeMode = configuration.data.resizeMode.rawValue
        state.skipBadImages = configuration.data.skipBadImages
        state.augmentation = configuration.data.augmentation?.description ?? ""
        state.validationSource = ""  // chosen by the layout
        state.validationFraction = configuration.data.validationSplit
        let data = try RunData.load(model: model, state: &state, progress: hooks.progress ?? printError)
        let trainer = Trainer(model: model, optimizer: try optimizer ?? configuration.makeOptimizer(),
                              trainData: data.train, validationData: data.validation, state: state)
        return try run(trainer, test: data.test, epochs: configuration.epochs, outputPath: configuration.outputPath, hooks: hooks)
    }

    /// Continues the run saved in `checkpointPath` until `epochs` epochs in total.
    /// - Parameters:
    ///   - epochs: the total to reach (default: one more epoch, or the end of an interrupted one).
    ///   - outputPath: where to save (default: back into `checkpointPath`).
    ///   - dataRoot: another location of the same dataset (default: the one recorded).
    ///   - optimizerConfig: the optimizer to continue with; one that differs from the saved one is
    ///     refused unless `resetOptimizer`, since its state would not fit (default: the saved one).
    ///   - resetOptimizer: start the optimizer afresh (step 0, empty slots), keeping weights and data order.
    public static func resume(checkpointPath: String, epochs: Int?, outputPath: String?, dataRoot: String? = nil,
                              optimizerConfig: JSONValue? = nil, resetOptimizer: Bool = false,
                              hooks: Hooks = Hooks()) throws -> RunSummary {
        let contents = try Checkpoint.load(from: checkpointPath)
        guard let savedOptimizer = contents.optimizer, let saved = contents.training else {
            // A Keras file has weights and, when compiled, optimizer slots but no data or epoch:
            // continue both on `dataRoot`, for `epochs` more epochs (default 1).
            if contents.kerasOptimizer != nil, let dataRoot {
                var configuration = TrainingConfiguration(dataRoot: dataRoot, modelConfig: "")
                configuration.epochs = epochs ?? 1
                configuration.outputPath = outputPath ?? checkpointPath
                return try finetune(modelPath: checkpointPath, configuration: configuration, keepOptimizer: true, hooks: hooks)
            }
            let keras = contents.kerasOptimizer != nil ? "pass --data DIR to continue its weights and Keras optimizer state, or " : ""
            throw TrainingError("\(checkpointPath) holds a model but no training state to resume; \(keras)use `lrt finetune \(checkpointPath) --data DIR` to train from its weights (add --keep-optimizer to keep its optimizer state)")
        }
        let target = epochs ?? saved.epoch + 1
        guard target >= 1 else { throw TrainingError("invalid epochs \(target): use at least 1") }
        guard target > saved.epoch || !saved.epochOrder.isEmpty else {
            throw TrainingError("\(checkpointPath) has already trained \(saved.epoch) epochs; pass --epochs above \(saved.epoch) to train further")
        }
        let optimizer = try resumedOptimizer(saved: savedOptimizer, requested: optimizerConfig, reset: resetOptimizer,
                                             checkpointPath: checkpointPath)
        let output = outputPath ?? checkpointPath
        try Checkpoint.checkWritable(output)
        var state = saved
        state.test = nil  // measured on earlier weights
        if let dataRoot { state.dataRoot = absolutePath(dataRoot) }
        let data = try RunData.load(model: contents.model, state: &state, progress: hooks.progress ?? printError)
        guard state.epochOrder.isEmpty || state.epochOrder.count == data.train.count else {
            throw TrainingError("\(state.dataRoot) has \(data.train.count) training images but the checkpoint's epoch order covers \(state.epochOrder.count); resume with the same dataset")
        }
        let trainer = Trainer(model: contents.model, optimizer: optimizer, trainData: data.train, validationData: data.validation,
                              state: state)
        return try run(trainer, test: data.test, epochs: target, outputPath: output, hooks: hooks)
    }

    private static func resumedOptimizer(saved: Optimizer, requested: JSONValue?, reset: Bool,
                                         checkpointPath: String) throws -> Optimizer {
        let fresh: Optimizer
        do { fresh = try Optimizer.make(config: requested ?? saved.config) } catch { throw TrainingError("\(error)") }
        if reset { return fresh }
        guard fresh.config == saved.config else {
            let savedClass = saved.config["class_name"]?.stringValue ?? "?"
            let freshClass = fresh.config["class_name"]?.stringValue ?? "?"
            let difference: String
            if savedClass != freshClass {
                difference = "\(savedClass), not \(freshClass)"
            } else {
                let savedOptions = saved.config["config"] ?? .null, freshOptions = fresh.config["config"] ?? .null
                let changed = savedOptions.keys.filter { savedOptions[$0] != freshOptions[$0] }.map {
                    "\($0) \(savedOptions[$0]?.serialized ?? "null") → \(freshOptions[$0]?.serialized ?? "null")"
                }
                difference = "\(savedClass) with other settings (\(changed.joined(separator: ", ")))"
            }
            throw TrainingError("\(checkpointPath) was trained with \(difference); its optimizer state does not carry over: pass --reset-optimizer to start the new optimizer afresh")
        }
        return saved
    }

    /// Evaluates the model in `modelPath` on one split of `dataRoot` (default: the dataset recorded in the
    /// checkpoint), read as the checkpoint's run read images.
    /// - Parameters:
    ///   - split: `.test` (default): `DIR/test`, or DIR itself when it holds the class folders; `.validation`: the
    ///     files the run validated on (checked against the recorded digest); `.train`: the training files.
    ///   - batchSize: examples per forward pass (default 1000).
    public static func evaluate(modelPath: String, dataRoot: String?, split: DataSplit = .test,
                                batchSize: Int = 1000) throws -> EvaluationReport {
        let contents = try Checkpoint.load(from: modelPath)
        var state = contents.training ?? TrainingState()
        if let dataRoot { state.dataRoot = absolutePath(dataRoot) }
        guard !state.dataRoot.isEmpty else { throw TrainingError("\(modelPath) records no dataset; pass --data DIR") }
        if contents.training == nil { state.validationSource = "" }
        let data = try RunData.load(model: contents.model, state: &state, classNames: contents.training?.classNames,
                                    split: split, progress: printError)
        guard let chosen = data.evaluated else {
            let hint = split == .test ? "add DIR/test/<class>/ folders, or pass --split validation"
                : "this run kept no validation split; pass --split test or train"
            throw TrainingError("\(state.dataRoot) has no \(split.rawValue) split: \(hint)")
        }
        return EvaluationReport.evaluate(contents.model, on: chosen, batchSize: batchSize)
    }

    private static func run(_ trainer: Trainer, test: (any Dataset)?, epochs: Int, outputPath: String,
                            hooks: Hooks) throws -> RunSummary {
        let saver = CheckpointSaver(path: outputPath, compressWeights: hooks.compressWeights)
        trainer.logEvery = hooks.logEvery
        trainer.callbacks = [StopPoller(shouldStop: hooks.shouldStop),
                             ProgressPrinter(totalEpochs: epochs, write: hooks.progress ?? printError)]
        if let metricsLogPath = hooks.metricsLogPath { trainer.callbacks.append(try MetricsLogger(path: metricsLogPath)) }
        trainer.callbacks.append(saver)
        do {
            try trainer.fit(epochs: epochs)
        } catch let error as TrainingError {
            let kept = saver.savedEpoch.map { "; \(outputPath) holds epoch \($0)" } ?? ""
            throw TrainingError(error.description + kept)
        }
        // The test split, once, after the last epoch: never during training, so nothing is selected on it.
        if let test, !trainer.stopRequested, trainer.state.epoch >= epochs {
            let report = EvaluationReport.evaluate(trainer.model, on: test)
            trainer.recordTest(TrainingState.TestMetrics(loss: report.loss, accuracy: report.accuracy, count: report.count))
            (hooks.progress ?? printError)(String(format: "test  test_loss %.4f  test_accuracy %.4f  (%d images)",
                                                  report.loss, report.accuracy, report.count))
            try saver.save(trainer)
        }
        return RunSummary(checkpointPath: outputPath, epochs: trainer.state.epoch, history: trainer.state.history,
                          test: trainer.state.test, stoppedEarly: trainer.stopRequested)
    }

    static func checkOutputs(of model: any Model, classCount: Int) throws {
        guard model.outputShape == [classCount] else {
            throw TrainingError("the model outputs \(model.outputShape) values per example but the data has \(classCount) classes; make the last Dense layer have \(classCount) units")
        }
    }

    static func absolutePath(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    static func printError(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
}

/// Turns an external stop request (Ctrl-C) into ``Trainer/stopRequested``.
private final class StopPoller: TrainingCallback {
    let shouldStop: () -> Bool
    init(shouldStop: @escaping () -> Bool) { self.shouldStop = shouldStop }
    func onBatchEnd(_ trainer: Trainer) throws {
        if shouldStop() { trainer.stopRequested = true }
    }
}

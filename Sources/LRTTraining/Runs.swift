import Foundation
import LRTData
import LRTDistributed
import LRTFormat
import LRTHDF5
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
    /// The optimizer; default: SGD with momentum 0.9, learning rate 0.01 and the paper's layer-wise rates.
    public var optimizer = TrainingConfiguration.defaultOptimizer {
        didSet { optimizerJSON = nil }
    }
    /// The optimizer as Keras-style JSON (``LRTOptimizers/OptimizerConfiguration/json``); a config
    /// set here is read by ``validate()`` and replaces ``optimizer`` for the run.
    public var optimizerConfig: JSONValue {
        get { optimizerJSON ?? optimizer.json }
        set { optimizerJSON = newValue }
    }
    private var optimizerJSON: JSONValue?
    public var seed: UInt64 = 0
    /// Where the checkpoint goes.
    public var outputPath = "lrt-checkpoint.h5"
    /// Stretch the optimizer's cosine schedule over the run once the data is loaded (`--schedule cosine`
    /// without `--step-size`): its period becomes epochs × steps per epoch, in steps (or ``epochs``
    /// when its unit is epochs). Ignored when the optimizer comes from the file finetuned from.
    public var cosinePeriodSpansRun = false
    /// SGD with momentum 0.9, learning rate 0.01, the paper's layer rates.
    public static let defaultOptimizer = try! OptimizerConfiguration(
        className: .sgd, rule: StochasticGradientDescent(momentum: 0.9), schedule: ConstantSchedule(learningRate: 0.01))

    public init(dataRoot: String, modelConfig: String) {
        self.dataRoot = dataRoot
        self.modelConfig = modelConfig
    }

    /// Checks every value before any work, naming the bad one.
    /// - Throws: ``TrainingError``.
    public func validate() throws {
        try RunSetting.check(epochs: epochs)
        try RunSetting.check(batchSize: batchSize)
        _ = try optimizerConfiguration()
    }

    /// The optimizer of the run: ``optimizer``, or the JSON set as ``optimizerConfig``.
    func optimizerConfiguration() throws -> OptimizerConfiguration {
        guard let optimizerJSON else { return optimizer }
        do { return try OptimizerConfiguration(json: optimizerJSON) } catch let error as OptimizerError {
            throw TrainingError.optimizer(error)
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
    /// Standardize inputs per channel by the training split's mean and standard deviation (`--normalize mean-std`);
    /// false: inputs in [0, 1].
    public var normalize = false
    /// Class weights in the training loss (`--class-weight`); nil: every class weighs 1.
    public var classWeighting: ClassWeighting?
    /// The bytes decoded images may take in memory (`--memory-budget`; default half of the machine's memory).
    public var memoryBudget = MemoryBudget.defaultBytes
    /// An HDF5 file caching the decoded images (`--cache`): built once, reused while the files are unchanged, and
    /// streamed from when the images exceed ``memoryBudget``; nil: decode into memory.
    public var cachePath: String?
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
    /// Whether the run was interrupted (a requested stop, saved mid-epoch).
    public var stoppedEarly: Bool
    /// The epoch early stopping ended the run at, if it did.
    public var earlyStoppedEpoch: Int? = nil
}

/// The runs behind `lrt train`, `lrt resume`, `lrt finetune` and `lrt eval`.
public enum Runs {
    /// Options shared by runs that train: what is shown, logged and saved, and the callbacks.
    ///
    /// The settings that are optional (`nil`: not given) are stored in the checkpoint's plan; a resumed run
    /// takes each one not given from the plan, so a bare `lrt resume` keeps logging to the same files.
    public struct Hooks {
        /// Receives progress lines (default: standard error).
        public var progress: ((String) -> Void)?
        /// How the progress within an epoch is shown (default `.epochs`: a summary line per epoch).
        public var progressStyle = ProgressStyle.epochs
        /// Print nothing but errors (no epoch lines, no test line): `--quiet`.
        public var quiet = false
        /// Polled after every batch; returning true saves and stops (Ctrl-C).
        public var shouldStop: () -> Bool = { false }
        /// Record per-layer telemetry (gradient, weight and update norms, rate multiplier, loss, rate)
        /// every this many steps, into the checkpoint and the logs (0: never; nil: 50, or the plan's).
        public var logEvery: Int?
        /// The log: `.csv` (Keras `CSVLogger` rows, and a `.steps.csv` sibling) or `.jsonl` (JSON lines); nil: none, or the plan's.
        public var logPath: String?
        /// A JSON-lines log (`--metrics-log`): the same as ``logPath``.
        public var metricsLogPath: String? {
            get { logPath }
            set { logPath = newValue }
        }
        /// A folder for TensorBoard event files (`--tensorboard`); nil: none, or the plan's.
        public var tensorBoardPath: String?
        /// `--early-stopping`: epochs without improvement of ``monitor`` before stopping (0: off); nil: the plan's.
        public var earlyStoppingPatience: Int?
        /// The metric early stopping and keep-best watch (`--monitor`; nil: `val_loss`, or the plan's).
        public var monitor: String?
        /// `--min-delta`: the smallest change of the monitored metric that is an improvement (nil: 0, or the plan's).
        public var minimumDelta: Double?
        /// `--keep-best`: a checkpoint file that holds the best model by ``monitor``; nil: none, or the plan's.
        public var keepBestPath: String?
        /// `--save-every`: also save the run mid-epoch every this many steps (0: off; nil: off, or the plan's).
        public var saveEvery: Int?
        /// `--sync-batch-norm`: under MPI, BatchNormalization normalizes by the global batch's statistics (nil: off,
        /// or the plan's); nothing changes on one process.
        public var synchronizeBatchNormalization: Bool?
        /// Gzip the weight datasets of the checkpoints written (h5py and Keras read them).
        public var compressWeights = false
        /// Replace an existing output file that is not an lrt or Keras checkpoint (`--overwrite`).
        public var overwrite = false
        /// Files the command read besides the data (the model config), which the output may never be.
        public var inputFiles: [String] = []
        /// The library user's callbacks, called after the built-in ones (progress, telemetry, logs, early
        /// stopping, keep-best) and before the checkpoint saver, which comes last so that it saves what they did.
        public var callbacks: [TrainingCallback] = []
        /// The ranks of an MPI run (default: this process alone). Every rank runs the same command;
        /// rank 0 alone prints progress, writes the logs and the checkpoints.
        public var communicator: any Communicator = SingleProcessCommunicator()
        /// Under MPI: seconds a collective may wait for the other ranks before the job is stopped with a
        /// message naming this rank and the step (0: forever).
        public var collectiveTimeout = 600.0
        public init() {}

        /// The plan of a run to `epochs` epochs: `saved` (a resumed run's) with the settings given here replacing its own.
        func plan(epochs: Int, over saved: RunPlan?) -> RunPlan {
            var plan = saved ?? RunPlan(epochs: epochs)
            plan.epochs = epochs
            if let logEvery { plan.logEvery = logEvery }
            if let logPath { plan.logPath = logPath.isEmpty ? "" : Runs.absolutePath(logPath) }
            if let tensorBoardPath { plan.tensorBoardPath = tensorBoardPath.isEmpty ? "" : Runs.absolutePath(tensorBoardPath) }
            if let earlyStoppingPatience { plan.patience = earlyStoppingPatience }
            if let monitor { plan.monitor = monitor }
            if let minimumDelta { plan.minimumDelta = minimumDelta }
            if let keepBestPath { plan.keepBestPath = keepBestPath.isEmpty ? "" : Runs.absolutePath(keepBestPath) }
            if let saveEvery { plan.saveEvery = saveEvery }
            if let synchronizeBatchNormalization { plan.synchronizeBatchNormalization = synchronizeBatchNormalization }
            return plan
        }

        /// Where progress lines go: ``progress``, standard error, or nowhere when ``quiet``.
        /// Nowhere on ranks other than 0.
        var progressSink: (String) -> Void { quiet || communicator.rank != 0 ? { _ in } : progress ?? Runs.printError }
    }

    /// Trains a new model from `configuration` and writes its checkpoint.
    public static func train(_ configuration: TrainingConfiguration, hooks: Hooks = Hooks()) throws -> RunSummary {
        try configuration.validate()
        var generator = SeededGenerator(seed: configuration.seed)
        let model: any Model
        do {
            model = try ModelConfig.build(text: configuration.modelConfig, generator: &generator,
                                          weightLimit: ResourceEstimate.weightLimit(.current()))
        } catch let error as ModelConfigError {
            throw TrainingError.model(error)
        }
        return try start(model: model, generator: generator, configuration: configuration, hooks: hooks)
    }

    /// How `lrt finetune` changes the model before training it.
    public struct FinetuneOptions: Sendable {
        /// Replace the model's head (its last layer with parameters, a Dense) by a freshly initialized one
        /// with one unit per class of the data (`--new-head`), drawn from the run's seed.
        public var newHead = false
        /// Globs over layer names (`conv*`) whose layers are frozen (`--freeze`), besides those the file's
        /// config already marks `"trainable": false`; each must match a layer.
        public var freeze: [String] = []
        public init(newHead: Bool = false, freeze: [String] = []) {
            self.newHead = newHead
            self.freeze = freeze
        }
    }

    /// Trains from the weights in `modelPath` (an lrt checkpoint or Keras `.h5`) with a
    /// fresh training state; the model config comes from the file.
    /// - Parameters:
    ///   - keepOptimizer: continue with the file's optimizer and its state (an lrt
    ///     checkpoint's, or the slots Keras saved in `optimizer_weights`) instead of the one
    ///     `configuration` describes.
    ///   - options: a new head and frozen layers (default: none); frozen layers are saved as
    ///     `"trainable": false` in the checkpoint's model config.
    public static func finetune(modelPath: String, configuration: TrainingConfiguration, keepOptimizer: Bool = false,
                                options: FinetuneOptions = FinetuneOptions(), hooks: Hooks = Hooks()) throws -> RunSummary {
        var hooks = hooks
        hooks.inputFiles.append(modelPath)  // never overwrite the model trained from
        return try continueFromFile(modelPath: modelPath, configuration: configuration, keepOptimizer: keepOptimizer,
                                    options: options, hooks: hooks)
    }

    /// ``finetune(modelPath:configuration:keepOptimizer:options:hooks:)`` without protecting `modelPath`:
    /// `lrt resume` of a Keras file writes back into it by default.
    private static func continueFromFile(modelPath: String, configuration: TrainingConfiguration,
                                         keepOptimizer: Bool, options: FinetuneOptions = FinetuneOptions(),
                                         hooks: Hooks) throws -> RunSummary {
        try configuration.validate()
        let contents = try Checkpoint.load(from: modelPath)
        contents.warnings.forEach { hooks.progressSink("warning: \($0)") }
        if keepOptimizer, options.newHead || !options.freeze.isEmpty {
            throw TrainingError.cannotContinue(path: modelPath, problem: "--keep-optimizer keeps the optimizer state of \(modelPath)'s layers as they were trained, which does not fit \(options.newHead ? "a new head" : "newly frozen layers"); leave out --keep-optimizer")
        }
        let model = try prepareForFinetuning(contents.model, modelPath: modelPath, configuration: configuration,
                                             options: options, progress: hooks.progressSink)
        var optimizer: Optimizer?
        if keepOptimizer {
            if let saved = contents.optimizer {
                optimizer = saved
            } else if let keras = contents.kerasOptimizer {
                optimizer = try keras.makeOptimizer(for: model)
            } else {
                throw TrainingError.cannotContinue(path: modelPath, problem: "\(modelPath) holds no optimizer state to keep; leave out --keep-optimizer")
            }
        }
        return try start(model: model, generator: SeededGenerator(seed: configuration.seed),
                         configuration: configuration, optimizer: optimizer, hooks: hooks)
    }

    /// `model` with a new head and frozen layers as `options` ask, checked against the data's class count.
    private static func prepareForFinetuning(_ loaded: any Model, modelPath: String, configuration: TrainingConfiguration,
                                             options: FinetuneOptions, progress: (String) -> Void) throws -> any Model {
        var model = loaded
        // The patterns first: a mistake in them is reported before anything else is done.
        var frozen = Set<String>()
        do {
            frozen = try Finetuning.layers(of: loaded, matching: options.freeze) { PathPattern($0).matches($1) }
        } catch let error as ModelConfigError {
            throw TrainingError.mismatch(error.description)
        }
        if options.newHead {
            let layout = try DatasetLayout.resolve(absolutePath(configuration.dataRoot))
            let classCount = try ImageListing.list(root: layout.train, skipBadImages: configuration.data.skipBadImages).classNames.count
            let old = Finetuning.head(of: model)
            var generator = SeededGenerator(seed: TrainingState.streamSeed(configuration.seed, stream: "new_head"))
            do { model = try Finetuning.replacingHead(of: model, units: classCount, generator: &generator) } catch let error as ModelConfigError {
                throw TrainingError.cannotContinue(path: modelPath, problem: "--new-head: \(error)")
            }
            progress("new head: \(old?.className ?? "layer") '\(old?.name ?? "")' with \(classCount) units (was \(old?.outputShape.last ?? 0)), initialized afresh")
        }
        model.frozenLayers.formUnion(frozen)  // the same layer names after a new head
        if !model.frozenLayers.isEmpty {
            let frozen = model.layers.map(\.name).filter(model.frozenLayers.contains)
            guard !model.parameterGroups.isEmpty else {
                throw TrainingError.cannotContinue(path: modelPath, problem: "every layer with parameters is frozen (\(frozen.joined(separator: ", "))), so nothing would train; freeze fewer layers")
            }
            progress("frozen: \(frozen.joined(separator: ", ")); training \(model.parameterGroups.map(\.layerName).joined(separator: ", "))")
        }
        return model
    }

    private static func start(model: any Model, generator: SeededGenerator, configuration: TrainingConfiguration,
                              optimizer: Optimizer? = nil, hooks: Hooks) throws -> RunSummary {
        let keepsOptimizer = optimizer != nil
        let root = absolutePath(configuration.dataRoot)
        // Rank 0 alone writes the output, so it alone reserves it.
        let lock = hooks.communicator.rank == 0
            ? try Checkpoint.reserve(configuration.outputPath, overwrite: hooks.overwrite, inputs: hooks.inputFiles,
                                     inputFolders: dataFolders(root)) : nil
        defer { lock?.release() }
        let optimizer = try optimizer ?? Optimizer(configuration: configuration.optimizerConfiguration())
        try ResourceEstimate(model: model, batchSize: configuration.batchSize, optimizerSlots: optimizer.rule.slotNames.count,
                             // With a cache, images in memory are bounded by --memory-budget instead.
                             imageCount: configuration.data.cachePath == nil ? ResourceEstimate.countImages(under: root) : 0)
            .check(against: .current(), batchSize: configuration.batchSize)
        var state = TrainingState()
        state.seed = configuration.seed
        state.batchSize = configuration.batchSize
        state.dataRoot = root
        state.generatorState = generator.state
        state.augmentationGeneratorState = TrainingState.streamSeed(configuration.seed, stream: "augmentation_generator_state")
        state.dropoutGeneratorState = TrainingState.streamSeed(configuration.seed, stream: "dropout_generator_state")
        state.colorMode = configuration.data.colorMode?.rawValue ?? ""
        state.resizeMode = configuration.data.resizeMode.rawValue
        state.skipBadImages = configuration.data.skipBadImages
        state.augmentation = configuration.data.augmentation?.description ?? ""
        state.validationSource = ""  // chosen by the layout
        state.validationFraction = configuration.data.validationSplit
        state.normalization = configuration.data.normalize ? "mean-std" : ""
        state.cachePath = configuration.data.cachePath.map(absolutePath) ?? ""
        state.plan = hooks.plan(epochs: configuration.epochs, over: nil)
        try checkPlan(state.plan!, outputPath: configuration.outputPath, hooks: hooks, inputFolders: dataFolders(root))
        let data = try RunData.load(model: model, state: &state, classWeighting: configuration.data.classWeighting,
                                    memoryBudget: configuration.data.memoryBudget, progress: hooks.progressSink)
        var trained = optimizer
        if configuration.cosinePeriodSpansRun, !keepsOptimizer {
            let stepsPerEpoch = (data.train.count + configuration.batchSize - 1) / configuration.batchSize
            do {
                let schedule = try scheduleSpanning(optimizer.configuration.schedule, epochs: configuration.epochs,
                                                    steps: max(1, configuration.epochs * stepsPerEpoch))
                trained = Optimizer(configuration: optimizer.configuration.replacingSchedule(schedule))
            } catch let error as OptimizerError {
                throw TrainingError.optimizer(error)
            }
        }
        let trainer = Trainer(model: model, optimizer: trained, trainData: data.train, validationData: data.validation, state: state,
                              communicator: hooks.communicator)
        return try run(trainer, test: data.test, outputPath: configuration.outputPath, hooks: hooks)
    }

    /// `schedule` with its cosine part (inside a warm-up too) spanning the run: `steps` steps, or
    /// `epochs` epochs when its unit is epochs.
    static func scheduleSpanning(_ schedule: any LearningRateSchedule, epochs: Int, steps: Int) throws -> any LearningRateSchedule {
        if let warmup = schedule as? WarmupSchedule {
            return try WarmupSchedule(steps: warmup.steps, startFactor: warmup.startFactor,
                                      schedule: scheduleSpanning(warmup.schedule, epochs: epochs, steps: steps))
        }
        guard let cosine = schedule as? CosineSchedule else { return schedule }
        return try CosineSchedule(learningRate: cosine.learningRate, minimumLearningRate: cosine.minimumLearningRate,
                                  period: cosine.unit == .epoch ? epochs : steps, unit: cosine.unit)
    }

    /// Continues the run saved in `checkpointPath` until `epochs` epochs in total.
    /// - Parameters:
    ///   - epochs: the total to reach (default: one more epoch, or the end of an interrupted one).
    ///   - outputPath: where to save (default: back into `checkpointPath`).
    ///   - dataRoot: another location of the same dataset (default: the one recorded).
    ///   - optimizerConfig: the optimizer to continue with, as Keras-style JSON (default: the saved one).
    ///   - optimizer: the optimizer to continue with, from the saved one's configuration (nil: the
    ///     saved one); used when `optimizerConfig` is nil. One that differs from the saved one in
    ///     more than its schedule is refused unless `resetOptimizer`, since its state would not fit;
    ///   one with another schedule (another learning rate) keeps the slots and steps.
    ///   - resetOptimizer: start the optimizer afresh (step 0, empty slots), keeping weights and data order.
    ///   - memoryBudget: the bytes decoded images may take in memory (`--memory-budget`; default: half of the machine's
    ///     memory). The training images stay streamed or in memory as the run started (its order depends on it); the
    ///     validation and test images are streamed from the cache when they need more.
    ///   - cachePath: the image cache to read instead of the recorded one (`--cache`; nil: the recorded one, if any),
    ///     built when missing; recorded in the checkpoint.
    public static func resume(checkpointPath: String, epochs: Int?, outputPath: String?, dataRoot: String? = nil,
                              optimizerConfig: JSONValue? = nil,
                              optimizer: ((OptimizerConfiguration) throws -> OptimizerConfiguration?)? = nil,
                              resetOptimizer: Bool = false, memoryBudget: Int = MemoryBudget.defaultBytes,
                              cachePath: String? = nil, hooks: Hooks = Hooks()) throws -> RunSummary {
        let contents = try Checkpoint.load(from: checkpointPath)
        guard let savedOptimizer = contents.optimizer, let saved = contents.training else {
            // A Keras file has weights and, when compiled, optimizer slots but no data or epoch:
            // continue both on `dataRoot`, for `epochs` more epochs (default 1).
            if contents.kerasOptimizer != nil, let dataRoot {
                var configuration = TrainingConfiguration(dataRoot: dataRoot, modelConfig: "")
                configuration.epochs = epochs ?? 1
                configuration.outputPath = outputPath ?? checkpointPath
                configuration.data.memoryBudget = memoryBudget
                configuration.data.cachePath = cachePath
                return try continueFromFile(modelPath: checkpointPath, configuration: configuration, keepOptimizer: true,
                                            hooks: hooks)
            }
            let keras = contents.kerasOptimizer != nil ? "pass --data DIR to continue its weights and Keras optimizer state, or " : ""
            throw TrainingError.cannotContinue(path: checkpointPath, problem: "\(checkpointPath) holds a model but no training state to resume; \(keras)use `lrt finetune \(checkpointPath) --data DIR` to train from its weights (add --keep-optimizer to keep its optimizer state)")
        }
        // The planned epoch count; past the plan (or without one, in older files): one more epoch, or the end
        // of an interrupted one.
        let target = epochs ?? saved.plan.flatMap { $0.epochs > saved.epoch ? $0.epochs : nil } ?? saved.epoch + 1
        try RunSetting.check(epochs: target)
        if epochs == nil, let stopped = saved.earlyStopping, stopped.stoppedEpoch > 0 {
            throw TrainingError.cannotContinue(path: checkpointPath, problem: "\(checkpointPath) stopped early at epoch \(stopped.stoppedEpoch) (\(saved.plan?.monitor ?? "the monitored metric") did not improve); pass --epochs above \(saved.epoch) to train further")
        }
        guard target > saved.epoch || !saved.epochOrder.isEmpty else {
            let planned = saved.plan.map { " of the \($0.epochs) planned" } ?? ""
            throw TrainingError.cannotContinue(path: checkpointPath, problem: "\(checkpointPath) has already trained \(saved.epoch)\(planned) epochs; pass --epochs above \(saved.epoch) to train further")
        }
        let requested: OptimizerConfiguration?
        do {
            requested = try optimizerConfig.map(OptimizerConfiguration.init(json:)) ?? optimizer?(savedOptimizer.configuration)
        } catch let error as OptimizerError {
            throw TrainingError.optimizer(error)
        }
        let resumed = try resumedOptimizer(saved: savedOptimizer, requested: requested, reset: resetOptimizer,
                                           checkpointPath: checkpointPath)
        if !resetOptimizer, let change = scheduleChange(from: savedOptimizer, to: resumed) { hooks.progressSink(change) }
        let output = outputPath ?? checkpointPath
        var state = saved
        state.test = nil  // measured on earlier weights
        state.plan = hooks.plan(epochs: target, over: saved.plan)
        if var stopped = state.earlyStopping, stopped.stoppedEpoch > 0 {  // --epochs past an early stop: count afresh
            stopped.stoppedEpoch = 0
            stopped.wait = 0
            state.earlyStopping = stopped
        }
        if let dataRoot { state.dataRoot = absolutePath(dataRoot) }
        if let cachePath { state.cachePath = absolutePath(cachePath) }
        let lock = hooks.communicator.rank == 0
            ? try Checkpoint.reserve(output, overwrite: hooks.overwrite, inputs: hooks.inputFiles,
                                     inputFolders: dataFolders(state.dataRoot)) : nil
        defer { lock?.release() }
        try checkPlan(state.plan!, outputPath: output, hooks: hooks, inputFolders: dataFolders(state.dataRoot))
        try ResourceEstimate(model: contents.model, batchSize: state.batchSize, optimizerSlots: resumed.rule.slotNames.count,
                             imageCount: state.cachePath.isEmpty ? ResourceEstimate.countImages(under: state.dataRoot) : 0)
            .check(against: .current(), batchSize: state.batchSize)
        let data = try RunData.load(model: contents.model, state: &state, memoryBudget: memoryBudget, progress: hooks.progressSink)
        guard state.epochOrder.isEmpty || state.epochOrder.count == data.train.count else {
            throw TrainingError.data(path: state.dataRoot, problem: "\(state.dataRoot) has \(data.train.count) training images but the checkpoint's epoch order covers \(state.epochOrder.count); resume with the same dataset")
        }
        let trainer = Trainer(model: contents.model, optimizer: resumed, trainData: data.train, validationData: data.validation,
                              state: state, communicator: hooks.communicator)
        return try run(trainer, test: data.test, outputPath: output, hooks: hooks)
    }

    /// `learning rate 0.01 → 0.001; optimizer state kept` when a resumed optimizer keeps its slots under another schedule.
    private static func scheduleChange(from saved: Optimizer, to resumed: Optimizer) -> String? {
        let before = saved.configuration.schedule, after = resumed.configuration.schedule
        guard before.config != after.config else { return nil }
        if let old = before as? ConstantSchedule, let new = after as? ConstantSchedule {
            return "learning rate \(old.learningRate) → \(new.learningRate); optimizer state kept"
        }
        return "learning-rate schedule \(before.config.serialized) → \(after.config.serialized); optimizer state kept"
    }

    /// Checks the plan's settings and files before any work: the keep-best file may be written (an lrt or Keras
    /// checkpoint or new, not the output, not an input), the log's extension is known.
    private static func checkPlan(_ plan: RunPlan, outputPath: String, hooks: Hooks, inputFolders: [String]) throws {
        guard plan.logEvery >= 0 else { throw TrainingError.invalidSetting(.logEvery, value: String(plan.logEvery), hint: "use 0 (off) or a positive number of steps") }
        guard plan.saveEvery >= 0 else { throw TrainingError.invalidSetting(.saveEvery, value: String(plan.saveEvery), hint: "use 0 (off) or a positive number of steps") }
        guard plan.patience >= 0 else { throw TrainingError.invalidSetting(.earlyStopping, value: String(plan.patience), hint: "use a patience of at least 1 epoch (0: off)") }
        guard plan.minimumDelta.isFinite, plan.minimumDelta >= 0 else { throw TrainingError.invalidSetting(.minimumDelta, value: String(plan.minimumDelta), hint: "use a value ≥ 0, e.g. 0.001") }
        if plan.patience > 0 || !plan.keepBestPath.isEmpty { _ = try MonitoredMetric(plan.monitor) }
        if let monitor = hooks.monitor, plan.patience == 0, plan.keepBestPath.isEmpty {
            throw TrainingError.invalidSetting(.monitor, value: monitor, hint: "it is the metric of --early-stopping and --keep-best; add one of them")
        }
        if let delta = hooks.minimumDelta, plan.patience == 0 {
            throw TrainingError.invalidSetting(.minimumDelta, value: String(delta), hint: "it applies to --early-stopping; add --early-stopping N")
        }
        if !plan.logPath.isEmpty {
            let pathExtension = URL(fileURLWithPath: plan.logPath).pathExtension.lowercased()
            guard pathExtension == "csv" || pathExtension == "jsonl" else {
                throw TrainingError.invalidSetting(.log, value: plan.logPath, hint: "name a .csv file (Keras CSVLogger rows) or a .jsonl file (JSON lines)")
            }
        }
        if !plan.keepBestPath.isEmpty {
            guard !SafeFile.sameFile(plan.keepBestPath, outputPath), absolutePath(plan.keepBestPath) != absolutePath(outputPath) else {
                throw TrainingError.invalidSetting(.keepBest, value: plan.keepBestPath, hint: "name another file than the checkpoint --out writes")
            }
            do {
                try Checkpoint.checkWritable(plan.keepBestPath, overwrite: false, inputs: hooks.inputFiles, inputFolders: inputFolders)
            } catch let error as CheckpointError {
                throw TrainingError.cannotWrite(path: plan.keepBestPath, problem: "--keep-best: \(error)")
            }
        }
    }

    private static func resumedOptimizer(saved: Optimizer, requested: OptimizerConfiguration?, reset: Bool,
                                         checkpointPath: String) throws -> Optimizer {
        let wanted = requested ?? saved.configuration
        if reset { return Optimizer(configuration: wanted) }
        if wanted == saved.configuration { return saved }
        if wanted.replacingSchedule(saved.configuration.schedule) == saved.configuration {
            return saved.replacingSchedule(wanted.schedule)
        }
        let savedConfig = saved.config, wantedConfig = wanted.json
        let savedClass = saved.className, wantedClass = wanted.className.rawValue
        let difference: String
        if savedClass != wantedClass {
            difference = "\(savedClass), not \(wantedClass)"
        } else {
            let savedOptions = savedConfig["config"] ?? .null, wantedOptions = wantedConfig["config"] ?? .null
            let changed = savedOptions.keys.filter { savedOptions[$0] != wantedOptions[$0] }.map {
                "\($0) \(savedOptions[$0]?.serialized ?? "null") → \(wantedOptions[$0]?.serialized ?? "null")"
            }
            difference = "\(savedClass) with other settings (\(changed.joined(separator: ", ")))"
        }
        throw TrainingError.cannotContinue(path: checkpointPath, problem: "\(checkpointPath) was trained with \(difference); its optimizer state does not carry over: pass --reset-optimizer to start the new optimizer afresh (a new learning rate or schedule alone keeps it)")
    }

    /// Evaluates the model in `modelPath` on one split of `dataRoot` (default: the dataset recorded in the
    /// checkpoint), read as the checkpoint's run read images.
    /// - Parameters:
    ///   - split: `.test` (default): `DIR/test`, or DIR itself when it holds the class folders; `.validation`: the
    ///     files the run validated on (checked against the recorded digest); `.train`: the training files.
    ///   - batchSize: examples per forward pass (default 1000).
    ///   - options: top-k, kept probabilities (default ``EvaluationOptions``); its batch size is replaced by `batchSize`.
    ///   - communicator: the ranks of an MPI run (default: this process alone), each of which evaluates a shard of the
    ///     split; every rank returns the whole report, and only rank 0 prints the loading messages.
    public static func evaluate(modelPath: String, dataRoot: String?, split: DataSplit = .test,
                                batchSize: Int = 1000, options: EvaluationOptions = EvaluationOptions(),
                                communicator: any Communicator = SingleProcessCommunicator()) throws -> EvaluationReport {
        let contents = try Checkpoint.load(from: modelPath)
        var state = contents.training ?? TrainingState()
        if let dataRoot { state.dataRoot = absolutePath(dataRoot) }
        guard !state.dataRoot.isEmpty else {
            throw TrainingError.cannotContinue(path: modelPath, problem: "\(modelPath) records no dataset; pass --data DIR")
        }
        if contents.training == nil { state.validationSource = "" }
        let rank = communicator.rank
        let progress: (String) -> Void = { line in if rank == 0 { printError(line) } }
        let data = try RunData.load(model: contents.model, state: &state, classNames: contents.training?.classNames,
                                    split: split, progress: progress)
        guard let chosen = data.evaluated else {
            let hint = split == .test ? "add DIR/test/<class>/ folders, or pass --split validation"
                : "this run kept no validation split; pass --split test or train"
            throw TrainingError.data(path: state.dataRoot, problem: "\(state.dataRoot) has no \(split.rawValue) split: \(hint)")
        }
        var options = options
        options.batchSize = batchSize
        communicator.activity = "evaluation of the \(split.rawValue) split"
        return try EvaluationReport.evaluate(contents.model, on: chosen, options: options, communicator: communicator)
    }

    /// The built-in callbacks of a run with `plan`, in order: stop polling, telemetry, progress, logs,
    /// TensorBoard, early stopping, keep-best (the checkpoint saver comes after ``Hooks/callbacks``). Under MPI,
    /// ranks other than 0 get only those that change no file and print nothing: every rank holds the same weights
    /// and metrics, and early stopping must stop them all after the same epoch.
    public static func builtInCallbacks(plan: RunPlan, hooks: Hooks, compressWeights: Bool = false) throws -> [TrainingCallback] {
        var callbacks: [TrainingCallback] = [StopPoller(shouldStop: hooks.shouldStop)]
        if plan.logEvery > 0 { callbacks.append(TelemetryRecorder(every: plan.logEvery)) }
        if plan.patience > 0 {
            callbacks.append(EarlyStopping(monitor: try MonitoredMetric(plan.monitor), patience: plan.patience,
                                           minimumDelta: plan.minimumDelta, report: hooks.progressSink))
        }
        guard hooks.communicator.rank == 0 else { return callbacks }
        if !hooks.quiet {
            callbacks.append(ProgressPrinter(totalEpochs: plan.epochs, style: hooks.progressStyle, write: hooks.progressSink))
        }
        if !plan.logPath.isEmpty {
            callbacks.append(URL(fileURLWithPath: plan.logPath).pathExtension.lowercased() == "csv"
                ? CSVLogger(path: plan.logPath) : MetricsLogger(path: plan.logPath))
        }
        if !plan.tensorBoardPath.isEmpty { callbacks.append(TensorBoardLogger(directory: plan.tensorBoardPath)) }
        if !plan.keepBestPath.isEmpty {
            callbacks.append(BestCheckpointSaver(path: plan.keepBestPath, monitor: try MonitoredMetric(plan.monitor),
                                                 compressWeights: compressWeights))
        }
        return callbacks
    }

    private static func run(_ trainer: Trainer, test: (any Dataset)?, outputPath: String, hooks: Hooks) throws -> RunSummary {
        let plan = trainer.state.plan ?? hooks.plan(epochs: trainer.state.epoch + 1, over: nil)
        let epochs = plan.epochs
        let saver = CheckpointSaver(path: outputPath, compressWeights: hooks.compressWeights, saveEvery: plan.saveEvery)
        hooks.communicator.collectiveTimeout = hooks.collectiveTimeout
        // Rank 0 alone writes: every rank holds the same weights and metrics.
        let writes = hooks.communicator.rank == 0
        var bestLock: SafeFile.Lock?
        if writes, !plan.keepBestPath.isEmpty {
            do { bestLock = try SafeFile.Lock(plan.keepBestPath, what: "checkpoint") } catch let error as FileError {
                throw TrainingError.cannotWrite(path: plan.keepBestPath, problem: "--keep-best: \(error.description)")
            }
        }
        defer { bestLock?.release() }
        trainer.callbacks = try builtInCallbacks(plan: plan, hooks: hooks, compressWeights: hooks.compressWeights)
            + hooks.callbacks + (writes ? [saver] : [])
        do {
            try trainer.fit(epochs: epochs)
        } catch let error as TrainingError {
            guard let epoch = saver.savedEpoch else { throw error }
            throw TrainingError.stopped(error, checkpoint: outputPath, epoch: epoch)
        }
        // The test split, once, after the last epoch: never during training, so nothing is selected on it.
        if let test, !trainer.stopRequested, trainer.state.epoch >= epochs || trainer.stopTraining {
            let report: (loss: Double, accuracy: Double, count: Int)
            do { report = try trainer.parallel.evaluate(trainer.model, on: test) } catch {
                guard let epoch = saver.savedEpoch else { throw error }
                throw TrainingError.stopped(error, checkpoint: outputPath, epoch: epoch)
            }
            trainer.recordTest(TrainingState.TestMetrics(loss: report.loss, accuracy: report.accuracy, count: report.count))
            hooks.progressSink(String(format: "test  test_loss %.4f  test_accuracy %.4f  (%d images)",
                                      report.loss, report.accuracy, report.count))
            if writes { try saver.save(trainer) }
        }
        return RunSummary(checkpointPath: outputPath, epochs: trainer.state.epoch, history: trainer.state.history,
                          test: trainer.state.test, stoppedEarly: trainer.stopRequested,
                          earlyStoppedEpoch: trainer.state.earlyStopping.flatMap { $0.stoppedEpoch > 0 ? $0.stoppedEpoch : nil })
    }

    static func checkOutputs(of model: any Model, classCount: Int) throws {
        guard model.outputShape == [classCount] else {
            let head = Finetuning.head(of: model).map { " (its head, \($0.className) '\($0.name)')" } ?? ""
            throw TrainingError.mismatch("the model outputs \(model.outputShape) values per example\(head) but the data has \(classCount) classes; finetune with --new-head to replace the head by a new one of \(classCount) units, or make the last Dense layer have \(classCount) units")
        }
    }

    /// The folders whose files are data: an output inside them would be read as an image.
    static func dataFolders(_ root: String) -> [String] { [root + "/train", root + "/test"] }

    static func absolutePath(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    /// Writes one line to standard error (the default progress and warning sink).
    public static func printError(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
}

/// Turns an external stop request (Ctrl-C) into ``Trainer/stopRequested``; under MPI, a request on
/// any rank stops every rank after the same batch (the first callback, so the saver sees it).
private final class StopPoller: TrainingCallback {
    let shouldStop: () -> Bool
    init(shouldStop: @escaping () -> Bool) { self.shouldStop = shouldStop }
    func onBatchEnd(_ trainer: Trainer) throws {
        let requested = shouldStop() || trainer.stopRequested
        do { if try trainer.parallel.communicator.anyRank(requested) { trainer.stopRequested = true } } catch {
            throw TrainingError.communication(error)
        }
    }
}

import LRTTensor

/// Everything about a run's progress that a resumed run needs to continue exactly.
public struct TrainingState: Equatable, Sendable {
    /// Completed epochs.
    public var epoch = 0
    /// Updates applied since the start of training.
    public var globalStep = 0
    /// The seed the run started from.
    public var seed: UInt64 = 0
    /// The data-order stream's state now (``LRTTensor/SeededGenerator/state``): it drew the initial weights, then
    /// draws each epoch's order.
    public var generatorState: UInt64 = 0
    /// The augmentation stream's state now.
    public var augmentationGeneratorState: UInt64 = 0
    /// The dropout stream's state now (the generator the model's `ForwardContext` gets).
    public var dropoutGeneratorState: UInt64 = 0
    /// The current epoch's order of training examples; empty between epochs.
    public var epochOrder: [Int] = []
    /// How many examples of ``epochOrder`` are done.
    public var position = 0
    /// Running sums of the current, unfinished epoch.
    public var epochLossSum = 0.0
    public var epochCorrect = 0
    public var epochSeen = 0
    /// The mini-batch size (global: split over the ranks of an MPI run).
    public var batchSize = 32
    /// The number of MPI ranks of the run that wrote the state (1: single-process); a resume may use
    /// any number, since the global batch and the data order do not depend on it.
    public var ranks = 1
    /// The dataset folder the run trains on: class folders, or `train/` (optionally `val/` or `validation/`, `test/`).
    public var dataRoot = ""
    /// The class names, label order.
    public var classNames: [String] = []
    /// Where the validation examples come from: `val/` or `validation/` (that folder), `split` (a stratified,
    /// seeded ``validationFraction`` of the training folder), `none`, or `test/` (files written before validation
    /// and test were told apart, which validated on the test split; resuming them keeps doing so).
    public var validationSource = "test/"
    /// The fraction of each class split off for validation when ``validationSource`` is `split`.
    public var validationFraction = 0.0
    /// How many validation examples there are, and a digest of their paths relative to ``dataRoot`` (16 hex digits),
    /// so that `resume` and `eval --split validation` can check they read the same files.
    public var validationCount = 0
    public var validationDigest = ""
    /// How images are read (`grayscale`, `rgb`, `rgba`; empty: the model's input channels) and resized
    /// (`stretch`, `crop`, `pad`, `error`; empty: `stretch`).
    public var colorMode = ""
    public var resizeMode = ""
    /// The augmentation applied to training images (`--augment`, e.g. `flip,crop`); empty: none.
    public var augmentation = ""
    /// Whether images that cannot be read are left out (`--on-bad-image skip`) rather than stopping the run.
    public var skipBadImages = false
    /// The image files left out as unreadable, relative to ``dataRoot``, in listing order.
    public var skippedImages: [String] = []
    /// `mean-std` (`--normalize mean-std`: inputs standardized per channel by ``normalizationMean`` and
    /// ``normalizationStandardDeviation``, measured on the training split) or empty (inputs in [0, 1]).
    public var normalization = ""
    public var normalizationMean: [Float] = []
    public var normalizationStandardDeviation: [Float] = []
    /// The weight of each class in the training loss (`--class-weight`), label order; empty: all 1.
    public var classWeights: [Float] = []
    /// How the class weights were chosen: `balanced`, or the JSON file's name; empty: none.
    public var classWeightSource = ""
    /// How many training examples the run has (the training folder less the validation split and skipped images).
    public var trainingCount = 0
    /// The image cache file the run reads its images from (`--cache`); empty: none.
    public var cachePath = ""
    /// Whether the training images are streamed from ``cachePath`` (chunk-shuffled epoch order) rather than held in
    /// memory (uniformly shuffled), so that a resumed run draws its orders the same way.
    public var streamed = false
    /// The test split's metrics, evaluated once when the run finished (nil: no test split, or not finished).
    public var test: TestMetrics?

    /// Loss and accuracy on the test split, kept apart from the per-epoch history.
    public struct TestMetrics: Equatable, Sendable {
        public var loss: Double
        public var accuracy: Double
        public var count: Int
        public init(loss: Double, accuracy: Double, count: Int) { (self.loss, self.accuracy, self.count) = (loss, accuracy, count) }
    }
    /// One row per completed epoch.
    public var history = MetricsHistory()
    /// Per-layer optimizer telemetry, one record every `--log-every` steps.
    public var telemetry = TelemetryHistory()
    /// What the run was asked to do (epochs, logs, callbacks), so that a bare `lrt resume` finishes it;
    /// nil in files written before plans were stored (a resume then trains one more epoch).
    public var plan: RunPlan?
    /// The early-stopping callback's progress (`--early-stopping`); nil when it is off.
    public var earlyStopping: MonitorState?
    /// The keep-best callback's progress (`--keep-best`); nil when it is off.
    public var keepBest: MonitorState?
    /// The TensorBoard event files the run was appending to (`--tensorboard`), with their lengths in bytes when
    /// this state was taken: a resumed run cuts them back to these lengths, so that what a killed run wrote past
    /// its checkpoint (step- and epoch-level events alike) is gone before the resumed run writes it again.
    public var eventFiles: [EventFileExtent] = []

    public init() {}

    /// The starting state of the stream named `stream` (e.g. `dropout_generator_state`) for a run seeded with `seed`:
    /// SplitMix64 of the seed mixed with the name, so that each purpose draws an independent sequence.
    public static func streamSeed(_ seed: UInt64, stream: String) -> UInt64 {
        SeededGenerator.derivedSeed(seed, stream: stream)
    }
}

/// An event file and how many of its bytes a checkpoint covers.
public struct EventFileExtent: Equatable, Sendable {
    /// The file's absolute path.
    public var path: String
    /// Its length in bytes when the checkpoint was taken.
    public var length: Int
    public init(path: String, length: Int) { (self.path, self.length) = (path, length) }
}

/// What a run was asked to do, stored with its checkpoints (`lrt/training/plan`) so that `lrt resume` finishes
/// it with the same logs and callbacks.
public struct RunPlan: Equatable, Sendable {
    /// The epoch count the run trains to.
    public var epochs: Int
    /// Telemetry every this many steps (0: never).
    public var logEvery = 50
    /// The `--log` file (`.csv` or `.jsonl`), absolute; empty: none.
    public var logPath = ""
    /// The `--tensorboard` folder, absolute; empty: none.
    public var tensorBoardPath = ""
    /// The metric the early-stopping and keep-best callbacks watch (`val_loss`, `accuracy`, …).
    public var monitor = "val_loss"
    /// `--early-stopping`: epochs without improvement before stopping (0: off).
    public var patience = 0
    /// `--min-delta`: the smallest change of the monitored metric that counts as an improvement.
    public var minimumDelta = 0.0
    /// The `--keep-best` file, absolute; empty: none.
    public var keepBestPath = ""
    /// `--save-every`: save a mid-epoch checkpoint every this many steps (0: only at epoch ends).
    public var saveEvery = 0
    /// `--sync-batch-norm`: under MPI, BatchNormalization normalizes by the global batch's statistics (false:
    /// each rank's own); nothing changes on one process.
    public var synchronizeBatchNormalization = false

    public init(epochs: Int) { self.epochs = epochs }
}

/// How a callback that watches one metric stands: the best value so far, the epoch (1-based) it came in,
/// and the epochs since (Keras `EarlyStopping`'s `best`, `best_epoch`, `wait`).
public struct MonitorState: Equatable, Sendable {
    /// The best value so far; ±infinity before the first epoch.
    public var best: Double
    /// The epoch (1-based) of ``best``; 0 before the first epoch.
    public var bestEpoch = 0
    /// Epochs without improvement.
    public var wait = 0
    /// The epoch (1-based) training stopped at because of this callback; 0: it did not.
    public var stoppedEpoch = 0

    public init(best: Double, bestEpoch: Int = 0, wait: Int = 0, stoppedEpoch: Int = 0) {
        (self.best, self.bestEpoch, self.wait, self.stoppedEpoch) = (best, bestEpoch, wait, stoppedEpoch)
    }
}

/// Per-layer telemetry records: for each recorded step, each layer's gradient norm,
/// weight norm, update norm and effective rate multiplier (`[records, layers]`).
public struct TelemetryHistory: Equatable, Sendable {
    /// The layer (or parameter, with per-tensor rates) names, the columns.
    public private(set) var names: [String] = []
    /// The global step of each record.
    public private(set) var steps: [Int] = []
    public private(set) var gradientNorms: [[Double]] = []
    public private(set) var weightNorms: [[Double]] = []
    public private(set) var updateNorms: [[Double]] = []
    public private(set) var multipliers: [[Double]] = []
    /// The mini-batch loss of each recorded step (NaN for records of files written before it was kept).
    public private(set) var losses: [Double] = []
    /// The global learning rate of each recorded step (NaN for records of files written before it was kept).
    public private(set) var learningRates: [Double] = []

    public init() {}

    /// Records one step; the first record fixes the column names, and a record with other names starts a new history.
    public mutating func append(step: Int, names: [String], gradientNorms: [Double], weightNorms: [Double],
                                updateNorms: [Double], multipliers: [Double], loss: Double = .nan,
                                learningRate: Double = .nan) {
        if names != self.names { self = TelemetryHistory(); self.names = names }
        steps.append(step)
        self.gradientNorms.append(gradientNorms)
        self.weightNorms.append(weightNorms)
        self.updateNorms.append(updateNorms)
        self.multipliers.append(multipliers)
        losses.append(loss)
        learningRates.append(learningRate)
    }

    /// A history read back from a file; every table must be `[steps.count][names.count]`, and `losses` and
    /// `learningRates` (nil: not in the file, read as NaN) `[steps.count]`.
    public init?(names: [String], steps: [Int], gradientNorms: [[Double]], weightNorms: [[Double]],
                 updateNorms: [[Double]], multipliers: [[Double]], losses: [Double]? = nil, learningRates: [Double]? = nil) {
        let tables = [gradientNorms, weightNorms, updateNorms, multipliers]
        guard tables.allSatisfy({ $0.count == steps.count && $0.allSatisfy { $0.count == names.count } }),
              (losses?.count ?? steps.count) == steps.count, (learningRates?.count ?? steps.count) == steps.count
        else { return nil }
        (self.names, self.steps, self.gradientNorms, self.weightNorms, self.updateNorms, self.multipliers) =
            (names, steps, gradientNorms, weightNorms, updateNorms, multipliers)
        self.losses = losses ?? Array(repeating: .nan, count: steps.count)
        self.learningRates = learningRates ?? Array(repeating: .nan, count: steps.count)
    }

    /// Equal records; the NaN of a loss or rate a file did not keep equals NaN.
    public static func == (left: TelemetryHistory, right: TelemetryHistory) -> Bool {
        func same(_ a: [Double], _ b: [Double]) -> Bool { a.elementsEqual(b) { $0 == $1 || ($0.isNaN && $1.isNaN) } }
        return left.names == right.names && left.steps == right.steps && left.gradientNorms == right.gradientNorms
            && left.weightNorms == right.weightNorms && left.updateNorms == right.updateNorms
            && left.multipliers == right.multipliers && same(left.losses, right.losses)
            && same(left.learningRates, right.learningRates)
    }

    /// The records up to and including `step` (a resumed run's history as its checkpoint had it).
    public func prefix(throughStep step: Int) -> TelemetryHistory {
        let count = steps.firstIndex { $0 > step } ?? steps.count
        var kept = self
        kept.steps = Array(steps.prefix(count))
        kept.gradientNorms = Array(gradientNorms.prefix(count))
        kept.weightNorms = Array(weightNorms.prefix(count))
        kept.updateNorms = Array(updateNorms.prefix(count))
        kept.multipliers = Array(multipliers.prefix(count))
        kept.losses = Array(losses.prefix(count))
        kept.learningRates = Array(learningRates.prefix(count))
        return kept
    }
}

/// Per-epoch metrics, one column per name (`loss`, `accuracy`, `val_loss`, …), as Keras's `History`.
public struct MetricsHistory: Equatable, Sendable {
    /// Column names in order of first appearance.
    public private(set) var names: [String] = []
    /// The values of each column, one per epoch.
    public private(set) var columns: [String: [Double]] = [:]

    public init() {}

    /// The number of recorded epochs.
    public var count: Int { columns[names.first ?? ""]?.count ?? 0 }

    /// Appends one epoch's metrics; every row must name the same metrics.
    public mutating func append(_ row: [(name: String, value: Double)]) {
        let previousCount = count
        for (name, value) in row {
            if columns[name] == nil {
                names.append(name)
                columns[name] = Array(repeating: .nan, count: previousCount)
            }
            columns[name]!.append(value)
        }
    }

    /// A history from columns read back from a file.
    public init(names: [String], columns: [String: [Double]]) {
        self.names = names
        self.columns = columns
    }
}

/// Everything about a run's progress that a resumed run needs to continue exactly.
public struct TrainingState: Equatable, Sendable {
    /// Completed epochs.
    public var epoch = 0
    /// Updates applied since the start of training.
    public var globalStep = 0
    /// The seed the run started from.
    public var seed: UInt64 = 0
    /// The seeded generator's state now (``LRTTensor/SeededGenerator/state``).
    public var generatorState: UInt64 = 0
    /// The current epoch's order of training examples; empty between epochs.
    public var epochOrder: [Int] = []
    /// How many examples of ``epochOrder`` are done.
    public var position = 0
    /// Running sums of the current, unfinished epoch.
    public var epochLossSum = 0.0
    public var epochCorrect = 0
    public var epochSeen = 0
    /// The mini-batch size.
    public var batchSize = 32
    /// The dataset folder (with `train/` and `test/`) the run trains on.
    public var dataRoot = ""
    /// The class names, label order.
    public var classNames: [String] = []
    /// One row per completed epoch.
    public var history = MetricsHistory()

    public init() {}
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

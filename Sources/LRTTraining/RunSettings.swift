/// A run setting that ``TrainingError/invalidSetting(_:value:hint:)`` names; the command line maps each
/// to its flag.
public enum RunSetting: String, Sendable {
    case epochs
    case batchSize = "batch size"
    case augmentation
    case topK = "top-k"
    case logEvery = "log every"
    case saveEvery = "save every"
    case earlyStopping = "early stopping patience"
    case minimumDelta = "minimum delta"
    case monitor = "monitored metric"
    case log = "log file"
    case keepBest = "keep-best file"
    case syncBatchNorm = "synchronized batch normalization"

    /// The batch sizes every command accepts.
    public static let batchSizes = 1...(1 << 20)

    /// - Throws: ``TrainingError/invalidSetting(_:value:hint:)`` for fewer than 1 epoch.
    public static func check(epochs: Int) throws(TrainingError) {
        guard epochs >= 1 else { throw .invalidSetting(.epochs, value: String(epochs), hint: "train for at least 1 epoch") }
    }

    /// - Throws: ``TrainingError/invalidSetting(_:value:hint:)`` outside ``batchSizes``.
    public static func check(batchSize: Int) throws(TrainingError) {
        guard batchSizes.contains(batchSize) else {
            throw .invalidSetting(.batchSize, value: String(batchSize),
                                  hint: "use a value from \(batchSizes.lowerBound) to \(batchSizes.upperBound), e.g. 32")
        }
    }
}

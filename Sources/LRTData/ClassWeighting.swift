/// How much each class counts in the training loss (`--class-weight`), as Keras's `class_weight`: each example's
/// loss and gradient are multiplied by its class's weight (classes not named weigh 1).
public enum ClassWeighting: Equatable, Sendable {
    /// `n_samples / (n_classes · count_c)` over the training split, as scikit-learn's `compute_class_weight("balanced")`.
    case balanced
    /// Weights by class name (a JSON file `{"cat": 2.0, …}`); `source` names the file, for messages and the checkpoint.
    case named([String: Double], source: String)

    /// The weight of each class, label order.
    /// - Parameters:
    ///   - labels: the training split's labels.
    ///   - classNames: the classes, label order.
    /// - Throws: `DataError` `.invalidArgument` naming a class that is not in `classNames` or a weight that is
    ///   negative or not finite.
    public func weights(labels: [Int32], classNames: [String]) throws(DataError) -> [Float] {
        switch self {
        case .balanced:
            var counts = [Int](repeating: 0, count: classNames.count)
            for label in labels { counts[Int(label)] += 1 }
            let present = counts.filter { $0 > 0 }.count
            // A class with no training images never enters the loss; it keeps weight 1.
            return counts.map { $0 > 0 ? Float(Double(labels.count) / (Double(present) * Double($0))) : 1 }
        case .named(let table, let source):
            if let unknown = table.keys.sorted().first(where: { !classNames.contains($0) }) {
                throw DataError(.invalidArgument, path: source, "--class-weight names the class '\(unknown)', which the data does not have",
                                hint: "use the class folder names: \(classNames.joined(separator: ", "))")
            }
            if let bad = table.sorted(by: { $0.key < $1.key }).first(where: { !$0.value.isFinite || $0.value < 0 }) {
                throw DataError(.invalidArgument, path: source, "--class-weight gives class '\(bad.key)' the weight \(bad.value)",
                                hint: "use finite, non-negative weights, e.g. 2.0")
            }
            return classNames.map { Float(table[$0] ?? 1) }
        }
    }

    /// `balanced`, or the file the weights came from.
    public var source: String {
        switch self {
        case .balanced: return "balanced"
        case .named(_, let source): return source
        }
    }
}

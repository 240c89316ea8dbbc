/// The loops of ``BatchNormalization`` over `[rows, features]` values, eight features at a time: the
/// per-feature sums of its statistics and gradients, and its element-wise passes.
///
/// Features are the innermost axis, so a row's eight consecutive features are one vector and the
/// per-feature values (mean, scale, …) are loaded at the same offset; a last group of fewer than eight
/// features is loaded into a vector padded with zeros, and only its own lanes are stored or summed.
enum NormalizationKernels {
    typealias Lane = SIMD8<Float>

    /// Rows whose terms are added up in Float, per feature, before the block's sum is added into the
    /// Double sums: short enough that Float's rounding stays near one part in 10⁶ of the block's sum.
    static let blockRows = 32

    /// Calls `body(index, feature, width)` for each group of `width` (8, or the fewer that are left)
    /// consecutive features of each row in `rows`, `index` being the group's first element.
    @inline(__always)
    static func forEachGroup(rows: Range<Int>, features: Int, _ body: (_ index: Int, _ feature: Int, _ width: Int) -> Void) {
        let whole = features / 8 * 8
        for row in rows {
            let base = row * features
            var feature = 0
            while feature < whole {
                body(base + feature, feature, 8)
                feature += 8
            }
            if whole < features { body(base + whole, whole, features - whole) }
        }
    }

    /// The `width` values at `pointer` in the first lanes, zeros in the rest.
    @inline(__always)
    static func load(_ pointer: UnsafePointer<Float>, width: Int) -> Lane {
        if width == 8 { return UnsafeRawPointer(pointer).loadUnaligned(as: Lane.self) }
        var lane = Lane()
        for index in 0..<width { lane[index] = pointer[index] }
        return lane
    }

    /// Stores the first `width` lanes of `lane` at `pointer`.
    @inline(__always)
    static func store(_ lane: Lane, _ pointer: UnsafeMutablePointer<Float>, width: Int) {
        if width == 8 {
            UnsafeMutableRawPointer(pointer).storeBytes(of: lane, as: Lane.self)
            return
        }
        for index in 0..<width { pointer[index] = lane[index] }
    }

    /// Adds `Σ_row a` into `first[feature]` and `Σ_row b` into `second[feature]` (when given) for every
    /// feature, where `(a, b) = terms(index, feature, width)` gives a group's terms for one row (see
    /// ``forEachGroup(rows:features:_:)``). Each block of ``blockRows`` rows is summed in Float, the
    /// blocks in Double.
    /// - Parameters:
    ///   - first, second: `[features]`.
    @inline(__always)
    static func addSums(rows: Range<Int>, features: Int,
                        into first: UnsafeMutablePointer<Double>, _ second: UnsafeMutablePointer<Double>?,
                        _ terms: (_ index: Int, _ feature: Int, _ width: Int) -> (Lane, Lane)) {
        let groups = (features + 7) / 8
        withUnsafeTemporaryAllocation(of: Lane.self, capacity: 2 * groups) { blockSums in
            let blockSums = blockSums.baseAddress!
            var start = rows.lowerBound
            while start < rows.upperBound {
                let end = min(start + blockRows, rows.upperBound)
                blockSums.initialize(repeating: .zero, count: 2 * groups)
                forEachGroup(rows: start..<end, features: features) { index, feature, width in
                    let (a, b) = terms(index, feature, width)
                    blockSums[feature / 8] += a
                    blockSums[groups + feature / 8] += b
                }
                for feature in 0..<features {
                    first[feature] += Double(blockSums[feature / 8][feature % 8])
                    if let second { second[feature] += Double(blockSums[groups + feature / 8][feature % 8]) }
                }
                start = end
            }
        }
    }
}

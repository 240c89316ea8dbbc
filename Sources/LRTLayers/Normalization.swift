import Foundation
import LRTTensor

private typealias Kernels = NormalizationKernels

/// Adds up per-feature sums over the shards of a global batch, so that a ``BatchNormalization`` in training
/// normalizes every shard by the global batch's mean and variance (synchronized batch normalization, as PyTorch's
/// `SyncBatchNorm`). Under MPI each rank holds one shard; the training target implements it with an allreduce.
///
/// Every shard's layer calls ``sum(_:)`` in the same order with buffers of the same length. The layer assumes
/// the data-parallel convention of the training step: each shard backpropagates the mean loss over its own
/// examples, and the shards' parameter gradients are then averaged weighted by their example counts.
public protocol BatchStatisticsReducer: AnyObject {
    /// Replaces every element by its sum over all shards.
    func sum(_ values: UnsafeMutableBufferPointer<Double>)
}

/// Batch normalization over the last axis (Keras `BatchNormalization`, axis −1;
/// Ioffe & Szegedy 2015).
///
/// Training normalizes each feature (each channel, after a convolution: over
/// batch · height · width) by the batch's mean and biased variance, then scales by
/// `gamma` and shifts by `beta`; it also moves the moving statistics,
/// `moving = moving · momentum + batch · (1 − momentum)` (Keras 3's rule).
/// Inference normalizes by the moving statistics instead.
///
/// Given a ``BatchStatisticsReducer`` (``ForwardContext/batchStatistics``), training normalizes by the statistics
/// of the global batch all shards make up, computed in the same two passes (mean, then the centred squares) as
/// one batch, and backward adds up across shards the two per-feature sums the input gradient needs (Σ dy and
/// Σ dy · x̂); the gradients of `gamma` and `beta` stay the shard's own, for the data-parallel step to average.
/// Over one shard it computes what the layer computes without a reducer.
///
/// `gamma` and `beta` are trainable; `moving_mean` and `moving_variance` are
/// weights that are saved but not trained.
///
/// Frozen (``Freezable``, Keras's `trainable = False`), it runs in inference mode in training too, as
/// Keras does: it normalizes by the moving statistics, leaves them unchanged, and its backward is
/// `dx = dy · γ / √(moving variance + ε)`.
public final class BatchNormalization: Layer, Freezable {
    public let name: String
    public let className = "BatchNormalization"
    /// One example's shape; the last axis holds the features.
    public let inputShape: [Int]
    public let momentum: Float
    public let epsilon: Float
    /// `[features]`, or nil when `scale` is false.
    public let gamma: Parameter?
    /// `[features]`, or nil when `center` is false.
    public let beta: Parameter?
    /// `[features]`, not trainable.
    public let movingMean: Parameter
    /// `[features]`, not trainable.
    public let movingVariance: Parameter
    /// Recorded in the config so that Keras re-creates the layer as it was described.
    public let gammaInitializer: Initializer
    public let betaInitializer: Initializer
    public let movingMeanInitializer: Initializer
    public let movingVarianceInitializer: Initializer

    private var output = Tensor(shape: [0])          // [rows, features]
    private var inputGradient = Tensor(shape: [0])   // [rows, features]
    private let normalized = ScratchBuffer<Float>()  // [rows, features], (x − mean) / √(variance + ε), training only
    private var normalizedRows = 0                   // the rows `normalized` holds, from the last training forward
    private var frozenRows = -1                      // the rows of the last frozen training forward (-1: none since)
    public var frozen = false
    private let statistics = ScratchBuffer<Float>()  // [10, features], see ``FeatureValues``
    private let partialSums = ScratchBuffer<Double>()  // [shards, 2, features]
    private let totals = ScratchBuffer<Double>()     // [2 · features + 1], per-feature sums (added up by `reducer`)
    /// The reducer of the last training forward, which its backward uses too; nil: this batch alone.
    private var reducer: (any BatchStatisticsReducer)?
    private var globalRows = 0                       // the rows of the global batch of the last training forward

    /// - Parameters:
    ///   - name: the Keras layer name.
    ///   - inputShape: one example's shape; features are its last axis.
    ///   - momentum: of the moving statistics (Keras default 0.99).
    ///   - epsilon: added to the variance (Keras default 1e-3).
    ///   - gamma: initial `[features]` scale, or nil for none (`scale: false`).
    ///   - beta: initial `[features]` offset, or nil for none (`center: false`).
    ///   - movingMean, movingVariance: initial `[features]` statistics (Keras: zeros and ones).
    ///   - gammaInitializer, betaInitializer, movingMeanInitializer, movingVarianceInitializer: kept for the config.
    public init(name: String, inputShape: [Int], momentum: Float = 0.99, epsilon: Float = 1e-3,
                gamma: Tensor?, beta: Tensor?, movingMean: Tensor, movingVariance: Tensor,
                gammaInitializer: Initializer = .ones, betaInitializer: Initializer = .zeros,
                movingMeanInitializer: Initializer = .zeros, movingVarianceInitializer: Initializer = .ones) {
        let features = inputShape.last ?? 0
        precondition(features > 0 && [gamma, beta, movingMean, movingVariance].allSatisfy { $0 == nil || $0!.shape == [features] })
        self.name = name
        self.inputShape = inputShape
        self.momentum = momentum
        self.epsilon = epsilon
        self.gamma = gamma.map { Parameter(layerName: name, weightName: "gamma", value: $0) }
        self.beta = beta.map { Parameter(layerName: name, weightName: "beta", value: $0) }
        self.movingMean = Parameter(layerName: name, weightName: "moving_mean", value: movingMean, trainable: false)
        self.movingVariance = Parameter(layerName: name, weightName: "moving_variance", value: movingVariance, trainable: false)
        self.gammaInitializer = gammaInitializer
        self.betaInitializer = betaInitializer
        self.movingMeanInitializer = movingMeanInitializer
        self.movingVarianceInitializer = movingVarianceInitializer
    }

    /// The number of features (the size of the last axis).
    public var features: Int { inputShape.last! }
    public var parameters: [Parameter] { (gamma.map { [$0] } ?? []) + (beta.map { [$0] } ?? []) }
    public var weights: [Parameter] { parameters + [movingMean, movingVariance] }
    public var outputShape: [Int] { inputShape }

    public var config: JSONValue {
        .object([
            ("name", .string(name)), ("trainable", .bool(true)), ("dtype", .string("float32")),
            ("axis", .number(-1)),
            ("momentum", jsonNumber(momentum)),
            ("epsilon", jsonNumber(epsilon)),
            ("center", .bool(beta != nil)),
            ("scale", .bool(gamma != nil)),
            ("beta_initializer", betaInitializer.config),
            ("gamma_initializer", gammaInitializer.config),
            ("moving_mean_initializer", movingMeanInitializer.config),
            ("moving_variance_initializer", movingVarianceInitializer.config),
            ("beta_regularizer", .null), ("gamma_regularizer", .null),
            ("beta_constraint", .null), ("gamma_constraint", .null),
            ("synchronized", .bool(false)),
        ])
    }

    /// The fewest rows worth a shard of their own.
    private var minimumShardRows: Int { Parallel.minimumShardSize(workPerItem: features) }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        let features = features
        let rows = input.count / features
        precondition(input.count == rows * features && input.count % max(inputShape.reduce(1, *), 1) == 0,
                     "BatchNormalization '\(name)' expects \(inputShape) inputs per example")
        if output.count != input.count { output = Tensor(shape: [input.count / inputShape.reduce(1, *)] + inputShape) }
        if context.training && !frozen {
            reducer = context.batchStatistics
            trainingForward(input, rows: rows)
        } else {
            inferenceForward(input, rows: rows)
        }
        frozenRows = context.training && frozen ? rows : -1
        return output
    }

    /// Per-feature working values, each `[features]`, in ``statistics``.
    private struct FeatureValues {
        var mean, variance, inverseDeviation: UnsafeMutablePointer<Float>
        /// Training: gamma and beta; inference: the moving statistics folded in.
        var scale, shift: UnsafeMutablePointer<Float>
        var gammaGradient, betaGradient: UnsafeMutablePointer<Float>
        /// γ / (N · √(variance + ε)).
        var coefficient: UnsafeMutablePointer<Float>
        /// Σ dy and Σ dy · x̂ over the global batch, in this shard's gradient scale (this batch's with no reducer).
        var gradientSum, productSum: UnsafeMutablePointer<Float>
    }

    private var featureValues: FeatureValues {
        let base = statistics.pointer(count: 10 * features)
        return FeatureValues(mean: base, variance: base + features, inverseDeviation: base + 2 * features,
                             scale: base + 3 * features, shift: base + 4 * features,
                             gammaGradient: base + 5 * features, betaGradient: base + 6 * features,
                             coefficient: base + 7 * features, gradientSum: base + 8 * features, productSum: base + 9 * features)
    }

    /// `y = x · scale + shift`, the moving statistics folded into scale and shift.
    private func inferenceForward(_ input: Tensor, rows: Int) {
        let features = features
        let values = featureValues
        let scale = values.scale, shift = values.shift
        for feature in 0..<features {
            let inverseDeviation = 1 / (movingVariance.value.storage[feature] + epsilon).squareRoot()
            scale[feature] = (gamma?.value.storage[feature] ?? 1) * inverseDeviation
            shift[feature] = (beta?.value.storage[feature] ?? 0) - movingMean.value.storage[feature] * scale[feature]
        }
        input.withUnsafeBufferPointer { inputs in
            output.withUnsafeMutableBufferPointer { outputs in
                let inputs = inputs.baseAddress!, outputs = outputs.baseAddress!
                Parallel.forEachShard(count: rows, minimumSize: minimumShardRows) { _, items in
                    Kernels.forEachGroup(rows: items, features: features) { index, feature, width in
                        let value = Kernels.load(inputs + index, width: width) * Kernels.load(scale + feature, width: width)
                            + Kernels.load(shift + feature, width: width)
                        Kernels.store(value, outputs + index, width: width)
                    }
                }
            }
        }
    }

    /// Normalizes by the batch statistics (the global batch's, with a ``reducer``), keeps the normalized values for
    /// backward, and moves the moving statistics.
    private func trainingForward(_ input: Tensor, rows: Int) {
        let features = features
        let normalized = normalized.pointer(count: rows * features)
        normalizedRows = rows
        let values = featureValues
        let mean = values.mean, variance = values.variance, inverseDeviation = values.inverseDeviation
        let scale = values.scale, shift = values.shift
        let shards = Parallel.shardCount(for: rows, minimumSize: minimumShardRows)
        let sums = partialSums.pointer(count: Parallel.shardCount * 2 * features)
        let totals = totals.pointer(count: features + 1)  // [Σ per feature, rows]
        let reducer = reducer
        /// `totals[feature]`: the per-shard sums of `sums[shard, 0, feature]` over the shards, then over the reducer's
        /// shards, with the rows in `totals[features]` when `withRows`.
        func total(withRows: Bool) {
            for feature in 0..<features { totals[feature] = (0..<shards).reduce(0.0) { $0 + sums[$1 * 2 * features + feature] } }
            totals[features] = Double(rows)
            reducer?.sum(UnsafeMutableBufferPointer(start: totals, count: withRows ? features + 1 : features))
        }
        var count = Double(rows)  // the global batch's rows
        input.withUnsafeBufferPointer { inputs in
            output.withUnsafeMutableBufferPointer { outputs in
                let inputs = inputs.baseAddress!, outputs = outputs.baseAddress!
                // Mean: per-shard sums in Double, then combined.
                Parallel.forEachShard(count: rows, minimumSize: minimumShardRows) { shard, items in
                    let sum = sums + shard * 2 * features
                    sum.update(repeating: 0, count: features)
                    Kernels.addSums(rows: items, features: features, into: sum, nil) { index, _, width in
                        (Kernels.load(inputs + index, width: width), .zero)
                    }
                }
                total(withRows: true)
                count = totals[features]
                for feature in 0..<features { mean[feature] = Float(totals[feature] / count) }
                // Biased variance, from the centred values (two passes are stable where E[x²] − E[x]² is not).
                Parallel.forEachShard(count: rows, minimumSize: minimumShardRows) { shard, items in
                    let sum = sums + shard * 2 * features
                    sum.update(repeating: 0, count: features)
                    Kernels.addSums(rows: items, features: features, into: sum, nil) { index, feature, width in
                        let centred = Kernels.load(inputs + index, width: width) - Kernels.load(mean + feature, width: width)
                        return (centred * centred, .zero)
                    }
                }
                total(withRows: false)
                for feature in 0..<features {
                    variance[feature] = Float(totals[feature] / count)
                    inverseDeviation[feature] = 1 / (variance[feature] + epsilon).squareRoot()
                    scale[feature] = gamma?.value.storage[feature] ?? 1
                    shift[feature] = beta?.value.storage[feature] ?? 0
                }
                // x̂ = (x − mean) / √(variance + ε); y = gamma · x̂ + beta
                Parallel.forEachShard(count: rows, minimumSize: minimumShardRows) { _, items in
                    Kernels.forEachGroup(rows: items, features: features) { index, feature, width in
                        let value = (Kernels.load(inputs + index, width: width) - Kernels.load(mean + feature, width: width))
                            * Kernels.load(inverseDeviation + feature, width: width)
                        Kernels.store(value, normalized + index, width: width)
                        Kernels.store(value * Kernels.load(scale + feature, width: width) + Kernels.load(shift + feature, width: width),
                                      outputs + index, width: width)
                    }
                }
            }
        }
        globalRows = Int(count.rounded())
        for feature in 0..<features {
            movingMean.value.storage[feature] = movingMean.value.storage[feature] * momentum + mean[feature] * (1 - momentum)
            movingVariance.value.storage[feature] = movingVariance.value.storage[feature] * momentum + variance[feature] * (1 - momentum)
        }
    }

    /// With `g = dy`: dβ = Σ g, dγ = Σ g · x̂, and
    /// dx = γ / (N · √(variance + ε)) · (N · g − Σ g − x̂ · Σ g · x̂), sums over the N rows.
    ///
    /// With a ``reducer``, N and the two sums in dx are the global batch's: each shard's gradient is that of
    /// the mean loss over its own n rows, so its sums are weighted by n before they are added up and the total
    /// is divided by this shard's n, which brings every shard's sums to this shard's gradient scale. dβ and
    /// dγ stay this shard's sums: the data-parallel step averages them, weighted by n, into the global ones.
    public func backward(_ outputGradient: Tensor) -> Tensor {
        let features = features
        let rows = outputGradient.count / features
        if frozen { return frozenBackward(outputGradient, rows: rows) }
        precondition(rows == normalizedRows && outputGradient.count == rows * features,
                     "BatchNormalization '\(name)': backward needs the training forward of the same batch")
        if inputGradient.count != outputGradient.count { inputGradient = Tensor(shape: output.shape) }
        let normalized = normalized.pointer(count: rows * features)
        let values = featureValues
        let gammaGradient = values.gammaGradient, betaGradient = values.betaGradient, coefficient = values.coefficient
        let gradientSum = values.gradientSum, productSum = values.productSum
        let shards = Parallel.shardCount(for: rows, minimumSize: minimumShardRows)
        let sums = partialSums.pointer(count: Parallel.shardCount * 2 * features)
        let totals = totals.pointer(count: 2 * features + 1)  // [Σ g · n, Σ g · x̂ · n], added up by the reducer
        outputGradient.withUnsafeBufferPointer { outputGradients in
            let outputGradients = outputGradients.baseAddress!
            // Per shard: Σ g and Σ g · x̂.
            Parallel.forEachShard(count: rows, minimumSize: minimumShardRows) { shard, items in
                let sum = sums + shard * 2 * features
                sum.update(repeating: 0, count: 2 * features)
                Kernels.addSums(rows: items, features: features, into: sum, sum + features) { index, _, width in
                    let gradient = Kernels.load(outputGradients + index, width: width)
                    return (gradient, gradient * Kernels.load(normalized + index, width: width))
                }
            }
        }
        for feature in 0..<features {
            var sum = 0.0, product = 0.0
            for shard in 0..<shards {
                sum += sums[shard * 2 * features + feature]
                product += sums[shard * 2 * features + features + feature]
            }
            betaGradient[feature] = Float(sum)
            gammaGradient[feature] = Float(product)
            totals[feature] = sum * Double(rows)
            totals[features + feature] = product * Double(rows)
        }
        reducer?.sum(UnsafeMutableBufferPointer(start: totals, count: 2 * features))
        let globalRows = reducer == nil ? rows : globalRows
        for feature in 0..<features {
            gradientSum[feature] = reducer == nil ? betaGradient[feature] : Float(totals[feature] / Double(rows))
            productSum[feature] = reducer == nil ? gammaGradient[feature] : Float(totals[features + feature] / Double(rows))
            coefficient[feature] = (gamma?.value.storage[feature] ?? 1) * values.inverseDeviation[feature] / Float(globalRows)
        }
        outputGradient.withUnsafeBufferPointer { outputGradients in
            inputGradient.withUnsafeMutableBufferPointer { inputGradients in
                let outputGradients = outputGradients.baseAddress!, inputGradients = inputGradients.baseAddress!
                let count = Float(globalRows)
                Parallel.forEachShard(count: rows, minimumSize: minimumShardRows) { _, items in
                    Kernels.forEachGroup(rows: items, features: features) { index, feature, width in
                        let gradient = Kernels.load(outputGradients + index, width: width)
                        let centred = count * gradient - Kernels.load(gradientSum + feature, width: width)
                            - Kernels.load(normalized + index, width: width) * Kernels.load(productSum + feature, width: width)
                        Kernels.store(Kernels.load(coefficient + feature, width: width) * centred, inputGradients + index, width: width)
                    }
                }
            }
        }
        gamma?.gradient.withUnsafeMutableBufferPointer { addElements(gammaGradient, into: $0.baseAddress!, count: features) }
        beta?.gradient.withUnsafeMutableBufferPointer { addElements(betaGradient, into: $0.baseAddress!, count: features) }
        return inputGradient
    }
}

extension BatchNormalization {
    /// A frozen layer's backward: `dx = dy · scale`, with the scale `γ / √(moving variance + ε)` of the
    /// inference forward; γ and β get no gradient.
    private func frozenBackward(_ outputGradient: Tensor, rows: Int) -> Tensor {
        let features = features
        precondition(rows == frozenRows && outputGradient.count == rows * features,
                     "BatchNormalization '\(name)': backward needs the training forward of the same batch")
        if inputGradient.count != outputGradient.count { inputGradient = Tensor(shape: output.shape) }
        let scale = UnsafePointer(featureValues.scale)
        outputGradient.withUnsafeBufferPointer { outputGradients in
            inputGradient.withUnsafeMutableBufferPointer { inputGradients in
                let outputGradients = outputGradients.baseAddress!, inputGradients = inputGradients.baseAddress!
                Parallel.forEachShard(count: rows, minimumSize: minimumShardRows) { _, items in
                    Kernels.forEachGroup(rows: items, features: features) { index, feature, width in
                        Kernels.store(Kernels.load(outputGradients + index, width: width) * Kernels.load(scale + feature, width: width),
                                      inputGradients + index, width: width)
                    }
                }
            }
        }
        return inputGradient
    }
}

extension BatchNormalization: KerasLayer {
    static var kerasClassNames: [String] { ["BatchNormalization"] }

    /// BatchNormalization over the last axis, with Keras 2's extra options accepted at their defaults.
    static func make(_ options: inout LayerOptions, inputShapes: [[Int]], generator: inout SeededGenerator) throws -> Layer {
        let name = options.name
        let inputShape = try options.singleInput(inputShapes)
        let layer = "BatchNormalization layer '\(name)'"
        // Keras writes -1, or the positive index counting the batch axis, sometimes as a one-element list.
        let axisValue = options.raw("axis") ?? .number(-1)
        let axis = axisValue.intValue ?? (axisValue.arrayValue?.count == 1 ? axisValue.arrayValue?[0].intValue : nil)
        guard let axis, axis == -1 || axis == inputShape.count else {
            throw ModelConfigError("\(layer): axis \(axisValue.serialized) is not supported; only the last axis (-1 or \(inputShape.count))")
        }
        let momentum = try options.number("momentum", default: 0.99)
        let epsilon = try options.number("epsilon", default: 1e-3)
        guard momentum >= 0 && momentum <= 1 else {
            throw ModelConfigError("\(layer): momentum must be in [0, 1], got \(momentum)")
        }
        guard epsilon > 0 else { throw ModelConfigError("\(layer): epsilon must be positive, got \(epsilon)") }
        let center = try options.bool("center", default: true)
        let scale = try options.bool("scale", default: true)
        let betaInitializer = try options.initializer("beta_initializer", default: .zeros)
        let gammaInitializer = try options.initializer("gamma_initializer", default: .ones)
        let movingMeanInitializer = try options.initializer("moving_mean_initializer", default: .zeros)
        let movingVarianceInitializer = try options.initializer("moving_variance_initializer", default: .ones)
        try options.requireNull(["beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint",
                                 "virtual_batch_size", "adjustment", "renorm_clipping"])
        guard try !options.bool("synchronized", default: false), try !options.bool("renorm", default: false) else {
            throw ModelConfigError("\(layer): synchronized and renorm are not supported")
        }
        options.ignore(["fused", "renorm_momentum"])  // Keras 2: an implementation choice; unused without renorm
        let features = [inputShape.last!]
        return BatchNormalization(
            name: name, inputShape: inputShape, momentum: Float(momentum), epsilon: Float(epsilon),
            gamma: scale ? gammaInitializer.make(shape: features, generator: &generator) : nil,
            beta: center ? betaInitializer.make(shape: features, generator: &generator) : nil,
            movingMean: movingMeanInitializer.make(shape: features, generator: &generator),
            movingVariance: movingVarianceInitializer.make(shape: features, generator: &generator),
            gammaInitializer: gammaInitializer, betaInitializer: betaInitializer,
            movingMeanInitializer: movingMeanInitializer, movingVarianceInitializer: movingVarianceInitializer)
    }
}

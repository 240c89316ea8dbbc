import LRTTensor

/// Keras's `ReLU` layer with all its options: `max_value`, `negative_slope` and `threshold`.
///
/// As Keras 3 computes it (`keras.activations.relu`):
/// `f(x) = min(x, maxValue)` for `x > threshold`, `negativeSlope · (x − threshold)` otherwise
/// (no `maxValue`: no upper clip). With no `maxValue` and threshold 0 it is the plain or leaky
/// ReLU, and runs the same code as `Activation("relu")` (``ActivationLayer``).
public final class ReLU: Layer, KerasLayer {
    static let kerasClassNames = ["ReLU"]

    public let name: String
    public let className = "ReLU"
    public let outputShape: [Int]
    /// The upper clip, or nil for none; not negative.
    public let maxValue: Double?
    /// The slope below the threshold; not negative.
    public let negativeSlope: Double
    /// Where the function turns from the slope to the identity; not negative.
    public let threshold: Double

    /// The plain or leaky ReLU, when there is no clip and no threshold.
    private let plain: ActivationLayer?
    private var input = Tensor(shape: [0])          // [batch, …shape], kept for backward
    private var output = Tensor(shape: [0])         // [batch, …shape]
    private var inputGradient = Tensor(shape: [0])  // [batch, …shape]

    /// - Parameters:
    ///   - name: the Keras layer name.
    ///   - shape: one example's shape (input and output).
    ///   - maxValue: the upper clip (default none).
    ///   - negativeSlope: the slope below `threshold` (default 0).
    ///   - threshold: the turning point (default 0).
    /// - Precondition: `maxValue`, `negativeSlope` and `threshold` are finite and not negative (``make(_:inputShapes:generator:)`` checks them).
    public init(name: String, shape: [Int], maxValue: Double? = nil, negativeSlope: Double = 0, threshold: Double = 0) {
        precondition((maxValue ?? 0) >= 0 && negativeSlope >= 0 && threshold >= 0
                     && (maxValue ?? 0).isFinite && negativeSlope.isFinite && threshold.isFinite,
                     "ReLU '\(name)': max_value, negative_slope and threshold must be finite and not negative")
        self.name = name
        self.outputShape = shape
        self.maxValue = maxValue
        self.negativeSlope = negativeSlope
        self.threshold = threshold
        plain = maxValue == nil && threshold == 0
            ? ActivationLayer(name: name, className: "ReLU",
                              activation: negativeSlope == 0 ? .relu : .leakyRelu(negativeSlope: Float(negativeSlope)), shape: shape)
            : nil
    }

    static func make(_ options: inout LayerOptions, inputShapes: [[Int]], generator: inout SeededGenerator) throws -> Layer {
        let shape = try options.singleInput(inputShapes)
        let layer = options.layerDescription
        let maxValue = try options.optionalNumber("max_value")
        let negativeSlope = try options.number("negative_slope", default: 0)
        let threshold = try options.number("threshold", default: 0)
        for (key, value) in [("max_value", maxValue ?? 0), ("negative_slope", negativeSlope), ("threshold", threshold)] where value < 0 {
            throw ModelConfigError("\(layer): \(key) must not be negative (as in Keras), got \(value)")
        }
        return ReLU(name: options.name, shape: shape, maxValue: maxValue, negativeSlope: negativeSlope, threshold: threshold)
    }

    public var parameters: [Parameter] { [] }

    public var config: JSONValue {
        .object(baseLayerConfig(name: name) + [
            ("max_value", maxValue.map { .number($0) } ?? .null),
            ("negative_slope", .number(negativeSlope)),
            ("threshold", .number(threshold)),
        ])
    }

    /// Elements per shard: a few tens of microseconds of work.
    private let minimumShardElements = Parallel.minimumShardSize(workPerItem: 4)

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        if let plain { return plain.forward(input, context: &context) }
        if output.shape != input.shape { output = Tensor(shape: input.shape) }
        if context.training { self.input = input }
        let maximum = Float(maxValue ?? .infinity), slope = Float(negativeSlope), threshold = Float(threshold)
        input.withUnsafeBufferPointer { inputs in
            output.withUnsafeMutableBufferPointer { outputs in
                guard let inputs = inputs.baseAddress, let outputs = outputs.baseAddress else { return }
                Parallel.forEachShard(count: input.count, minimumSize: minimumShardElements) { _, elements in
                    for index in elements {
                        let value = inputs[index]
                        outputs[index] = value > threshold ? min(value, maximum) : slope * (value - threshold)
                    }
                }
            }
        }
        return output
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        if let plain { return plain.backward(outputGradient) }
        precondition(outputGradient.count == input.count, "ReLU '\(name)': backward needs the training forward of the same batch")
        if inputGradient.shape != outputGradient.shape { inputGradient = Tensor(shape: outputGradient.shape) }
        let maximum = Float(maxValue ?? .infinity), slope = Float(negativeSlope), threshold = Float(threshold)
        input.withUnsafeBufferPointer { inputs in
            outputGradient.withUnsafeBufferPointer { outputGradients in
                inputGradient.withUnsafeMutableBufferPointer { inputGradients in
                    guard let inputs = inputs.baseAddress, let outputGradients = outputGradients.baseAddress,
                          let inputGradients = inputGradients.baseAddress else { return }
                    Parallel.forEachShard(count: input.count, minimumSize: minimumShardElements) { _, elements in
                        for index in elements {
                            let value = inputs[index], gradient = outputGradients[index]
                            // d/dx: 1 between the threshold and the clip, 0 above the clip, the slope below the threshold.
                            inputGradients[index] = value > threshold ? (value < maximum ? gradient : 0) : slope * gradient
                        }
                    }
                }
            }
        }
        input = .empty
        return inputGradient
    }
}

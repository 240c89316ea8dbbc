import LRTTensor

/// Inverted dropout (Keras `Dropout`; Srivastava et al. 2014).
///
/// In training each value is zeroed with probability `rate` and the survivors
/// are scaled by `1 / (1 − rate)`, so inference is the identity. The mask is
/// drawn, one draw per value in row-major order, from each example's stream
/// (``ForwardContext/exampleStreams``, as the trainer sets it: the same mask for
/// an example whichever rank of a data-parallel run holds it), or else from the
/// context's generator (``ForwardContext/generator``), so a run is reproducible
/// from its seed.
public final class Dropout: Layer {
    public let name: String
    public let className = "Dropout"
    public let outputShape: [Int]
    /// The probability of dropping a value, in `[0, 1)`.
    public let rate: Float

    private var output = Tensor(shape: [0])         // [batch, …shape]
    private var inputGradient = Tensor(shape: [0])  // [batch, …shape]
    /// Per value: 0 where dropped, `1 / (1 − rate)` where kept, from the last training forward.
    private let mask = ScratchBuffer<Float>()       // [batch, …shape]
    private var maskCount = 0

    /// - Parameters:
    ///   - name: the Keras layer name.
    ///   - shape: one example's shape (input and output).
    ///   - rate: the probability of dropping a value, in `[0, 1)`.
    public init(name: String, shape: [Int], rate: Float) {
        precondition(rate >= 0 && rate < 1, "Dropout '\(name)': rate \(rate) is not in [0, 1)")
        self.name = name
        self.outputShape = shape
        self.rate = rate
    }

    public var parameters: [Parameter] { [] }
    public var config: JSONValue {
        .object([("name", .string(name)), ("trainable", .bool(true)), ("dtype", .string("float32")),
                 ("rate", jsonNumber(rate)), ("seed", .null), ("noise_shape", .null)])
    }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        guard context.training else { return input }
        if output.count != input.count { output = Tensor(shape: input.shape) }
        let mask = mask.pointer(count: input.count)
        maskCount = input.count
        let keptScale = 1 / (1 - rate)
        if let streams = context.exampleStreams {
            let exampleSize = max(outputShape.reduce(1, *), 1), layerSeed = streams.layerSeed(name)
            for row in 0..<input.count / exampleSize {
                var generator = streams.generator(layerSeed: layerSeed, row: row)
                for index in row * exampleSize..<(row + 1) * exampleSize {
                    mask[index] = generator.nextFloat(in: 0, 1) < rate ? 0 : keptScale
                }
            }
        } else {
            for index in 0..<input.count {
                mask[index] = context.generator.nextFloat(in: 0, 1) < rate ? 0 : keptScale
            }
        }
        input.withUnsafeBufferPointer { inputs in
            output.withUnsafeMutableBufferPointer { outputs in
                for index in outputs.indices { outputs[index] = inputs[index] * mask[index] }
            }
        }
        return output
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        precondition(outputGradient.count == maskCount, "Dropout '\(name)': backward needs the training forward of the same batch")
        if inputGradient.count != outputGradient.count { inputGradient = Tensor(shape: outputGradient.shape) }
        let mask = mask.pointer(count: maskCount)
        outputGradient.withUnsafeBufferPointer { outputGradients in
            inputGradient.withUnsafeMutableBufferPointer { inputGradients in
                for index in inputGradients.indices { inputGradients[index] = outputGradients[index] * mask[index] }
            }
        }
        return inputGradient
    }
}

extension Dropout: KerasLayer {
    static var kerasClassNames: [String] { ["Dropout"] }

    static func make(_ options: inout LayerOptions, inputShapes: [[Int]], generator: inout SeededGenerator) throws -> Layer {
        let name = options.name
        let inputShape = try options.singleInput(inputShapes)
        let rate = try options.number("rate", default: .nan)
        guard rate >= 0 && rate < 1 else {
            throw ModelConfigError(rate.isNaN ? "Dropout layer '\(name)' needs \"rate\""
                                   : "Dropout layer '\(name)': \"rate\" must be in [0, 1), got \(rate)")
        }
        try options.requireNull(["noise_shape"])
        options.ignore(["seed"])  // masks come from the run's generator
        return Dropout(name: name, shape: inputShape, rate: Float(rate))
    }
}

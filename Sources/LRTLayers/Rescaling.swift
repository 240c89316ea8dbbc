import LRTTensor

/// `x · scale + offset` for every value (Keras `Rescaling`, e.g. `scale` 1/255 for pixels).
///
/// `scale` and `offset` are numbers; Keras's per-channel lists are refused.
public final class Rescaling: Layer, KerasLayer {
    static let kerasClassNames = ["Rescaling"]

    public let name: String
    public let className = "Rescaling"
    public let outputShape: [Int]
    /// The factor, as configured.
    public let scale: Double
    /// Added after scaling, as configured.
    public let offset: Double

    private var output = Tensor(shape: [0])         // [batch, …shape]
    private var inputGradient = Tensor(shape: [0])  // [batch, …shape]

    /// - Parameters:
    ///   - name: the Keras layer name.
    ///   - shape: one example's shape (input and output).
    ///   - scale: the factor.
    ///   - offset: added after scaling (default 0).
    public init(name: String, shape: [Int], scale: Double, offset: Double = 0) {
        self.name = name
        self.outputShape = shape
        self.scale = scale
        self.offset = offset
    }

    static func make(_ options: inout LayerOptions, inputShapes: [[Int]], generator: inout SeededGenerator) throws -> Layer {
        let shape = try options.singleInput(inputShapes)
        guard let scale = try options.optionalNumber("scale") else {
            throw ModelConfigError("\(options.layerDescription) needs \"scale\", e.g. 0.00392156862745098 for 1/255")
        }
        let offset = try options.number("offset", default: 0)
        return Rescaling(name: options.name, shape: shape, scale: scale, offset: offset)
    }

    public var parameters: [Parameter] { [] }
    public var config: JSONValue {
        .object(baseLayerConfig(name: name) + [("scale", .number(scale)), ("offset", .number(offset))])
    }

    private let minimumShardElements = Parallel.minimumShardSize(workPerItem: 2)

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        if output.shape != input.shape { output = Tensor(shape: input.shape) }
        let scale = Float(scale), offset = Float(offset)
        input.withUnsafeBufferPointer { inputs in
            output.withUnsafeMutableBufferPointer { outputs in
                guard let inputs = inputs.baseAddress, let outputs = outputs.baseAddress else { return }
                Parallel.forEachShard(count: input.count, minimumSize: minimumShardElements) { _, elements in
                    for index in elements { outputs[index] = inputs[index] * scale + offset }
                }
            }
        }
        return output
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        if inputGradient.shape != outputGradient.shape { inputGradient = Tensor(shape: outputGradient.shape) }
        let scale = Float(scale)
        outputGradient.withUnsafeBufferPointer { outputGradients in
            inputGradient.withUnsafeMutableBufferPointer { inputGradients in
                guard let outputGradients = outputGradients.baseAddress, let inputGradients = inputGradients.baseAddress else { return }
                Parallel.forEachShard(count: outputGradient.count, minimumSize: minimumShardElements) { _, elements in
                    for index in elements { inputGradients[index] = outputGradients[index] * scale }
                }
            }
        }
        return inputGradient
    }
}

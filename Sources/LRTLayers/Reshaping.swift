import LRTTensor

/// Flattens each example to one axis (Keras `Flatten`): `[batch, h, w, c]` → `[batch, h·w·c]`.
public final class Flatten: Layer {
    public let name: String
    public let className = "Flatten"
    public let inputShape: [Int]

    public init(name: String, inputShape: [Int]) {
        self.name = name
        self.inputShape = inputShape
    }

    public var parameters: [Parameter] { [] }
    public var outputShape: [Int] { [inputShape.reduce(1, *)] }
    public var config: JSONValue {
        .object([("name", .string(name)), ("trainable", .bool(true)), ("dtype", .string("float32")),
                 ("data_format", .string("channels_last"))])
    }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        input.reshaped([input.count / outputShape[0], outputShape[0]])
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        outputGradient.reshaped([outputGradient.count / outputShape[0]] + inputShape)
    }
}

/// An activation as its own layer: Keras `Activation(name)`, `ReLU()` and `LeakyReLU()`.
public final class ActivationLayer: SoftmaxEndingLayer {
    public let name: String
    public let className: String
    public let activation: Activation
    public let outputShape: [Int]
    public var emitsLogits = false
    private var output = Tensor(shape: [0])         // [batch, …shape]
    private var inputGradient = Tensor(shape: [0])  // [batch, …shape]

    /// - Parameters:
    ///   - className: `Activation`, `ReLU` or `LeakyReLU` (the Keras class it was read from).
    ///   - activation: for `ReLU`, `.relu` or `.leakyRelu`; for `LeakyReLU`, `.leakyRelu`.
    public init(name: String, className: String, activation: Activation, shape: [Int]) {
        self.name = name
        self.className = className
        self.activation = activation
        self.outputShape = shape
    }

    public var parameters: [Parameter] { [] }
    public var endsInSoftmax: Bool { activation == .softmax }
    private var appliedActivation: Activation { emitsLogits && activation == .softmax ? .linear : activation }
    private var width: Int { outputShape.last ?? 1 }
    private var negativeSlope: Float {
        if case .leakyRelu(let slope) = activation { return slope }
        return 0
    }

    public var config: JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("name", .string(name)), ("trainable", .bool(true)), ("dtype", .string("float32"))]
        switch className {
        case "ReLU":
            members += [("max_value", .null), ("negative_slope", jsonNumber(negativeSlope)), ("threshold", .number(0))]
        case "LeakyReLU":
            members.append(("negative_slope", jsonNumber(negativeSlope)))
        default:
            members.append(("activation", .string(activation.kerasName)))
        }
        return .object(members)
    }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        let activation = appliedActivation, width = width
        if output.count != input.count { output = Tensor(shape: input.shape) }
        input.withUnsafeBufferPointer { inputs in
            output.withUnsafeMutableBufferPointer { outputs in
                let inputs = inputs.baseAddress!, outputs = outputs.baseAddress!
                Parallel.forEachShard(count: input.count / width, minimumSize: Parallel.minimumShardSize(workPerItem: width)) { _, rows in
                    let values = UnsafeMutableBufferPointer(start: outputs + rows.lowerBound * width, count: rows.count * width)
                    _ = values.update(fromContentsOf: UnsafeBufferPointer(start: inputs + rows.lowerBound * width, count: values.count))
                    activation.apply(values, width: width)
                }
            }
        }
        return output
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        let activation = appliedActivation, width = width
        precondition(outputGradient.count == output.count, "\(className) '\(name)': backward needs the forward of the same batch")
        if inputGradient.count != outputGradient.count { inputGradient = Tensor(shape: outputGradient.shape) }
        outputGradient.withUnsafeBufferPointer { outputGradients in
            output.withUnsafeBufferPointer { outputs in
                inputGradient.withUnsafeMutableBufferPointer { inputGradients in
                    let outputGradients = outputGradients.baseAddress!, outputs = outputs.baseAddress!
                    let inputGradients = inputGradients.baseAddress!
                    Parallel.forEachShard(count: outputGradient.count / width, minimumSize: Parallel.minimumShardSize(workPerItem: width)) { _, rows in
                        let start = rows.lowerBound * width, count = rows.count * width
                        activation.backward(UnsafeBufferPointer(start: outputGradients + start, count: count),
                                            output: UnsafeBufferPointer(start: outputs + start, count: count),
                                            into: UnsafeMutableBufferPointer(start: inputGradients + start, count: count),
                                            width: width)
                    }
                }
            }
        }
        return inputGradient
    }
}

extension Flatten: KerasLayer {
    static var kerasClassNames: [String] { ["Flatten"] }

    static func make(_ options: inout LayerOptions, inputShapes: [[Int]], generator: inout SeededGenerator) throws -> Layer {
        let name = options.name
        let inputShape = try options.singleInput(inputShapes)
        let format = try options.string("data_format", default: "channels_last")
        guard format == "channels_last" else {
            throw ModelConfigError("Flatten layer '\(name)': data_format '\(format)' is not supported; lrt is channels_last (NHWC)")
        }
        return Flatten(name: name, inputShape: inputShape)
    }
}

extension ActivationLayer: KerasLayer {
    static var kerasClassNames: [String] { ["LeakyReLU", "Activation"] }

    static func make(_ options: inout LayerOptions, inputShapes: [[Int]], generator: inout SeededGenerator) throws -> Layer {
        let name = options.name
        let inputShape = try options.singleInput(inputShapes)
        switch options.className {
        case "LeakyReLU":
            // Keras 3 calls it negative_slope, Keras 2 alpha; both default to 0.3.
            let keras3Slope = try options.optionalNumber("negative_slope")
            let keras2Slope = try options.optionalNumber("alpha")
            if keras3Slope != nil && keras2Slope != nil {
                throw ModelConfigError("LeakyReLU layer '\(name)': give negative_slope or alpha, not both")
            }
            let slope = keras3Slope ?? keras2Slope ?? 0.3
            guard slope >= 0 else {
                throw ModelConfigError("LeakyReLU layer '\(name)': negative_slope must be ≥ 0, got \(slope)")
            }
            return ActivationLayer(name: name, className: "LeakyReLU",
                                   activation: .leakyRelu(negativeSlope: Float(slope)), shape: inputShape)
        default:
            let activation = try options.activation("activation", default: nil)
            return ActivationLayer(name: name, className: "Activation", activation: activation, shape: inputShape)
        }
    }
}

import LRTTensor

/// A fully connected layer, `activation(input · kernel + bias)` (Keras `Dense`).
public final class Dense: SoftmaxEndingLayer {
    public let name: String
    public let className = "Dense"
    /// The width of the input (no batch axis).
    public let inputUnits: Int
    /// The width of the output.
    public let units: Int
    public let activation: Activation
    /// `[inputUnits, units]`, Keras's kernel layout.
    public let kernel: Parameter
    /// `[units]`, or nil when `use_bias` is false.
    public let bias: Parameter?
    public var emitsLogits = false
    /// When false, `backward` skips the input gradient (set by ``Sequential`` for a first
    /// trainable layer that only weightless layers precede) and returns an empty tensor.
    public var computesInputGradient = true
    /// Recorded in the config so that Keras re-creates the layer as it was described.
    public let kernelInitializer: Initializer
    public let biasInitializer: Initializer

    private var input = Tensor(shape: [0])   // [batch, inputUnits]
    private var output = Tensor(shape: [0])  // [batch, units], after the activation

    /// - Parameters:
    ///   - name: the Keras layer name.
    ///   - inputUnits: the input width.
    ///   - units: the output width.
    ///   - activation: applied to the affine output (default linear).
    ///   - kernel: initial `[inputUnits, units]` kernel.
    ///   - bias: initial `[units]` bias, or nil for no bias.
    ///   - kernelInitializer, biasInitializer: how the weights were drawn, kept for the config.
    public init(name: String, inputUnits: Int, units: Int, activation: Activation = .linear, kernel: Tensor, bias: Tensor?,
                kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros) {
        precondition(kernel.shape == [inputUnits, units] && (bias == nil || bias!.shape == [units]))
        self.name = name
        self.inputUnits = inputUnits
        self.units = units
        self.activation = activation
        self.kernelInitializer = kernelInitializer
        self.biasInitializer = biasInitializer
        self.kernel = Parameter(layerName: name, weightName: "kernel", value: kernel)
        self.bias = bias.map { Parameter(layerName: name, weightName: "bias", value: $0) }
    }

    public var parameters: [Parameter] { [kernel] + (bias.map { [$0] } ?? []) }
    public var outputShape: [Int] { [units] }
    public var endsInSoftmax: Bool { activation == .softmax }
    private var appliedActivation: Activation { emitsLogits && activation == .softmax ? .linear : activation }

    public var config: JSONValue {
        .object([
            ("name", .string(name)), ("trainable", .bool(true)), ("dtype", .string("float32")),
            ("units", .number(Double(units))),
            ("activation", .string(activation.rawValue)),
            ("use_bias", .bool(bias != nil)),
            ("kernel_initializer", kernelInitializer.config),
            ("bias_initializer", biasInitializer.config),
            ("kernel_regularizer", .null), ("bias_regularizer", .null), ("activity_regularizer", .null),
            ("kernel_constraint", .null), ("bias_constraint", .null),
        ])
    }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        let batch = input.count / inputUnits
        precondition(input.count == batch * inputUnits, "Dense '\(name)' expects \(inputUnits) inputs per example")
        if output.count != batch * units { output = Tensor(shape: [batch, units]) }
        input.withUnsafeBufferPointer { inputs in
            kernel.value.withUnsafeBufferPointer { weights in
                output.withUnsafeMutableBufferPointer { outputs in
                    MatrixMultiply.gemm(inputs.baseAddress!, weights.baseAddress!, into: outputs.baseAddress!,
                                        rows: batch, columns: units, inner: inputUnits)
                    if let bias {
                        bias.value.withUnsafeBufferPointer { biases in
                            for row in 0..<batch {
                                let offset = row * units
                                for unit in 0..<units { outputs[offset + unit] += biases[unit] }
                            }
                        }
                    }
                }
            }
        }
        appliedActivation.apply(&output, width: units)
        if context.training { self.input = input }
        return output
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        let batch = outputGradient.count / units
        var gradient = outputGradient  // [batch, units]
        appliedActivation.backward(&gradient, output: output, width: units)
        var inputGradient = Tensor(shape: computesInputGradient ? [batch, inputUnits] : [0])
        gradient.withUnsafeBufferPointer { gradients in
            input.withUnsafeBufferPointer { inputs in
                // dKernel = inputᵀ · gradient: [inputUnits, units]
                kernel.gradient.withUnsafeMutableBufferPointer { kernelGradients in
                    MatrixMultiply.gemm(inputs.baseAddress!, transposeA: true, gradients.baseAddress!,
                                        into: kernelGradients.baseAddress!,
                                        rows: inputUnits, columns: units, inner: batch)
                }
            }
            // dBias = Σ over the batch of gradient: [units]
            bias?.gradient.withUnsafeMutableBufferPointer { biasGradients in
                biasGradients.update(repeating: 0)
                for row in 0..<batch {
                    let offset = row * units
                    for unit in 0..<units { biasGradients[unit] += gradients[offset + unit] }
                }
            }
            // dInput = gradient · kernelᵀ: [batch, inputUnits]
            guard computesInputGradient else { return }
            kernel.value.withUnsafeBufferPointer { weights in
                inputGradient.withUnsafeMutableBufferPointer { inputGradients in
                    MatrixMultiply.gemm(gradients.baseAddress!, weights.baseAddress!, transposeB: true,
                                        into: inputGradients.baseAddress!,
                                        rows: batch, columns: inputUnits, inner: units)
                }
            }
        }
        return inputGradient
    }
}

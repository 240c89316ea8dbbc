import LRTTensor

/// A fully connected layer, `activation(input · kernel + bias)` (Keras `Dense`).
///
/// Two implementations, chosen by ``backend`` (``KernelBackend/preferred`` by default): oneDNN's
/// inner product (``OneDNNKernels``, with the bias and a ReLU fused in), or lrt's own, below: the
/// batch split across cores, one sgemm per shard.
public final class Dense: KernelLayer, InputGradientSkipping {
    public let name: String
    public let className = "Dense"
    /// The width of the input (no batch axis).
    public let inputUnits: Int
    /// The width of the output.
    public let units: Int
    public let activation: Activation
    public let kernel: Parameter  // [inputUnits, units]
    public let bias: Parameter?   // [units]
    public var emitsLogits = false
    /// When false, `backward` skips the input gradient (set by the model for a trainable layer
    /// that only weightless layers precede) and returns an empty tensor.
    public var computesInputGradient = true
    /// The kernels that compute this layer.
    public var backend = KernelBackend.preferred
    /// Why oneDNN could not build this layer's primitives, if it could not; lrt's own kernels run instead.
    public var oneDNNFailure: String? { oneDNN.failure }
    public let kernelInitializer: Initializer
    public let biasInitializer: Initializer

    private var input = Tensor(shape: [0])          // [batch, inputUnits], kept for backward
    private var output = Tensor(shape: [0])         // [batch, units], after the activation
    private var inputGradient = Tensor(shape: [0])  // [batch, inputUnits]
    private let preActivationGradient = ScratchBuffer<Float>()  // [batch, units]
    private let oneDNN: OneDNNLayer

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
        oneDNN = OneDNNLayer(name: name, .innerProduct(inputUnits: inputUnits, units: units), width: units)
    }

    public var outputShape: [Int] { [units] }
    public var config: JSONValue { kernelLayerConfig([("units", .number(Double(units)))]) }

    /// The fewest rows worth a shard: about a million multiply-adds.
    private func minimumShardRows(work: Int) -> Int { max(1, (1 << 20) / max(work, 1)) }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        let batch = input.count / inputUnits
        precondition(input.count == batch * inputUnits, "Dense '\(name)' expects \(inputUnits) inputs per example")
        if output.count != batch * units { output = Tensor(shape: [batch, units]) }
        if !oneDNN.forward(backend: backend, batch: batch, input: input, kernel: kernel, bias: bias, activation: appliedActivation,
                           context: context, into: &output) {
            forwardWithOwnKernels(input)
        }
        if context.training { self.input = input }
        return output
    }

    private func forwardWithOwnKernels(_ input: Tensor) {
        let inputUnits = inputUnits, units = units, activation = appliedActivation
        let batch = input.count / inputUnits
        input.withUnsafeBufferPointer { inputs in
            kernel.value.withUnsafeBufferPointer { weights in
                output.withUnsafeMutableBufferPointer { outputs in
                    let inputs = inputs.baseAddress!, weights = weights.baseAddress!, outputs = outputs.baseAddress!
                    withOptionalPointer(to: bias?.value) { biases in
                        // Each shard: its rows of input · kernel + bias, then the activation.
                        Parallel.forEachShard(count: batch, minimumSize: minimumShardRows(work: inputUnits * units)) { _, rows in
                            let result = outputs + rows.lowerBound * units  // [rows, units]
                            MatrixMultiply.gemm(inputs + rows.lowerBound * inputUnits, weights, into: result,
                                                rows: rows.count, columns: units, inner: inputUnits)
                            addBiasAndActivate(result, rows: rows.count, width: units, bias: biases, activation: activation)
                        }
                    }
                }
            }
        }
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        let batch = outputGradient.count / units
        precondition(outputGradient.count == batch * units && input.count == batch * inputUnits,
                     "Dense '\(name)': backward needs the training forward of the same batch")
        if computesInputGradient && inputGradient.count != batch * inputUnits { inputGradient = Tensor(shape: [batch, inputUnits]) }
        if !computesInputGradient { inputGradient = .empty }
        if !oneDNN.backward(backend: backend, batch: batch, input: input, output: output, outputGradient: outputGradient,
                            kernel: kernel, bias: bias, activation: appliedActivation, inputGradient: &inputGradient) {
            backwardWithOwnKernels(outputGradient)
        }
        input = .empty  // let the previous layer reuse its output buffer
        return inputGradient
    }

    private func backwardWithOwnKernels(_ outputGradient: Tensor) {
        let inputUnits = inputUnits, units = units, activation = appliedActivation
        let computesInputGradient = computesInputGradient
        let batch = outputGradient.count / units
        let preActivation = activation == .linear ? nil : preActivationGradient.pointer(count: batch * units)
        input.withUnsafeBufferPointer { inputs in
            output.withUnsafeBufferPointer { outputs in
                outputGradient.withUnsafeBufferPointer { outputGradients in
                    kernel.value.withUnsafeBufferPointer { weights in
                        inputGradient.withUnsafeMutableBufferPointer { inputGradients in
                            let inputs = inputs.baseAddress!, outputs = outputs.baseAddress!, weights = weights.baseAddress!
                            // dZ = activation'(output) ⊙ dY: [batch, units]
                            let gradients = preActivation.map { UnsafePointer($0) } ?? outputGradients.baseAddress!
                            // Empty arrays may still have a base address: test the flag, not the pointer.
                            let inputGradients = computesInputGradient ? inputGradients.baseAddress : nil
                            // Shards of rows: dZ, then dInput = dZ · kernelᵀ: [batch, inputUnits]
                            Parallel.forEachShard(count: batch, minimumSize: minimumShardRows(work: inputUnits * units)) { _, rows in
                                let start = rows.lowerBound * units, count = rows.count * units
                                if let preActivation {
                                    activation.backward(UnsafeBufferPointer(start: outputGradients.baseAddress! + start, count: count),
                                                        output: UnsafeBufferPointer(start: outputs + start, count: count),
                                                        into: UnsafeMutableBufferPointer(start: preActivation + start, count: count),
                                                        width: units)
                                }
                                guard let inputGradients else { return }
                                MatrixMultiply.gemm(gradients + start, weights, transposeB: true,
                                                    into: inputGradients + rows.lowerBound * inputUnits,
                                                    rows: rows.count, columns: inputUnits, inner: units)
                            }
                            // Shards of kernel rows: dKernel += inputᵀ · dZ: [inputUnits, units]
                            kernel.accumulateGradient { kernelGradients, overwrite in
                                let kernelGradients = kernelGradients.baseAddress!
                                Parallel.forEachShard(count: inputUnits, minimumSize: minimumShardRows(work: batch * units)) { _, band in
                                    MatrixMultiply.gemm(inputs + band.lowerBound, leadingA: inputUnits, transposeA: true,
                                                        gradients, leadingB: units,
                                                        into: kernelGradients + band.lowerBound * units, leadingC: units,
                                                        rows: band.count, columns: units, inner: batch, beta: overwrite ? 0 : 1)
                                }
                            }
                            // dBias += Σ over the batch of dZ: [units]
                            bias?.gradient.withUnsafeMutableBufferPointer { biasGradients in
                                for row in 0..<batch {
                                    let rowGradient = gradients + row * units
                                    for unit in 0..<units { biasGradients[unit] += rowGradient[unit] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

extension Dense: KerasLayer {
    static var kerasClassNames: [String] { ["Dense"] }

    static func make(_ options: inout LayerOptions, inputShapes: [[Int]], generator: inout SeededGenerator) throws -> Layer {
        let name = options.name
        let inputShape = try options.singleInput(inputShapes)
        guard inputShape.count == 1 else {
            throw ModelConfigError("Dense layer '\(name)' gets input of shape \(inputShape); add a Flatten layer before it")
        }
        let units = try options.integer("units", default: nil, range: 1...(1 << 20))
        let (activation, useBias, kernelInitializer, biasInitializer) = try options.kernelLayerOptions()
        return Dense(name: name, inputUnits: inputShape[0], units: units, activation: activation,
                     kernel: kernelInitializer.make(shape: try options.checkWeightShape([inputShape[0], units], layer: "Dense layer '\(name)'"),
                                                    generator: &generator),
                     bias: useBias ? biasInitializer.make(shape: [units], generator: &generator) : nil,
                     kernelInitializer: kernelInitializer, biasInitializer: biasInitializer)
    }
}

import LRTTensor
import LRTTensorAVX2

/// A 2-D convolution over NHWC images, `activation(convolve(input, kernel) + bias)` (Keras `Conv2D`).
///
/// Two implementations, chosen by ``backend`` (``KernelBackend/preferred`` by default):
/// oneDNN's convolution primitives (``OneDNNKernels``, with the bias and a ReLU fused in),
/// or lrt's own, below; a shape oneDNN cannot build falls back to lrt's own.
///
/// lrt's own computes one matrix product per chunk of images: im2col turns every
/// receptive field into a row, and `columns · kernel` is the output (Chellapilla
/// et al. 2006); with fewer than four input channels the receptive fields become
/// columns instead, which are faster to gather (``PatchLayout``). The batch is
/// split across cores (``Parallel``); each shard works through its images a chunk
/// at a time so that its columns stay in cache. The backward pass recomputes the
/// columns instead of storing them for the whole batch.
///
/// In inference, a 3×3 window with stride 1 and at least ``winogradMinimumChannels`` channels in and out is
/// computed by Winograd's F(4×4, 3×3) or F(5×5, 3×3) (``WinogradConvolution``) whichever backend is chosen: a
/// quarter of the multiplications or fewer, the same outputs within rounding (`LRT_WINOGRAD=off` turns it off).
public final class Conv2D: KernelLayer, InputGradientSkipping, InferenceFusing {
    public let name: String
    public let className = "Conv2D"
    /// One input image, `[height, width, channels]`.
    public let inputShape: [Int]
    /// The number of output channels.
    public let filters: Int
    /// Kernel size, padding and strides, with the sizes they give.
    public let geometry: WindowGeometry
    public let padding: Padding
    public let activation: Activation
    public let kernel: Parameter  // [kernelHeight, kernelWidth, inputChannels, filters]
    public let bias: Parameter?   // [filters]
    public var emitsLogits = false
    public var computesInputGradient = true
    /// The kernels that compute this layer.
    public var backend = KernelBackend.preferred
    public let kernelInitializer: Initializer
    public let biasInitializer: Initializer

    /// The most im2col (or output) elements a shard works on at once (1 MiB of floats, a core's L2).
    static let columnChunkElements = 1 << 18

    private var input = Tensor(shape: [0])          // [batch, height, width, channels], kept for backward
    private var output = Tensor(shape: [0])         // [batch, outputHeight, outputWidth, filters], after the activation
    private var inputGradient = Tensor(shape: [0])  // [batch, height, width, channels]
    private let preActivationGradient = ScratchBuffer<Float>()  // [batch, outputHeight, outputWidth, filters]
    private let columns = ScratchBuffer<Float>()                // per shard, one chunk's patches in `patchLayout`
    private let kernelGradientPartials = ScratchBuffer<Float>() // [shards, patchSize, filters]
    private let biasGradientPartials = ScratchBuffer<Float>()   // [shards, filters]
    private let oneDNN: OneDNNLayer
    /// Winograd's algorithm for inference, when the window is 3×3 with stride 1 and there are enough channels: for the
    /// outputs, and for the fused inference of a following 2×2 max pooling (which may take other tiles).
    private let winograd: WinogradPlan?, pooledWinograd: WinogradPlan?
    /// For fewer than ``transposedLayoutChannels`` input channels: the fused inference of a following 2×2 max pooling,
    /// and its kernel in the build the CPU runs best.
    private let pooledConvolution: LRTTensor.PooledConvolution?
    private let pooledConvolutionKernel: (any PooledConvolutionKernel)?
    private let packedKernel = ScratchBuffer<Float>()  // PooledConvolution's kernel and bias
    private var packedKernelVersion: Int?
    private var pooledOutput = Tensor(shape: [0])  // [batch, outputHeight / 2, outputWidth / 2, filters], fused inference
    /// Whether inference computes a `MaxPooling2D()` that follows this layer in the same pass where it can
    /// (``InferenceFusion/isEnabled`` by default).
    public var fusesInference = InferenceFusion.isEnabled
    /// Whether inference computes this layer with Winograd's algorithm where it applies
    /// (``WinogradConvolution/isEnabled`` by default); training always convolves directly.
    public var usesWinograd = LRTTensor.WinogradConvolution.isEnabled
    /// Whether inference takes Winograd's algorithm: enabled, and the layer has a 3×3 window, stride 1 and enough channels.
    public var infersWithWinograd: Bool { usesWinograd && winograd != nil }
    /// Why oneDNN could not build this layer's primitives, if it could not; lrt's own kernels run instead.
    public var oneDNNFailure: String? { oneDNN.failure }

    /// - Parameters:
    ///   - name: the Keras layer name.
    ///   - inputShape: one image, `[height, width, channels]`.
    ///   - filters: output channels.
    ///   - kernelSize: `(height, width)` of the kernel.
    ///   - strides: `(height, width)` steps between windows (default 1, 1).
    ///   - padding: `valid` (default) or TensorFlow's `same`.
    ///   - activation: applied to the output (default linear).
    ///   - kernel: initial `[kernelHeight, kernelWidth, channels, filters]` kernel.
    ///   - bias: initial `[filters]` bias, or nil for no bias.
    ///   - kernelInitializer, biasInitializer: how the weights were drawn, kept for the config.
    /// - Precondition: the kernel fits the padded input (``ModelConfig`` checks it and names the layer).
    public init(name: String, inputShape: [Int], filters: Int, kernelSize: (height: Int, width: Int),
                strides: (height: Int, width: Int) = (1, 1), padding: Padding = .valid,
                activation: Activation = .linear, kernel: Tensor, bias: Tensor?,
                kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros) {
        precondition(inputShape.count == 3, "Conv2D '\(name)' needs [height, width, channels] input, got \(inputShape)")
        guard let geometry = WindowGeometry(
            inputHeight: inputShape[0], inputWidth: inputShape[1], channels: inputShape[2],
            windowHeight: kernelSize.height, windowWidth: kernelSize.width,
            strideHeight: strides.height, strideWidth: strides.width, padding: padding)
        else { preconditionFailure("Conv2D '\(name)': kernel \(kernelSize) does not fit input \(inputShape)") }
        precondition(kernel.shape == [kernelSize.height, kernelSize.width, inputShape[2], filters]
                     && (bias == nil || bias!.shape == [filters]))
        self.name = name
        self.inputShape = inputShape
        self.filters = filters
        self.geometry = geometry
        self.padding = padding
        self.activation = activation
        self.kernelInitializer = kernelInitializer
        self.biasInitializer = biasInitializer
        self.kernel = Parameter(layerName: name, weightName: "kernel", value: kernel)
        self.bias = bias.map { Parameter(layerName: name, weightName: "bias", value: $0) }
        oneDNN = OneDNNLayer(name: name, .convolution(geometry, filters: filters), width: filters)
        let enoughChannels = inputShape[2] >= Conv2D.winogradMinimumChannels && filters >= Conv2D.winogradMinimumChannels
        winograd = enoughChannels ? WinogradPlan(geometry: geometry, filters: filters, pooled: false) : nil
        pooledWinograd = enoughChannels ? WinogradPlan(geometry: geometry, filters: filters, pooled: true) : nil
        let fewChannels = inputShape[2] < Conv2D.transposedLayoutChannels
        pooledConvolution = fewChannels ? LRTTensor.PooledConvolution(geometry: geometry, filters: filters) : nil
        pooledConvolutionKernel = fewChannels && CPUFeatures.usesAVX2
            ? LRTTensorAVX2.PooledConvolution(geometry: geometry, filters: filters) : pooledConvolution
    }

    /// Below this many input or output channels, the matrix products of Winograd's algorithm are too thin to gain:
    /// measured on ResNet-20's 16-channel layers, direct convolution is faster.
    public static let winogradMinimumChannels = 32
    /// The most transformed-tile and product elements a shard works on at once (1 MiB of floats: the fastest of
    /// 2¹⁶–2²⁰ on cnn-mnist here).
    static let winogradChunkElements = 1 << 18

    public var outputShape: [Int] { [geometry.outputHeight, geometry.outputWidth, filters] }
    /// Output elements of one image.
    private var outputSize: Int { geometry.outputPositions * filters }
    /// Images per chunk: its columns and its output both within ``columnChunkElements``,
    /// so that backward reads back from cache what it just wrote.
    private var imagesPerChunk: Int {
        max(1, Conv2D.columnChunkElements / (geometry.outputPositions * max(geometry.patchSize, filters)))
    }
    /// The fewest images worth a shard: about a million multiply-adds.
    private var minimumShardImages: Int {
        max(1, (1 << 20) / max(geometry.outputPositions * geometry.patchSize * filters, 1))
    }

    public var config: JSONValue {
        kernelLayerConfig([
            ("filters", .number(Double(filters))),
            ("kernel_size", jsonIntegers([geometry.windowHeight, geometry.windowWidth])),
            ("strides", jsonIntegers([geometry.strideHeight, geometry.strideWidth])),
            ("padding", .string(padding.rawValue)),
            ("data_format", .string("channels_last")),
            ("dilation_rate", jsonIntegers([1, 1])),
            ("groups", .number(1)),
        ])
    }

    /// How a chunk's receptive fields are laid out for the matrix product.
    enum PatchLayout {
        /// A 1×1 kernel with stride 1: the input is its own im2col matrix, `[rows, channels]`.
        case input
        /// im2col, `[rows, patchSize]`: long contiguous copies when there are many channels.
        case rows
        /// Transposed im2col, `[patchSize, rows]`: whole output rows at a time, for few channels.
        case transposed
    }

    /// Below this many input channels the transposed layout is used.
    static let transposedLayoutChannels = 4

    var patchLayout: PatchLayout {
        if geometry.isPointwise { return .input }
        return geometry.channels < Conv2D.transposedLayoutChannels ? .transposed : .rows
    }

    /// The patches of images `first..<first + images` in the layout of ``patchLayout``:
    /// built in `buffer`, or the input itself.
    private func patches(_ inputs: UnsafePointer<Float>, first: Int, images: Int,
                         buffer: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        let source = inputs + first * geometry.inputSize
        switch patchLayout {
        case .input: return source
        case .rows: geometry.im2col(source, images: images, into: buffer)
        case .transposed: geometry.im2colTransposed(source, images: images, into: buffer)
        }
        return UnsafePointer(buffer)
    }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        let geometry = geometry, outputSize = outputSize
        let batch = input.count / geometry.inputSize
        precondition(input.count == batch * geometry.inputSize, "Conv2D '\(name)' expects \(inputShape) inputs per example")
        if output.count != batch * outputSize { output = Tensor(shape: [batch] + outputShape) }
        if !context.training, infersWithWinograd, let winograd {
            forwardWithWinograd(input, winograd, weightsVersion: context.weightsVersion)
        } else if !oneDNN.forward(backend: backend, batch: batch, input: input, kernel: kernel, bias: bias, activation: appliedActivation,
                           context: context, into: &output) {
            forwardWithOwnKernels(input)
        }
        if context.training { self.input = input }
        return output
    }

    private func forwardWithOwnKernels(_ input: Tensor) {
        let geometry = geometry, filters = filters, activation = appliedActivation, outputSize = outputSize
        let batch = input.count / geometry.inputSize
        let imagesPerChunk = imagesPerChunk, transposed = patchLayout == .transposed
        let chunkElements = patchLayout == .input ? 0 : imagesPerChunk * geometry.outputPositions * geometry.patchSize
        let columns = columns.pointer(count: Parallel.shardCount * chunkElements)
        input.withUnsafeBufferPointer { inputs in
            kernel.value.withUnsafeBufferPointer { kernelValues in
                output.withUnsafeMutableBufferPointer { outputs in
                    withOptionalPointer(to: bias?.value) { biases in
                        let inputs = inputs.baseAddress!, kernelValues = kernelValues.baseAddress!, outputs = outputs.baseAddress!
                        Parallel.forEachShard(count: batch, minimumSize: minimumShardImages) { shard, items in
                            for first in stride(from: items.lowerBound, to: items.upperBound, by: imagesPerChunk) {
                                let images = min(imagesPerChunk, items.upperBound - first)
                                let rows = images * geometry.outputPositions
                                let patches = patches(inputs, first: first, images: images, buffer: columns + shard * chunkElements)
                                // [rows, filters] = patches · kernel
                                let result = outputs + first * outputSize
                                MatrixMultiply.gemm(patches, transposeA: transposed, kernelValues, into: result,
                                                    rows: rows, columns: filters, inner: geometry.patchSize)
                                addBiasAndActivate(result, rows: rows, width: filters, bias: biases, activation: activation)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Inference of this layer and a following `MaxPooling2D` of a 2×2 window and stride 2 (`valid`) in one pass,
    /// when the activation is ReLU or linear and the convolution runs by Winograd's algorithm (the bias, the ReLU and
    /// the maximum applied to each output tile: the same values as the separate layers) or has fewer than four input
    /// channels (``PooledConvolution``: the same to rounding); nil otherwise.
    public func forward(_ input: Tensor, fusing next: Layer, context: inout ForwardContext) -> Tensor? {
        guard !context.training, fusesInference, let pooling = next as? MaxPooling2D, pooling.halvesEachSide,
              pooling.inputShape == outputShape, appliedActivation == .relu || appliedActivation == .linear,
              geometry.outputHeight >= 2, geometry.outputWidth >= 2 else { return nil }
        let batch = input.count / geometry.inputSize
        precondition(input.count == batch * geometry.inputSize, "Conv2D '\(name)' expects \(inputShape) inputs per example")
        guard infersWithWinograd || pooledConvolution != nil else { return nil }
        let pooledShape = [geometry.outputHeight / 2, geometry.outputWidth / 2, filters]
        if pooledOutput.count != batch * pooledShape.reduce(1, *) { pooledOutput = Tensor(shape: [batch] + pooledShape) }
        if infersWithWinograd, let pooledWinograd {
            forwardWithWinograd(input, pooledWinograd, weightsVersion: context.weightsVersion)
        } else if let pooledConvolution, let pooledConvolutionKernel {
            forwardPooledDirectly(input, pooledConvolution, pooledConvolutionKernel, weightsVersion: context.weightsVersion)
        }
        return pooledOutput
    }

    /// ``PooledConvolution`` into ``pooledOutput``: `convolution` packs the kernel, `kernel` (the same or its AVX2
    /// build) convolves.
    private func forwardPooledDirectly(_ input: Tensor, _ convolution: LRTTensor.PooledConvolution,
                                       _ kernel: any PooledConvolutionKernel, weightsVersion: Int?) {
        let geometry = geometry
        let batch = input.count / geometry.inputSize, pooledSize = convolution.pooledHeight * convolution.pooledWidth * filters
        let rectifies = appliedActivation == .relu
        let packed = packedKernel.pointer(count: convolution.packedCount)
        if weightsVersion == nil || weightsVersion != packedKernelVersion {
            self.kernel.value.withUnsafeBufferPointer { kernelValues in
                withOptionalPointer(to: bias?.value) { convolution.pack(kernel: kernelValues.baseAddress!, bias: $0, into: packed) }
            }
            packedKernelVersion = weightsVersion
        }
        let scratch = columns.pointer(count: Parallel.shardCount * LRTTensor.PooledConvolution.scratchCount)
        input.withUnsafeBufferPointer { inputs in
            pooledOutput.withUnsafeMutableBufferPointer { outputs in
                let inputs = inputs.baseAddress!, outputs = outputs.baseAddress!
                Parallel.forEachShard(count: batch, minimumSize: minimumShardImages) { shard, items in
                    let (source, target) = (inputs + items.lowerBound * geometry.inputSize, outputs + items.lowerBound * pooledSize)
                    let shardScratch = scratch + shard * LRTTensor.PooledConvolution.scratchCount
                    kernel.convolve(source, images: items.count, packed: packed, rectifies: rectifies, into: target,
                                    scratch: shardScratch)
                }
            }
        }
    }

    /// Inference by Winograd's algorithm: the same outputs as direct convolution within rounding; into ``output``, or with
    /// the bias, the activation (ReLU or linear) and a 2×2 max pooling into ``pooledOutput`` when the plan is pooled.
    private func forwardWithWinograd(_ input: Tensor, _ plan: WinogradPlan, weightsVersion: Int?) {
        let winograd = plan.convolution, pooled = winograd.pooled
        let geometry = geometry, filters = filters, activation = appliedActivation
        let outputSize = pooled ? (geometry.outputHeight / 2) * (geometry.outputWidth / 2) * filters : self.outputSize
        let batch = input.count / geometry.inputSize
        let imagesPerChunk = winograd.imagesPerChunk(within: Conv2D.winogradChunkElements)
        let scratchCount = winograd.scratchCount(images: imagesPerChunk)
        let scratch = columns.pointer(count: Parallel.shardCount * scratchCount)
        let transformed = plan.transformedKernel.pointer(count: winograd.transformedKernelCount)
        if weightsVersion == nil || weightsVersion != plan.transformedKernelVersion {
            kernel.value.withUnsafeBufferPointer { winograd.transformKernel($0.baseAddress!, into: transformed) }
            plan.transformedKernelVersion = weightsVersion
        }
        func run(into outputs: UnsafeMutablePointer<Float>) {
            input.withUnsafeBufferPointer { inputs in
                withOptionalPointer(to: bias?.value) { biases in
                    let inputs = inputs.baseAddress!, rectifies = activation == .relu
                    let kernel = plan.kernel
                    Parallel.forEachShard(count: batch, minimumSize: minimumShardImages) { shard, items in
                        for first in stride(from: items.lowerBound, to: items.upperBound, by: imagesPerChunk) {
                            let images = min(imagesPerChunk, items.upperBound - first)
                            let (source, result) = (inputs + first * geometry.inputSize, outputs + first * outputSize)
                            kernel.convolve(source, images: images, transformedKernel: transformed, into: result,
                                            scratch: scratch + shard * scratchCount,
                                            pooling: pooled ? WinogradPooling(bias: biases, rectifies: rectifies) : nil)
                            if !pooled {
                                addBiasAndActivate(result, rows: images * geometry.outputPositions, width: filters,
                                                   bias: biases, activation: activation)
                            }
                        }
                    }
                }
            }
        }
        if pooled {
            pooledOutput.withUnsafeMutableBufferPointer { run(into: $0.baseAddress!) }
        } else {
            output.withUnsafeMutableBufferPointer { run(into: $0.baseAddress!) }
        }
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        let batch = outputGradient.count / outputSize
        precondition(outputGradient.count == batch * outputSize && input.count == batch * geometry.inputSize,
                     "Conv2D '\(name)': backward needs the training forward of the same batch")
        if computesInputGradient && inputGradient.count != input.count { inputGradient = Tensor(shape: input.shape) }
        if !computesInputGradient { inputGradient = .empty }
        if !oneDNN.backward(backend: backend, batch: batch, input: input, output: output, outputGradient: outputGradient,
                            kernel: kernel, bias: bias, activation: appliedActivation, inputGradient: &inputGradient) {
            backwardWithOwnKernels(outputGradient)
        }
        input = .empty  // let the previous layer reuse its output buffer
        return inputGradient
    }

    private func backwardWithOwnKernels(_ outputGradient: Tensor) {
        let geometry = geometry, filters = filters, activation = appliedActivation, outputSize = outputSize
        let computesInputGradient = computesInputGradient
        let batch = outputGradient.count / outputSize
        let imagesPerChunk = imagesPerChunk, layout = patchLayout
        let chunkElements = layout == .input ? 0 : imagesPerChunk * geometry.outputPositions * geometry.patchSize
        let columns = columns.pointer(count: Parallel.shardCount * chunkElements)
        let kernelCount = geometry.patchSize * filters
        let kernelPartials = kernelGradientPartials.pointer(count: Parallel.shardCount * kernelCount)
        let biasPartials = biasGradientPartials.pointer(count: Parallel.shardCount * filters)
        let preActivation = activation == .linear ? nil : preActivationGradient.pointer(count: outputGradient.count)
        let shards = Parallel.shardCount(for: batch, minimumSize: minimumShardImages)

        input.withUnsafeBufferPointer { inputs in
            output.withUnsafeBufferPointer { outputs in
                outputGradient.withUnsafeBufferPointer { outputGradients in
                    kernel.value.withUnsafeBufferPointer { kernelValues in
                        inputGradient.withUnsafeMutableBufferPointer { inputGradients in
                            let inputs = inputs.baseAddress!, outputs = outputs.baseAddress!
                            let outputGradients = outputGradients.baseAddress!, kernelValues = kernelValues.baseAddress!
                            // Empty arrays may still have a base address: test the flag, not the pointer.
                            let inputGradients = computesInputGradient ? inputGradients.baseAddress : nil
                            Parallel.forEachShard(count: batch, minimumSize: minimumShardImages) { shard, items in
                                let kernelPartial = kernelPartials + shard * kernelCount  // [patchSize, filters]
                                let biasPartial = biasPartials + shard * filters          // [filters]
                                let buffer = columns + shard * chunkElements
                                biasPartial.update(repeating: 0, count: filters)
                                for first in stride(from: items.lowerBound, to: items.upperBound, by: imagesPerChunk) {
                                    let images = min(imagesPerChunk, items.upperBound - first)
                                    let rows = images * geometry.outputPositions
                                    let count = rows * filters
                                    // dZ = activation'(output) ⊙ dY: [rows, filters]
                                    var gradient = outputGradients + first * outputSize
                                    if let preActivation {
                                        let target = preActivation + first * outputSize
                                        activation.backward(UnsafeBufferPointer(start: gradient, count: count),
                                                            output: UnsafeBufferPointer(start: outputs + first * outputSize, count: count),
                                                            into: UnsafeMutableBufferPointer(start: target, count: count), width: filters)
                                        gradient = UnsafePointer(target)
                                    }
                                    // dBias += Σ over rows of dZ
                                    for row in 0..<rows {
                                        let rowGradient = gradient + row * filters  // a row pointer keeps the inner loop simple enough to vectorize
                                        for filter in 0..<filters { biasPartial[filter] += rowGradient[filter] }
                                    }
                                    // dKernel += patchesᵀ · dZ: [patchSize, filters]
                                    let patches = patches(inputs, first: first, images: images, buffer: buffer)
                                    MatrixMultiply.gemm(patches, transposeA: layout != .transposed, gradient, into: kernelPartial,
                                                        rows: geometry.patchSize, columns: filters, inner: rows,
                                                        beta: first == items.lowerBound ? 0 : 1)
                                    // dInput = col2im(dZ · kernelᵀ)
                                    guard let inputGradients else { continue }
                                    let target = inputGradients + first * geometry.inputSize
                                    switch layout {
                                    case .input:
                                        MatrixMultiply.gemm(gradient, kernelValues, transposeB: true, into: target,
                                                            rows: rows, columns: geometry.channels, inner: filters)
                                    case .rows:
                                        MatrixMultiply.gemm(gradient, kernelValues, transposeB: true, into: buffer,
                                                            rows: rows, columns: geometry.patchSize, inner: filters)
                                        geometry.col2im(buffer, images: images, into: target)
                                    case .transposed:
                                        MatrixMultiply.gemm(kernelValues, gradient, transposeB: true, into: buffer,
                                                            rows: geometry.patchSize, columns: rows, inner: filters)
                                        geometry.col2imTransposed(buffer, images: images, into: target)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        // Add the shards' partial gradients.
        kernel.gradient.withUnsafeMutableBufferPointer { kernelGradients in
            for shard in 0..<max(shards, 1) {
                addElements(kernelPartials + shard * kernelCount, into: kernelGradients.baseAddress!, count: kernelCount)
            }
        }
        bias?.gradient.withUnsafeMutableBufferPointer { biasGradients in
            for shard in 0..<max(shards, 1) {
                addElements(biasPartials + shard * filters, into: biasGradients.baseAddress!, count: filters)
            }
        }
    }
}

extension Conv2D: KerasLayer {
    static var kerasClassNames: [String] { ["Conv2D"] }

    static func make(_ options: inout LayerOptions, inputShapes: [[Int]], generator: inout SeededGenerator) throws -> Layer {
        let name = options.name
        let inputShape = try options.singleInput(inputShapes)
        let image = try ModelConfig.imageShape(inputShape, layer: "Conv2D layer '\(name)'")
        let filters = try options.integer("filters", default: nil, range: 1...(1 << 16))
        let kernelSize = try options.pair("kernel_size", default: nil, range: 1...(1 << 10))
        let strides = try options.pair("strides", default: (1, 1), range: 1...(1 << 10))
        let padding = try options.padding()
        try options.channelsLast()
        guard try options.pair("dilation_rate", default: (1, 1), range: 1...(1 << 10)) == (1, 1) else {
            throw ModelConfigError("Conv2D layer '\(name)': dilation_rate other than 1 is not supported")
        }
        let groups = try options.integer("groups", default: 1, range: 1...(1 << 16))
        guard groups == 1 else {
            throw ModelConfigError("Conv2D layer '\(name)': groups \(groups) is not supported; only groups 1")
        }
        let (activation, useBias, kernelInitializer, biasInitializer) = try options.kernelLayerOptions()
        try ModelConfig.checkWindow(image, window: kernelSize, strides: strides, padding: padding,
                        layer: "Conv2D layer '\(name)'", what: "kernel_size")
        let kernelShape = try options.checkWeightShape([kernelSize.0, kernelSize.1, image[2], filters], layer: "Conv2D layer '\(name)'")
        return Conv2D(name: name, inputShape: image, filters: filters, kernelSize: kernelSize, strides: strides,
                      padding: padding, activation: activation,
                      kernel: kernelInitializer.make(shape: kernelShape, generator: &generator),
                      bias: useBias ? biasInitializer.make(shape: [filters], generator: &generator) : nil,
                      kernelInitializer: kernelInitializer, biasInitializer: biasInitializer)
    }
}

/// A ``LRTTensor/WinogradConvolution`` of a layer, its convolution in the build the CPU runs best, and its transformed kernel.
private final class WinogradPlan {
    let convolution: LRTTensor.WinogradConvolution
    /// LRTTensorAVX2's build where ``CPUFeatures/usesAVX2``: the same results.
    let kernel: any WinogradKernel
    let transformedKernel = ScratchBuffer<Float>()  // [points, channels, filters]
    var transformedKernelVersion: Int?  // the ForwardContext.weightsVersion it was made for

    init?(geometry: WindowGeometry, filters: Int, pooled: Bool) {
        guard let convolution = LRTTensor.WinogradConvolution(geometry: geometry, filters: filters, pooled: pooled) else { return nil }
        self.convolution = convolution
        if CPUFeatures.usesAVX2, let wide = LRTTensorAVX2.WinogradConvolution(geometry: geometry, filters: filters, pooled: pooled) {
            kernel = wide
        } else {
            kernel = convolution
        }
    }
}

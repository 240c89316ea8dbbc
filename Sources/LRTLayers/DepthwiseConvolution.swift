import LRTTensor

/// The depthwise convolution that `DepthwiseConv2D` and `SeparableConv2D` share: each input channel
/// convolved with its own `depthMultiplier` filters, output channel `channel · depthMultiplier + m`
/// (TensorFlow's and Keras's order), on NHWC images, with a kernel `[kernelHeight, kernelWidth, channels, depthMultiplier]`.
///
/// Direct loops over the windows: the work per output is small (one window, no sum over
/// channels), so an im2col product would mostly move memory. The innermost loop runs over the
/// channels of one position, which are contiguous in the image, the kernel and the output.
struct DepthwiseKernels {
    /// The window, strides, padding and the sizes they give, for `channels` input channels.
    let geometry: WindowGeometry
    let depthMultiplier: Int

    /// Channels of the output: `channels · depthMultiplier`.
    var outputChannels: Int { geometry.channels * depthMultiplier }
    /// Elements of one output image.
    var outputSize: Int { geometry.outputPositions * outputChannels }
    /// Multiply-adds per image.
    var workPerImage: Int { outputSize * geometry.windowHeight * geometry.windowWidth }

    /// Calls `body(outputOffset, inputOffset, kernelOffset)` for every output position of image `image`
    /// and every window element inside the image: the output position's channels start at
    /// `outputOffset`, the input position's at `inputOffset` (both within the batch), the window
    /// element's kernel at `kernelOffset`. `beginOutput(outputOffset)` runs first for each position.
    @inline(__always)
    private func forEachWindowElement(image: Int, beginOutput: (_ outputOffset: Int) -> Void,
                                      _ body: (_ outputOffset: Int, _ inputOffset: Int, _ kernelOffset: Int) -> Void) {
        let geometry = geometry, outputChannels = outputChannels, channels = geometry.channels
        for outputY in 0..<geometry.outputHeight {
            let top = outputY * geometry.strideHeight - geometry.padTop
            let rows = max(top, 0)..<min(top + geometry.windowHeight, geometry.inputHeight)
            for outputX in 0..<geometry.outputWidth {
                let left = outputX * geometry.strideWidth - geometry.padLeft
                let columns = max(left, 0)..<min(left + geometry.windowWidth, geometry.inputWidth)
                let outputOffset = ((image * geometry.outputHeight + outputY) * geometry.outputWidth + outputX) * outputChannels
                beginOutput(outputOffset)
                for y in rows {
                    for x in columns {
                        body(outputOffset, ((image * geometry.inputHeight + y) * geometry.inputWidth + x) * channels,
                             ((y - top) * geometry.windowWidth + (x - left)) * outputChannels)
                    }
                }
            }
        }
    }

    /// The depthwise convolution of images `images`, without bias or activation.
    /// - Parameters:
    ///   - input: `[batch, inputHeight, inputWidth, channels]`.
    ///   - kernel: `[windowHeight, windowWidth, channels, depthMultiplier]`.
    ///   - output: `[batch, outputHeight, outputWidth, channels · depthMultiplier]`; those images overwritten.
    func forward(_ input: UnsafePointer<Float>, kernel: UnsafePointer<Float>, images: Range<Int>,
                 into output: UnsafeMutablePointer<Float>) {
        let channels = geometry.channels, outputChannels = outputChannels, depthMultiplier = depthMultiplier
        for image in images {
            forEachWindowElement(image: image) { outputOffset in
                (output + outputOffset).update(repeating: 0, count: outputChannels)
            } _: { outputOffset, inputOffset, kernelOffset in
                let target = output + outputOffset, source = input + inputOffset, weights = kernel + kernelOffset
                if depthMultiplier == 1 {
                    for channel in 0..<channels { target[channel] += source[channel] * weights[channel] }
                } else {
                    for channel in 0..<channels {
                        let value = source[channel], first = channel * depthMultiplier
                        for index in first..<first + depthMultiplier { target[index] += value * weights[index] }
                    }
                }
            }
        }
    }

    /// The gradients of ``forward(_:kernel:images:into:)`` for images `images`.
    /// - Parameters:
    ///   - outputGradient: `[batch, outputHeight, outputWidth, channels · depthMultiplier]`, at the depthwise output.
    ///   - input: `[batch, inputHeight, inputWidth, channels]`, what forward read.
    ///   - kernel: `[windowHeight, windowWidth, channels, depthMultiplier]`.
    ///   - inputGradient: `[batch, inputHeight, inputWidth, channels]`; those images overwritten.
    ///   - kernelGradient: `[windowHeight, windowWidth, channels, depthMultiplier]`, added to.
    func backward(_ outputGradient: UnsafePointer<Float>, input: UnsafePointer<Float>, kernel: UnsafePointer<Float>,
                  images: Range<Int>, inputGradient: UnsafeMutablePointer<Float>, kernelGradient: UnsafeMutablePointer<Float>) {
        let channels = geometry.channels, depthMultiplier = depthMultiplier, inputSize = geometry.inputSize
        for image in images {
            (inputGradient + image * inputSize).update(repeating: 0, count: inputSize)
            forEachWindowElement(image: image) { _ in } _: { outputOffset, inputOffset, kernelOffset in
                let gradient = outputGradient + outputOffset, source = input + inputOffset
                let weights = kernel + kernelOffset, weightGradient = kernelGradient + kernelOffset
                let target = inputGradient + inputOffset
                if depthMultiplier == 1 {
                    for channel in 0..<channels {
                        target[channel] += gradient[channel] * weights[channel]
                        weightGradient[channel] += gradient[channel] * source[channel]
                    }
                } else {
                    for channel in 0..<channels {
                        let value = source[channel], first = channel * depthMultiplier
                        var sum: Float = 0
                        for index in first..<first + depthMultiplier {
                            sum += gradient[index] * weights[index]
                            weightGradient[index] += gradient[index] * value
                        }
                        target[channel] += sum
                    }
                }
            }
        }
    }
}

extension WindowGeometry {
    /// The window over `image` (`[height, width, channels]`) of a layer whose config has been checked.
    /// - Precondition: `image` has three axes and the window fits (``ModelConfig/checkWindow(_:window:strides:padding:layer:what:)``).
    init(layer: String, image: [Int], window: (height: Int, width: Int), strides: (height: Int, width: Int), padding: Padding) {
        precondition(image.count == 3, "\(layer) needs [height, width, channels] input, got \(image)")
        guard let geometry = WindowGeometry(inputHeight: image[0], inputWidth: image[1], channels: image[2],
                                            windowHeight: window.height, windowWidth: window.width,
                                            strideHeight: strides.height, strideWidth: strides.width, padding: padding)
        else { preconditionFailure("\(layer): window \(window) does not fit input \(image)") }
        self = geometry
    }
}

/// The options `DepthwiseConv2D` and `SeparableConv2D` read alike.
private struct DepthwiseOptions {
    let image: [Int]
    let kernelSize: (Int, Int)
    let strides: (Int, Int)
    let padding: Padding
    let depthMultiplier: Int
    let activation: Activation
    let useBias: Bool
    let depthwiseInitializer: Initializer
    let biasInitializer: Initializer
    let geometry: WindowGeometry

    init(_ options: inout LayerOptions, inputShapes: [[Int]]) throws {
        let layer = options.layerDescription
        image = try ModelConfig.imageShape(try options.singleInput(inputShapes), layer: layer)
        depthMultiplier = try options.integer("depth_multiplier", default: 1, range: 1...(1 << 16))
        kernelSize = try options.pair("kernel_size", default: nil, range: 1...(1 << 10))
        strides = try options.pair("strides", default: (1, 1), range: 1...(1 << 10))
        padding = try options.padding()
        try options.channelsLast()
        guard try options.pair("dilation_rate", default: (1, 1), range: 1...(1 << 10)) == (1, 1) else {
            throw ModelConfigError("\(layer): dilation_rate other than 1 is not supported")
        }
        // Keras 2 wrote the Conv2D option `groups` (always 1) into these configs too.
        let groups = try options.integer("groups", default: 1, range: 1...(1 << 16))
        guard groups == 1 else { throw ModelConfigError("\(layer): groups \(groups) is not supported; only groups 1") }
        activation = try options.activation("activation", default: .linear)
        useBias = try options.bool("use_bias", default: true)
        depthwiseInitializer = try options.initializer("depthwise_initializer", default: .glorotUniform)
        biasInitializer = try options.initializer("bias_initializer", default: .zeros)
        try options.requireNull(["depthwise_regularizer", "bias_regularizer", "activity_regularizer",
                                 "depthwise_constraint", "bias_constraint"])
        try ModelConfig.checkWindow(image, window: kernelSize, strides: strides, padding: padding, layer: layer, what: "kernel_size")
        geometry = WindowGeometry(layer: layer, image: image, window: kernelSize, strides: strides, padding: padding)
        _ = try ModelConfig.checkWeightShape([kernelSize.0, kernelSize.1, image[2], depthMultiplier], layer: layer)
    }

    /// The config members both layers write after `name`, `trainable`, `dtype` (and `depth_multiplier`, `filters`).
    static func windowConfig(_ geometry: WindowGeometry, padding: Padding, activation: Activation, useBias: Bool)
        -> [(key: String, value: JSONValue)] {
        [
            ("kernel_size", jsonIntegers([geometry.windowHeight, geometry.windowWidth])),
            ("strides", jsonIntegers([geometry.strideHeight, geometry.strideWidth])),
            ("padding", .string(padding.rawValue)),
            ("data_format", .string("channels_last")),
            ("dilation_rate", jsonIntegers([1, 1])),
            ("activation", .string(activation.kerasName)),
            ("use_bias", .bool(useBias)),
        ]
    }
}

/// Adds the per-shard partial sums `partials` (`[shards, count]`) into `gradient`.
private func addPartials(_ partials: UnsafePointer<Float>, shards: Int, count: Int, into gradient: inout Tensor) {
    gradient.withUnsafeMutableBufferPointer { gradients in
        for shard in 0..<shards {
            let partial = partials + shard * count
            for index in 0..<count { gradients[index] += partial[index] }
        }
    }
}

/// A depthwise 2-D convolution, `activation(depthwise(input, kernel) + bias)` (Keras `DepthwiseConv2D`;
/// the first half of MobileNet's separable convolution, Howard et al. 2017).
///
/// `[batch, height, width, channels]` → `[batch, outputHeight, outputWidth, channels · depthMultiplier]`:
/// each input channel is convolved with its own `depthMultiplier` filters and no other channel.
public final class DepthwiseConv2D: Layer, KerasLayer {
    static let kerasClassNames = ["DepthwiseConv2D"]

    public let name: String
    public let className = "DepthwiseConv2D"
    /// One input image, `[height, width, channels]`.
    public let inputShape: [Int]
    /// Kernel size, padding and strides, with the sizes they give.
    public var geometry: WindowGeometry { kernels.geometry }
    public var depthMultiplier: Int { kernels.depthMultiplier }
    public let padding: Padding
    public let activation: Activation
    /// `[kernelHeight, kernelWidth, channels, depthMultiplier]`, Keras's `kernel`.
    public let kernel: Parameter
    /// `[channels · depthMultiplier]`, or nil when `use_bias` is false.
    public let bias: Parameter?
    /// Recorded in the config so that Keras re-creates the layer as it was described.
    public let depthwiseInitializer: Initializer
    public let biasInitializer: Initializer

    private let kernels: DepthwiseKernels
    private var input = Tensor(shape: [0])          // [batch, height, width, channels], kept for backward
    private var output = Tensor(shape: [0])         // [batch, outputHeight, outputWidth, channels · depthMultiplier]
    private var inputGradient = Tensor(shape: [0])  // [batch, height, width, channels]
    private let preActivationGradient = ScratchBuffer<Float>()  // [batch, outputHeight, outputWidth, channels · depthMultiplier]
    private let kernelGradientPartials = ScratchBuffer<Float>() // [shards, kernelHeight · kernelWidth · channels · depthMultiplier]
    private let biasGradientPartials = ScratchBuffer<Float>()   // [shards, channels · depthMultiplier]

    /// - Parameters:
    ///   - name: the Keras layer name.
    ///   - inputShape: one image, `[height, width, channels]`.
    ///   - kernelSize: `(height, width)` of the kernel.
    ///   - strides: steps between windows (default 1, 1).
    ///   - padding: `valid` (default) or TensorFlow's `same` (the odd padding row and column after).
    ///   - depthMultiplier: filters per input channel (default 1).
    ///   - activation: applied to the output (default linear).
    ///   - kernel: initial `[kernelHeight, kernelWidth, channels, depthMultiplier]` kernel.
    ///   - bias: initial `[channels · depthMultiplier]` bias, or nil for no bias.
    ///   - depthwiseInitializer, biasInitializer: how the weights were drawn, kept for the config.
    /// - Precondition: the kernel fits the padded input (``make(_:inputShapes:generator:)`` checks it and names the layer).
    public init(name: String, inputShape: [Int], kernelSize: (height: Int, width: Int), strides: (height: Int, width: Int) = (1, 1),
                padding: Padding = .valid, depthMultiplier: Int = 1, activation: Activation = .linear, kernel: Tensor, bias: Tensor?,
                depthwiseInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros) {
        let geometry = WindowGeometry(layer: "DepthwiseConv2D '\(name)'", image: inputShape, window: kernelSize, strides: strides, padding: padding)
        precondition(kernel.shape == [kernelSize.height, kernelSize.width, inputShape[2], depthMultiplier]
                     && (bias == nil || bias!.shape == [inputShape[2] * depthMultiplier]))
        self.name = name
        self.inputShape = inputShape
        self.padding = padding
        self.activation = activation
        self.depthwiseInitializer = depthwiseInitializer
        self.biasInitializer = biasInitializer
        kernels = DepthwiseKernels(geometry: geometry, depthMultiplier: depthMultiplier)
        self.kernel = Parameter(layerName: name, weightName: "kernel", value: kernel)
        self.bias = bias.map { Parameter(layerName: name, weightName: "bias", value: $0) }
    }

    static func make(_ options: inout LayerOptions, inputShapes: [[Int]], generator: inout SeededGenerator) throws -> Layer {
        let read = try DepthwiseOptions(&options, inputShapes: inputShapes)
        let kernelShape = [read.kernelSize.0, read.kernelSize.1, read.image[2], read.depthMultiplier]
        return DepthwiseConv2D(
            name: options.name, inputShape: read.image, kernelSize: read.kernelSize, strides: read.strides, padding: read.padding,
            depthMultiplier: read.depthMultiplier, activation: read.activation,
            kernel: read.depthwiseInitializer.make(shape: kernelShape, generator: &generator),
            bias: read.useBias ? read.biasInitializer.make(shape: [read.image[2] * read.depthMultiplier], generator: &generator) : nil,
            depthwiseInitializer: read.depthwiseInitializer, biasInitializer: read.biasInitializer)
    }

    public var parameters: [Parameter] { [kernel] + (bias.map { [$0] } ?? []) }
    public var outputShape: [Int] { [geometry.outputHeight, geometry.outputWidth, kernels.outputChannels] }

    public var config: JSONValue {
        .object(baseLayerConfig(name: name) + [("depth_multiplier", .number(Double(depthMultiplier)))]
            + DepthwiseOptions.windowConfig(geometry, padding: padding, activation: activation, useBias: bias != nil) + [
                ("depthwise_initializer", depthwiseInitializer.config),
                ("bias_initializer", biasInitializer.config),
                ("depthwise_regularizer", .null), ("bias_regularizer", .null), ("activity_regularizer", .null),
                ("depthwise_constraint", .null), ("bias_constraint", .null),
            ])
    }

    private var minimumShardImages: Int { max(1, (1 << 18) / max(kernels.workPerImage, 1)) }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        let kernels = kernels, activation = activation, outputSize = kernels.outputSize
        let batch = input.count / geometry.inputSize
        precondition(input.count == batch * geometry.inputSize, "DepthwiseConv2D '\(name)' expects \(inputShape) inputs per example")
        if output.count != batch * outputSize { output = Tensor(shape: [batch] + outputShape) }
        input.withUnsafeBufferPointer { inputs in
            kernel.value.withUnsafeBufferPointer { kernelValues in
                output.withUnsafeMutableBufferPointer { outputs in
                    withOptionalPointer(to: bias?.value) { biases in
                        guard let inputs = inputs.baseAddress, let outputs = outputs.baseAddress else { return }
                        let kernelValues = kernelValues.baseAddress!
                        Parallel.forEachShard(count: batch, minimumSize: minimumShardImages) { _, images in
                            kernels.forward(inputs, kernel: kernelValues, images: images, into: outputs)
                            addBiasAndActivate(outputs + images.lowerBound * outputSize, rows: images.count * geometry.outputPositions,
                                               width: kernels.outputChannels, bias: biases, activation: activation)
                        }
                    }
                }
            }
        }
        if context.training { self.input = input }
        return output
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        let kernels = kernels, activation = activation, outputSize = kernels.outputSize
        let width = kernels.outputChannels, batch = outputGradient.count / outputSize
        precondition(outputGradient.count == batch * outputSize && input.count == batch * geometry.inputSize,
                     "DepthwiseConv2D '\(name)': backward needs the training forward of the same batch")
        if inputGradient.count != input.count { inputGradient = Tensor(shape: input.shape) }
        let kernelCount = kernel.value.count, shards = Parallel.shardCount(for: batch, minimumSize: minimumShardImages)
        let kernelPartials = kernelGradientPartials.pointer(count: Parallel.shardCount * kernelCount)
        let biasPartials = biasGradientPartials.pointer(count: Parallel.shardCount * width)
        let preActivation = activation == .linear ? nil : preActivationGradient.pointer(count: outputGradient.count)
        let hasBias = bias != nil
        input.withUnsafeBufferPointer { inputs in
            output.withUnsafeBufferPointer { outputs in
                outputGradient.withUnsafeBufferPointer { outputGradients in
                    kernel.value.withUnsafeBufferPointer { kernelValues in
                        inputGradient.withUnsafeMutableBufferPointer { inputGradients in
                            guard let inputs = inputs.baseAddress, let outputGradients = outputGradients.baseAddress else { return }
                            let outputs = outputs.baseAddress!, kernelValues = kernelValues.baseAddress!
                            let inputGradients = inputGradients.baseAddress!
                            Parallel.forEachShard(count: batch, minimumSize: minimumShardImages) { shard, images in
                                let start = images.lowerBound * outputSize, count = images.count * outputSize
                                // dZ = activation'(output) ⊙ dY: [images, outputHeight, outputWidth, channels · depthMultiplier]
                                if let preActivation {
                                    activation.backward(UnsafeBufferPointer(start: outputGradients + start, count: count),
                                                        output: UnsafeBufferPointer(start: outputs + start, count: count),
                                                        into: UnsafeMutableBufferPointer(start: preActivation + start, count: count), width: width)
                                }
                                let gradients = UnsafePointer(preActivation) ?? outputGradients
                                let kernelPartial = kernelPartials + shard * kernelCount, biasPartial = biasPartials + shard * width
                                kernelPartial.update(repeating: 0, count: kernelCount)
                                kernels.backward(gradients, input: inputs, kernel: kernelValues, images: images,
                                                 inputGradient: inputGradients, kernelGradient: kernelPartial)
                                guard hasBias else { return }
                                biasPartial.update(repeating: 0, count: width)
                                for row in 0..<images.count * geometry.outputPositions {
                                    let rowGradient = gradients + start + row * width
                                    for channel in 0..<width { biasPartial[channel] += rowGradient[channel] }
                                }
                            }
                        }
                    }
                }
            }
        }
        addPartials(kernelPartials, shards: shards, count: kernelCount, into: &kernel.gradient)
        if let bias { addPartials(biasPartials, shards: shards, count: width, into: &bias.gradient) }
        input = .empty  // let the previous layer reuse its output buffer
        return inputGradient
    }
}

/// A depthwise separable 2-D convolution (Keras `SeparableConv2D`; Chollet 2017, Howard et al. 2017):
/// a depthwise convolution (no bias, no activation), then a 1×1 convolution to `filters` channels,
/// `activation(pointwise(depthwise(input)) + bias)`.
///
/// `[batch, height, width, channels]` → `[batch, outputHeight, outputWidth, filters]`. The pointwise
/// step is one matrix product per shard of images, `[positions, channels · depthMultiplier] · [channels · depthMultiplier, filters]`.
public final class SeparableConv2D: Layer, KerasLayer {
    static let kerasClassNames = ["SeparableConv2D"]

    public let name: String
    public let className = "SeparableConv2D"
    /// One input image, `[height, width, channels]`.
    public let inputShape: [Int]
    public let filters: Int
    public var geometry: WindowGeometry { kernels.geometry }
    public var depthMultiplier: Int { kernels.depthMultiplier }
    public let padding: Padding
    public let activation: Activation
    /// `[kernelHeight, kernelWidth, channels, depthMultiplier]`.
    public let depthwiseKernel: Parameter
    /// `[1, 1, channels · depthMultiplier, filters]`.
    public let pointwiseKernel: Parameter
    /// `[filters]`, or nil when `use_bias` is false.
    public let bias: Parameter?
    /// Recorded in the config so that Keras re-creates the layer as it was described.
    public let depthwiseInitializer: Initializer
    public let pointwiseInitializer: Initializer
    public let biasInitializer: Initializer

    private let kernels: DepthwiseKernels
    private var input = Tensor(shape: [0])          // [batch, height, width, channels], kept for backward
    private var output = Tensor(shape: [0])         // [batch, outputHeight, outputWidth, filters]
    private var inputGradient = Tensor(shape: [0])  // [batch, height, width, channels]
    /// The depthwise output, kept for backward.
    private let depthwiseOutput = ScratchBuffer<Float>()          // [batch, outputHeight, outputWidth, channels · depthMultiplier]
    private let depthwiseOutputGradient = ScratchBuffer<Float>()  // [batch, outputHeight, outputWidth, channels · depthMultiplier]
    private let preActivationGradient = ScratchBuffer<Float>()    // [batch, outputHeight, outputWidth, filters]
    private let kernelGradientPartials = ScratchBuffer<Float>()   // [shards, kernelHeight · kernelWidth · channels · depthMultiplier]
    private var recordedBatch = 0

    /// - Parameters:
    ///   - name: the Keras layer name.
    ///   - inputShape: one image, `[height, width, channels]`.
    ///   - filters: output channels.
    ///   - kernelSize, strides, padding, depthMultiplier: the depthwise step, as for ``DepthwiseConv2D``.
    ///   - activation: applied to the output (default linear).
    ///   - depthwiseKernel: initial `[kernelHeight, kernelWidth, channels, depthMultiplier]` kernel.
    ///   - pointwiseKernel: initial `[1, 1, channels · depthMultiplier, filters]` kernel.
    ///   - bias: initial `[filters]` bias, or nil for no bias.
    ///   - depthwiseInitializer, pointwiseInitializer, biasInitializer: how the weights were drawn, kept for the config.
    public init(name: String, inputShape: [Int], filters: Int, kernelSize: (height: Int, width: Int),
                strides: (height: Int, width: Int) = (1, 1), padding: Padding = .valid, depthMultiplier: Int = 1,
                activation: Activation = .linear, depthwiseKernel: Tensor, pointwiseKernel: Tensor, bias: Tensor?,
                depthwiseInitializer: Initializer = .glorotUniform, pointwiseInitializer: Initializer = .glorotUniform,
                biasInitializer: Initializer = .zeros) {
        let geometry = WindowGeometry(layer: "SeparableConv2D '\(name)'", image: inputShape, window: kernelSize, strides: strides, padding: padding)
        precondition(depthwiseKernel.shape == [kernelSize.height, kernelSize.width, inputShape[2], depthMultiplier]
                     && pointwiseKernel.shape == [1, 1, inputShape[2] * depthMultiplier, filters]
                     && (bias == nil || bias!.shape == [filters]))
        self.name = name
        self.inputShape = inputShape
        self.filters = filters
        self.padding = padding
        self.activation = activation
        self.depthwiseInitializer = depthwiseInitializer
        self.pointwiseInitializer = pointwiseInitializer
        self.biasInitializer = biasInitializer
        kernels = DepthwiseKernels(geometry: geometry, depthMultiplier: depthMultiplier)
        self.depthwiseKernel = Parameter(layerName: name, weightName: "depthwise_kernel", value: depthwiseKernel)
        self.pointwiseKernel = Parameter(layerName: name, weightName: "pointwise_kernel", value: pointwiseKernel)
        self.bias = bias.map { Parameter(layerName: name, weightName: "bias", value: $0) }
    }

    static func make(_ options: inout LayerOptions, inputShapes: [[Int]], generator: inout SeededGenerator) throws -> Layer {
        let filters = try options.integer("filters", default: nil, range: 1...(1 << 16))
        let pointwiseInitializer = try options.initializer("pointwise_initializer", default: .glorotUniform)
        try options.requireNull(["pointwise_regularizer", "pointwise_constraint"])
        let read = try DepthwiseOptions(&options, inputShapes: inputShapes)
        let middle = read.image[2] * read.depthMultiplier
        let pointwiseShape = try ModelConfig.checkWeightShape([1, 1, middle, filters], layer: options.layerDescription)
        let depthwiseKernel = read.depthwiseInitializer.make(
            shape: [read.kernelSize.0, read.kernelSize.1, read.image[2], read.depthMultiplier], generator: &generator)
        let pointwiseKernel = pointwiseInitializer.make(shape: pointwiseShape, generator: &generator)
        return SeparableConv2D(
            name: options.name, inputShape: read.image, filters: filters, kernelSize: read.kernelSize, strides: read.strides,
            padding: read.padding, depthMultiplier: read.depthMultiplier, activation: read.activation,
            depthwiseKernel: depthwiseKernel, pointwiseKernel: pointwiseKernel,
            bias: read.useBias ? read.biasInitializer.make(shape: [filters], generator: &generator) : nil,
            depthwiseInitializer: read.depthwiseInitializer, pointwiseInitializer: pointwiseInitializer,
            biasInitializer: read.biasInitializer)
    }

    public var parameters: [Parameter] { [depthwiseKernel, pointwiseKernel] + (bias.map { [$0] } ?? []) }
    public var outputShape: [Int] { [geometry.outputHeight, geometry.outputWidth, filters] }

    public var config: JSONValue {
        .object(baseLayerConfig(name: name) + [
            ("depth_multiplier", .number(Double(depthMultiplier))), ("filters", .number(Double(filters))),
        ] + DepthwiseOptions.windowConfig(geometry, padding: padding, activation: activation, useBias: bias != nil) + [
            ("depthwise_initializer", depthwiseInitializer.config),
            ("pointwise_initializer", pointwiseInitializer.config),
            ("bias_initializer", biasInitializer.config),
            ("depthwise_regularizer", .null), ("pointwise_regularizer", .null), ("bias_regularizer", .null),
            ("activity_regularizer", .null),
            ("depthwise_constraint", .null), ("pointwise_constraint", .null), ("bias_constraint", .null),
        ])
    }

    private var minimumShardImages: Int {
        max(1, (1 << 18) / max(kernels.workPerImage + geometry.outputPositions * kernels.outputChannels * filters, 1))
    }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        let kernels = kernels, activation = activation, filters = filters
        let middle = kernels.outputChannels, positions = geometry.outputPositions
        let batch = input.count / geometry.inputSize
        precondition(input.count == batch * geometry.inputSize, "SeparableConv2D '\(name)' expects \(inputShape) inputs per example")
        if output.count != batch * positions * filters { output = Tensor(shape: [batch] + outputShape) }
        let depthwiseOutputs = depthwiseOutput.pointer(count: batch * kernels.outputSize)
        input.withUnsafeBufferPointer { inputs in
            depthwiseKernel.value.withUnsafeBufferPointer { depthwiseValues in
                pointwiseKernel.value.withUnsafeBufferPointer { pointwiseValues in
                    output.withUnsafeMutableBufferPointer { outputs in
                        withOptionalPointer(to: bias?.value) { biases in
                            guard let inputs = inputs.baseAddress, let outputs = outputs.baseAddress else { return }
                            let depthwiseValues = depthwiseValues.baseAddress!, pointwiseValues = pointwiseValues.baseAddress!
                            Parallel.forEachShard(count: batch, minimumSize: minimumShardImages) { _, images in
                                kernels.forward(inputs, kernel: depthwiseValues, images: images, into: depthwiseOutputs)
                                let rows = images.count * positions, result = outputs + images.lowerBound * positions * filters
                                // [rows, filters] = depthwise output [rows, middle] · pointwise [middle, filters]
                                MatrixMultiply.gemm(depthwiseOutputs + images.lowerBound * kernels.outputSize, pointwiseValues,
                                                    into: result, rows: rows, columns: filters, inner: middle)
                                addBiasAndActivate(result, rows: rows, width: filters, bias: biases, activation: activation)
                            }
                        }
                    }
                }
            }
        }
        if context.training {
            self.input = input
            recordedBatch = batch
        }
        return output
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        let kernels = kernels, activation = activation, filters = filters
        let middle = kernels.outputChannels, positions = geometry.outputPositions
        let batch = outputGradient.count / (positions * filters)
        precondition(outputGradient.count == batch * positions * filters && input.count == batch * geometry.inputSize
                     && recordedBatch == batch, "SeparableConv2D '\(name)': backward needs the training forward of the same batch")
        if inputGradient.count != input.count { inputGradient = Tensor(shape: input.shape) }
        let kernelCount = depthwiseKernel.value.count, shards = Parallel.shardCount(for: batch, minimumSize: minimumShardImages)
        let kernelPartials = kernelGradientPartials.pointer(count: Parallel.shardCount * kernelCount)
        let preActivation = activation == .linear ? nil : preActivationGradient.pointer(count: outputGradient.count)
        let depthwiseOutputs = UnsafePointer(depthwiseOutput.pointer(count: batch * kernels.outputSize))
        let depthwiseGradients = depthwiseOutputGradient.pointer(count: batch * kernels.outputSize)
        input.withUnsafeBufferPointer { inputs in
            output.withUnsafeBufferPointer { outputs in
                outputGradient.withUnsafeBufferPointer { outputGradients in
                    depthwiseKernel.value.withUnsafeBufferPointer { depthwiseValues in
                        pointwiseKernel.value.withUnsafeBufferPointer { pointwiseValues in
                            inputGradient.withUnsafeMutableBufferPointer { inputGradients in
                                guard let inputs = inputs.baseAddress, let outputGradients = outputGradients.baseAddress else { return }
                                let outputs = outputs.baseAddress!, depthwiseValues = depthwiseValues.baseAddress!
                                let pointwiseValues = pointwiseValues.baseAddress!, inputGradients = inputGradients.baseAddress!
                                let gradients = UnsafePointer(preActivation) ?? outputGradients  // dZ: [batch · positions, filters]
                                Parallel.forEachShard(count: batch, minimumSize: minimumShardImages) { shard, images in
                                    let rows = images.count * positions, first = images.lowerBound * positions
                                    // dZ = activation'(output) ⊙ dY
                                    if let preActivation {
                                        let start = first * filters, count = rows * filters
                                        activation.backward(UnsafeBufferPointer(start: outputGradients + start, count: count),
                                                            output: UnsafeBufferPointer(start: outputs + start, count: count),
                                                            into: UnsafeMutableBufferPointer(start: preActivation + start, count: count),
                                                            width: filters)
                                    }
                                    // d(depthwise output) = dZ · pointwiseᵀ: [rows, middle]
                                    MatrixMultiply.gemm(gradients + first * filters, pointwiseValues, transposeB: true,
                                                        into: depthwiseGradients + first * middle, rows: rows, columns: middle, inner: filters)
                                    let kernelPartial = kernelPartials + shard * kernelCount
                                    kernelPartial.update(repeating: 0, count: kernelCount)
                                    kernels.backward(depthwiseGradients, input: inputs, kernel: depthwiseValues, images: images,
                                                     inputGradient: inputGradients, kernelGradient: kernelPartial)
                                }
                                // d(pointwise) += depthwise outputᵀ · dZ: [middle, filters], in bands of its rows
                                pointwiseKernel.gradient.withUnsafeMutableBufferPointer { pointwiseGradients in
                                    let pointwiseGradients = pointwiseGradients.baseAddress!
                                    Parallel.forEachShard(count: middle, minimumSize: max(1, (1 << 20) / max(batch * positions * filters, 1))) { _, band in
                                        MatrixMultiply.gemm(depthwiseOutputs + band.lowerBound, leadingA: middle, transposeA: true,
                                                            gradients, leadingB: filters,
                                                            into: pointwiseGradients + band.lowerBound * filters, leadingC: filters,
                                                            rows: band.count, columns: filters, inner: batch * positions, beta: 1)
                                    }
                                }
                                // d(bias) += Σ over the batch and positions of dZ: [filters]
                                bias?.gradient.withUnsafeMutableBufferPointer { biasGradients in
                                    for row in 0..<batch * positions {
                                        let rowGradient = gradients + row * filters
                                        for filter in 0..<filters { biasGradients[filter] += rowGradient[filter] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        addPartials(kernelPartials, shards: shards, count: kernelCount, into: &depthwiseKernel.gradient)
        input = .empty  // let the previous layer reuse its output buffer
        return inputGradient
    }
}

import LRTTensor

/// The valid rows (or columns) of the window at `output`: the window clipped to the image.
@inline(__always)
private func windowRange(_ output: Int, stride: Int, padBefore: Int, window: Int, input: Int) -> Range<Int> {
    let start = output * stride - padBefore
    return max(start, 0)..<min(start + window, input)
}

/// The mean of each channel over one window, eight channels at a time (the sum in window order, then one scaling).
private func windowMean(_ source: UnsafePointer<Float>, rows: Range<Int>, columns: Range<Int>, inputWidth: Int,
                        channels: Int, into mean: UnsafeMutablePointer<Float>) {
    let scale = 1 / Float(rows.count * columns.count)
    var channel = 0
    while channel + 8 <= channels {
        var sum = SIMD8<Float>()
        for y in rows {
            for x in columns {
                sum += UnsafeRawPointer(source + (y * inputWidth + x) * channels + channel).loadUnaligned(as: SIMD8<Float>.self)
            }
        }
        UnsafeMutableRawPointer(mean + channel).storeBytes(of: sum * scale, as: SIMD8<Float>.self)
        channel += 8
    }
    for channel in channel..<channels {
        var sum: Float = 0
        for y in rows {
            for x in columns { sum += source[(y * inputWidth + x) * channels + channel] }
        }
        mean[channel] = sum * scale
    }
}

/// The maximum of each channel over one window (inference: no positions), eight channels at a time.
private func windowMaximum(_ source: UnsafePointer<Float>, rows: Range<Int>, columns: Range<Int>, inputWidth: Int,
                           channels: Int, into maximum: UnsafeMutablePointer<Float>) {
    let firstOffset = (rows.lowerBound * inputWidth + columns.lowerBound) * channels
    var channel = 0
    while channel + 8 <= channels {
        var best = UnsafeRawPointer(source + firstOffset + channel).loadUnaligned(as: SIMD8<Float>.self)
        for y in rows {
            for x in columns {
                let value = UnsafeRawPointer(source + (y * inputWidth + x) * channels + channel).loadUnaligned(as: SIMD8<Float>.self)
                best.replace(with: value, where: value .> best)  // as the training path: NaN never replaces
            }
        }
        UnsafeMutableRawPointer(maximum + channel).storeBytes(of: best, as: SIMD8<Float>.self)
        channel += 8
    }
    for channel in channel..<channels {
        var best = source[firstOffset + channel]
        for y in rows {
            for x in columns where source[(y * inputWidth + x) * channels + channel] > best {
                best = source[(y * inputWidth + x) * channels + channel]
            }
        }
        maximum[channel] = best
    }
}

/// The largest value of each channel in a window and the offset (within the image) of
/// the first input that holds it.
///
/// Four channels at a time in SIMD registers: a compare-and-select on two arrays
/// does not vectorize as a scalar loop.
/// - Parameters:
///   - source: one image, `[height, inputWidth, channels]`.
///   - rows, columns: the window, clipped to the image.
///   - maximum: `[channels]`, written.
///   - positions: `[channels]`, written.
private func windowMaximum(_ source: UnsafePointer<Float>, rows: Range<Int>, columns: Range<Int>, inputWidth: Int,
                           channels: Int, into maximum: UnsafeMutablePointer<Float>, positions: UnsafeMutablePointer<Int32>) {
    let firstOffset = (rows.lowerBound * inputWidth + columns.lowerBound) * channels
    let lanes = SIMD4<Int32>(0, 1, 2, 3)
    var channel = 0
    while channel + 4 <= channels {
        var best = UnsafeRawPointer(source + firstOffset + channel).loadUnaligned(as: SIMD4<Float>.self)
        var bestOffset = SIMD4(repeating: Int32(truncatingIfNeeded: firstOffset + channel)) &+ lanes
        for y in rows {
            for x in columns {
                let offset = (y * inputWidth + x) * channels + channel
                let value = UnsafeRawPointer(source + offset).loadUnaligned(as: SIMD4<Float>.self)
                let larger = value .> best  // strict: the first of equal maxima stays
                best.replace(with: value, where: larger)
                bestOffset.replace(with: SIMD4(repeating: Int32(truncatingIfNeeded: offset)) &+ lanes, where: larger)
            }
        }
        UnsafeMutableRawPointer(maximum + channel).storeBytes(of: best, as: SIMD4<Float>.self)
        UnsafeMutableRawPointer(positions + channel).storeBytes(of: bestOffset, as: SIMD4<Int32>.self)
        channel += 4
    }
    for channel in channel..<channels {
        var best = source[firstOffset + channel], bestOffset = firstOffset + channel
        for y in rows {
            for x in columns {
                let offset = (y * inputWidth + x) * channels + channel
                if source[offset] > best { (best, bestOffset) = (source[offset], offset) }
            }
        }
        maximum[channel] = best
        positions[channel] = Int32(truncatingIfNeeded: bestOffset)
    }
}

/// What `MaxPooling2D` and `AveragePooling2D` share: the window, the Keras config, the output
/// buffers, and oneDNN's pooling for inference.
public class Pooling2D {
    public let name: String
    public let className: String
    /// One input image, `[height, width, channels]`.
    public let inputShape: [Int]
    public let geometry: WindowGeometry
    public let padding: Padding
    /// The kernels that compute inference (training always runs lrt's own loops).
    public var backend = KernelBackend.preferred
    /// Why oneDNN could not build this layer's primitive, if it could not; lrt's own loops run instead.
    public var oneDNNFailure: String? { oneDNN.failure }
    private let oneDNN: OneDNNPoolingLayer

    fileprivate var output = Tensor(shape: [0])         // [batch, outputHeight, outputWidth, channels]
    fileprivate var inputGradient = Tensor(shape: [0])  // [batch, height, width, channels]

    /// - Parameters:
    ///   - name: the Keras layer name.
    ///   - inputShape: one image, `[height, width, channels]`.
    ///   - poolSize: `(height, width)` of the window.
    ///   - strides: steps between windows (Keras's default is the pool size).
    ///   - padding: `valid` (default) or TensorFlow's `same`.
    /// - Precondition: `inputShape` is `[height, width, channels]` and the window fits (``ModelConfig`` checks both).
    fileprivate init(className: String, kind: OneDNNPooling.Kind, name: String, inputShape: [Int],
                     poolSize: (height: Int, width: Int), strides: (height: Int, width: Int)?, padding: Padding) {
        precondition(inputShape.count == 3, "\(className) '\(name)' needs [height, width, channels] input, got \(inputShape)")
        let strides = strides ?? poolSize
        guard let geometry = WindowGeometry(
            inputHeight: inputShape[0], inputWidth: inputShape[1], channels: inputShape[2],
            windowHeight: poolSize.height, windowWidth: poolSize.width,
            strideHeight: strides.height, strideWidth: strides.width, padding: padding)
        else { preconditionFailure("\(className) '\(name)': pool \(poolSize) does not fit input \(inputShape)") }
        self.name = name
        self.className = className
        self.inputShape = inputShape
        self.geometry = geometry
        self.padding = padding
        oneDNN = OneDNNPoolingLayer(name: name, kind, geometry: geometry)
    }

    public var parameters: [Parameter] { [] }
    public var outputShape: [Int] { [geometry.outputHeight, geometry.outputWidth, geometry.channels] }
    /// Whether the window is 2×2 with stride 2 and `valid` padding (Keras's default `MaxPooling2D()`): each output
    /// is the maximum of its own 2×2 block, an odd last row or column dropped.
    public var halvesEachSide: Bool {
        geometry.windowHeight == 2 && geometry.windowWidth == 2 && geometry.strideHeight == 2 && geometry.strideWidth == 2
            && padding == .valid
    }
    fileprivate var outputSize: Int { geometry.outputPositions * geometry.channels }

    public var config: JSONValue {
        func pair(_ first: Int, _ second: Int) -> JSONValue { .array([.number(Double(first)), .number(Double(second))]) }
        return .object([
            ("name", .string(name)), ("trainable", .bool(true)), ("dtype", .string("float32")),
            ("pool_size", pair(geometry.windowHeight, geometry.windowWidth)),
            ("padding", .string(padding.rawValue)),
            ("strides", pair(geometry.strideHeight, geometry.strideWidth)),
            ("data_format", .string("channels_last")),
        ])
    }

    /// Checks `input`, sizes ``output``, and in inference pools by oneDNN when it can.
    /// - Returns: the batch size, or nil when oneDNN has written ``output``.
    fileprivate func beginForward(_ input: Tensor, training: Bool) -> Int? {
        let batch = input.count / geometry.inputSize
        precondition(input.count == batch * geometry.inputSize, "\(className) '\(name)' expects \(inputShape) inputs per example")
        if output.count != batch * outputSize { output = Tensor(shape: [batch] + outputShape) }
        return !training && backend == .oneDNN && oneDNN.forward(input, into: &output) ? nil : batch
    }

    /// Calls `body(image, rows, columns, index)` for every window of the images of a batch, split
    /// across cores: `rows` and `columns` are the window clipped to the image, `index` is the
    /// offset of the window's output (its first channel) in the batch's output.
    /// `beginImage(image)` runs before the windows of each image.
    fileprivate func forEachWindow(batch: Int, beginImage: (_ image: Int) -> Void = { _ in },
                                   _ body: (_ image: Int, _ rows: Range<Int>, _ columns: Range<Int>, _ index: Int) -> Void) {
        let geometry = geometry, outputSize = outputSize
        Parallel.forEachShard(count: batch, minimumSize: Parallel.minimumShardSize(workPerItem: geometry.inputSize)) { _, items in
            for image in items {
                beginImage(image)
                for outputY in 0..<geometry.outputHeight {
                    let rows = windowRange(outputY, stride: geometry.strideHeight, padBefore: geometry.padTop,
                                           window: geometry.windowHeight, input: geometry.inputHeight)
                    for outputX in 0..<geometry.outputWidth {
                        let columns = windowRange(outputX, stride: geometry.strideWidth, padBefore: geometry.padLeft,
                                                  window: geometry.windowWidth, input: geometry.inputWidth)
                        body(image, rows, columns, image * outputSize + (outputY * geometry.outputWidth + outputX) * geometry.channels)
                    }
                }
            }
        }
    }
}

/// The largest value of each channel in each window (Keras `MaxPooling2D`).
///
/// With `same` padding the window ignores positions outside the image. The
/// gradient goes to the first largest input of each window, as in TensorFlow.
public final class MaxPooling2D: Pooling2D, Layer {
    /// For each output, the offset within its image of the input it came from (training only).
    private let argmax = ScratchBuffer<Int32>()     // [batch, outputHeight, outputWidth, channels]
    /// The batch size ``argmax`` was recorded for by the last training forward.
    private var recordedBatch = 0

    /// See ``Pooling2D``'s initializer for the parameters.
    public init(name: String, inputShape: [Int], poolSize: (height: Int, width: Int),
                strides: (height: Int, width: Int)? = nil, padding: Padding = .valid) {
        super.init(className: "MaxPooling2D", kind: .maximum, name: name, inputShape: inputShape, poolSize: poolSize,
                   strides: strides, padding: padding)
    }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        guard let batch = beginForward(input, training: context.training) else { return output }
        let geometry = geometry, channels = geometry.channels
        let positions = context.training ? argmax.pointer(count: batch * outputSize) : nil
        if context.training { recordedBatch = batch }
        input.withUnsafeBufferPointer { inputs in
            output.withUnsafeMutableBufferPointer { outputs in
                let inputs = inputs.baseAddress!, outputs = outputs.baseAddress!
                forEachWindow(batch: batch) { image, rows, columns, index in
                    let source = inputs + image * geometry.inputSize
                    if let positions {
                        windowMaximum(source, rows: rows, columns: columns, inputWidth: geometry.inputWidth,
                                      channels: channels, into: outputs + index, positions: positions + index)
                    } else {
                        windowMaximum(source, rows: rows, columns: columns, inputWidth: geometry.inputWidth,
                                      channels: channels, into: outputs + index)
                    }
                }
            }
        }
        return output
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        let geometry = geometry, outputSize = outputSize
        let batch = outputGradient.count / outputSize
        precondition(outputGradient.count == batch * outputSize && recordedBatch == batch,
                     "MaxPooling2D '\(name)': backward needs the training forward of the same batch")
        if inputGradient.count != batch * geometry.inputSize { inputGradient = Tensor(shape: [batch] + inputShape) }
        let positions = argmax.pointer(count: batch * outputSize)
        outputGradient.withUnsafeBufferPointer { outputGradients in
            inputGradient.withUnsafeMutableBufferPointer { inputGradients in
                let outputGradients = outputGradients.baseAddress!, inputGradients = inputGradients.baseAddress!
                Parallel.forEachShard(count: batch, minimumSize: Parallel.minimumShardSize(workPerItem: geometry.inputSize)) { _, items in
                    for image in items {
                        let target = inputGradients + image * geometry.inputSize
                        target.update(repeating: 0, count: geometry.inputSize)
                        let start = image * outputSize
                        for index in start..<start + outputSize {
                            target[Int(positions[index])] += outputGradients[index]
                        }
                    }
                }
            }
        }
        return inputGradient
    }
}

/// The mean of each channel in each window (Keras `AveragePooling2D`).
///
/// With `same` padding a window averages only the positions inside the image,
/// as TensorFlow and Keras do.
public final class AveragePooling2D: Pooling2D, Layer {
    /// See ``Pooling2D``'s initializer for the parameters.
    public init(name: String, inputShape: [Int], poolSize: (height: Int, width: Int),
                strides: (height: Int, width: Int)? = nil, padding: Padding = .valid) {
        super.init(className: "AveragePooling2D", kind: .average, name: name, inputShape: inputShape, poolSize: poolSize,
                   strides: strides, padding: padding)
    }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        guard let batch = beginForward(input, training: context.training) else { return output }
        let geometry = geometry
        input.withUnsafeBufferPointer { inputs in
            output.withUnsafeMutableBufferPointer { outputs in
                let inputs = inputs.baseAddress!, outputs = outputs.baseAddress!
                forEachWindow(batch: batch) { image, rows, columns, index in
                    windowMean(inputs + image * geometry.inputSize, rows: rows, columns: columns, inputWidth: geometry.inputWidth,
                               channels: geometry.channels, into: outputs + index)
                }
            }
        }
        return output
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        let geometry = geometry, outputSize = outputSize, channels = geometry.channels
        let batch = outputGradient.count / outputSize
        precondition(outputGradient.count == batch * outputSize, "AveragePooling2D '\(name)': gradient of the wrong size")
        if inputGradient.count != batch * geometry.inputSize { inputGradient = Tensor(shape: [batch] + inputShape) }
        outputGradient.withUnsafeBufferPointer { outputGradients in
            inputGradient.withUnsafeMutableBufferPointer { inputGradients in
                let outputGradients = outputGradients.baseAddress!, inputGradients = inputGradients.baseAddress!
                forEachWindow(batch: batch, beginImage: { image in
                    (inputGradients + image * geometry.inputSize).update(repeating: 0, count: geometry.inputSize)
                }) { image, rows, columns, index in
                    let target = inputGradients + image * geometry.inputSize, gradient = outputGradients + index
                    let scale = 1 / Float(rows.count * columns.count)
                    for y in rows {
                        for x in columns {
                            let window = target + (y * geometry.inputWidth + x) * channels
                            for channel in 0..<channels { window[channel] += gradient[channel] * scale }
                        }
                    }
                }
            }
        }
        return inputGradient
    }
}

/// The mean of each channel over the whole image (Keras `GlobalAveragePooling2D`):
/// `[batch, height, width, channels]` → `[batch, channels]`.
public final class GlobalAveragePooling2D: Layer {
    public let name: String
    public let className = "GlobalAveragePooling2D"
    /// One input image, `[height, width, channels]`.
    public let inputShape: [Int]

    private var output = Tensor(shape: [0])         // [batch, channels]
    private var inputGradient = Tensor(shape: [0])  // [batch, height, width, channels]

    public init(name: String, inputShape: [Int]) {
        precondition(inputShape.count == 3, "GlobalAveragePooling2D '\(name)' needs [height, width, channels] input, got \(inputShape)")
        self.name = name
        self.inputShape = inputShape
    }

    public var parameters: [Parameter] { [] }
    public var outputShape: [Int] { [inputShape[2]] }
    public var config: JSONValue {
        .object([("name", .string(name)), ("trainable", .bool(true)), ("dtype", .string("float32")),
                 ("data_format", .string("channels_last")), ("keepdims", .bool(false))])
    }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        let positions = inputShape[0] * inputShape[1], channels = inputShape[2]
        let batch = input.count / (positions * channels)
        precondition(input.count == batch * positions * channels, "GlobalAveragePooling2D '\(name)' expects \(inputShape) inputs per example")
        if output.count != batch * channels { output = Tensor(shape: [batch, channels]) }
        input.withUnsafeBufferPointer { inputs in
            output.withUnsafeMutableBufferPointer { outputs in
                let inputs = inputs.baseAddress!, outputs = outputs.baseAddress!
                Parallel.forEachShard(count: batch, minimumSize: Parallel.minimumShardSize(workPerItem: positions * channels)) { _, items in
                    for image in items {
                        let target = outputs + image * channels
                        target.update(repeating: 0, count: channels)
                        for position in 0..<positions {
                            let source = inputs + (image * positions + position) * channels
                            for channel in 0..<channels { target[channel] += source[channel] }
                        }
                        let scale = 1 / Float(positions)
                        for channel in 0..<channels { target[channel] *= scale }
                    }
                }
            }
        }
        return output
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        let positions = inputShape[0] * inputShape[1], channels = inputShape[2]
        let batch = outputGradient.count / channels
        if inputGradient.count != batch * positions * channels { inputGradient = Tensor(shape: [batch] + inputShape) }
        outputGradient.withUnsafeBufferPointer { outputGradients in
            inputGradient.withUnsafeMutableBufferPointer { inputGradients in
                let outputGradients = outputGradients.baseAddress!, inputGradients = inputGradients.baseAddress!
                let scale = 1 / Float(positions)
                Parallel.forEachShard(count: batch, minimumSize: Parallel.minimumShardSize(workPerItem: positions * channels)) { _, items in
                    for image in items {
                        let gradient = outputGradients + image * channels
                        for position in 0..<positions {
                            let target = inputGradients + (image * positions + position) * channels
                            for channel in 0..<channels { target[channel] = gradient[channel] * scale }
                        }
                    }
                }
            }
        }
        return inputGradient
    }
}

extension GlobalAveragePooling2D: KerasLayer {
    static var kerasClassNames: [String] { ["GlobalAveragePooling2D"] }

    static func make(_ options: inout LayerOptions, inputShapes: [[Int]], generator: inout SeededGenerator) throws -> Layer {
        let name = options.name
        let inputShape = try options.singleInput(inputShapes)
        let image = try ModelConfig.imageShape(inputShape, layer: "GlobalAveragePooling2D layer '\(name)'")
        try options.channelsLast()
        guard try !options.bool("keepdims", default: false) else {
            throw ModelConfigError("GlobalAveragePooling2D layer '\(name)': keepdims true is not supported")
        }
        return GlobalAveragePooling2D(name: name, inputShape: image)
    }
}

extension MaxPooling2D: KerasLayer {
    static var kerasClassNames: [String] { ["MaxPooling2D"] }
}

extension AveragePooling2D: KerasLayer {
    static var kerasClassNames: [String] { ["AveragePooling2D"] }
}

/// Max and average pooling read the same options.
extension Pooling2D {
    static func make(_ options: inout LayerOptions, inputShapes: [[Int]], generator: inout SeededGenerator) throws -> Layer {
        let name = options.name
        let inputShape = try options.singleInput(inputShapes)
        let layer = "\(options.className) layer '\(name)'"
        let image = try ModelConfig.imageShape(inputShape, layer: layer)
        let poolSize = try options.pair("pool_size", default: (2, 2), range: 1...(1 << 10))
        let strides = try options.pair("strides", default: poolSize, range: 1...(1 << 10))
        let padding = try options.padding()
        try options.channelsLast()
        try ModelConfig.checkWindow(image, window: poolSize, strides: strides, padding: padding, layer: layer, what: "pool_size")
        return options.className == "MaxPooling2D"
            ? MaxPooling2D(name: name, inputShape: image, poolSize: poolSize, strides: strides, padding: padding)
            : AveragePooling2D(name: name, inputShape: image, poolSize: poolSize, strides: strides, padding: padding)
    }
}

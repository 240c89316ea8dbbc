import LRTTensor

/// The largest value of each channel over the whole image (Keras `GlobalMaxPooling2D`):
/// `[batch, height, width, channels]` → `[batch, channels]`, or `[batch, 1, 1, channels]` with `keepdims`.
///
/// The gradient goes to the first position that holds the maximum, as for ``MaxPooling2D``.
public final class GlobalMaxPooling2D: Layer, KerasLayer {
    static let kerasClassNames = ["GlobalMaxPooling2D"]

    public let name: String
    public let className = "GlobalMaxPooling2D"
    /// One input image, `[height, width, channels]`.
    public let inputShape: [Int]
    /// Whether the output keeps the two image axes, as `[1, 1, channels]`.
    public let keepsDimensions: Bool

    private var output = Tensor(shape: [0])         // [batch, channels] (or [batch, 1, 1, channels])
    private var inputGradient = Tensor(shape: [0])  // [batch, height, width, channels]
    /// For each output, the position (`y · width + x`) of the input it came from (training only).
    private let argmax = ScratchBuffer<Int32>()     // [batch, channels]
    private var recordedBatch = 0

    /// - Parameters:
    ///   - name: the Keras layer name.
    ///   - inputShape: one image, `[height, width, channels]`.
    ///   - keepsDimensions: Keras's `keepdims` (default false).
    public init(name: String, inputShape: [Int], keepsDimensions: Bool = false) {
        precondition(inputShape.count == 3 && inputShape[0] * inputShape[1] <= Int(Int32.max),
                     "GlobalMaxPooling2D '\(name)' needs [height, width, channels] input, got \(inputShape)")
        self.name = name
        self.inputShape = inputShape
        self.keepsDimensions = keepsDimensions
    }

    static func make(_ options: inout LayerOptions, inputShapes: [[Int]], generator: inout SeededGenerator) throws -> Layer {
        let image = try ModelConfig.imageShape(try options.singleInput(inputShapes), layer: options.layerDescription)
        try options.channelsLast()
        return GlobalMaxPooling2D(name: options.name, inputShape: image, keepsDimensions: try options.bool("keepdims", default: false))
    }

    public var parameters: [Parameter] { [] }
    public var outputShape: [Int] { keepsDimensions ? [1, 1, inputShape[2]] : [inputShape[2]] }
    public var config: JSONValue {
        .object(baseLayerConfig(name: name) + [("data_format", .string("channels_last")), ("keepdims", .bool(keepsDimensions))])
    }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        let positions = inputShape[0] * inputShape[1], channels = inputShape[2]
        let batch = input.count / (positions * channels)
        precondition(input.count == batch * positions * channels, "GlobalMaxPooling2D '\(name)' expects \(inputShape) inputs per example")
        if output.count != batch * channels { output = Tensor(shape: [batch] + outputShape) }
        let best = context.training ? argmax.pointer(count: batch * channels) : nil
        if context.training { recordedBatch = batch }
        input.withUnsafeBufferPointer { inputs in
            output.withUnsafeMutableBufferPointer { outputs in
                guard let inputs = inputs.baseAddress, let outputs = outputs.baseAddress else { return }
                Parallel.forEachShard(count: batch, minimumSize: Parallel.minimumShardSize(workPerItem: positions * channels)) { _, items in
                    for image in items {
                        let source = inputs + image * positions * channels, maximum = outputs + image * channels
                        maximum.update(from: source, count: channels)
                        if let best {
                            let bestPosition = best + image * channels
                            bestPosition.update(repeating: 0, count: channels)
                            for position in 1..<max(positions, 1) {
                                let row = source + position * channels
                                for channel in 0..<channels where row[channel] > maximum[channel] {  // strict: the first maximum stays
                                    maximum[channel] = row[channel]
                                    bestPosition[channel] = Int32(truncatingIfNeeded: position)
                                }
                            }
                        } else {
                            for position in 1..<max(positions, 1) {
                                let row = source + position * channels
                                for channel in 0..<channels { maximum[channel] = row[channel] > maximum[channel] ? row[channel] : maximum[channel] }
                            }
                        }
                    }
                }
            }
        }
        return output
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        let positions = inputShape[0] * inputShape[1], channels = inputShape[2]
        let batch = outputGradient.count / channels
        precondition(outputGradient.count == batch * channels && batch == recordedBatch,
                     "GlobalMaxPooling2D '\(name)': backward needs the training forward of the same batch")
        if inputGradient.count != batch * positions * channels { inputGradient = Tensor(shape: [batch] + inputShape) }
        let best = argmax.pointer(count: batch * channels)
        outputGradient.withUnsafeBufferPointer { outputGradients in
            inputGradient.withUnsafeMutableBufferPointer { inputGradients in
                guard let outputGradients = outputGradients.baseAddress, let inputGradients = inputGradients.baseAddress else { return }
                Parallel.forEachShard(count: batch, minimumSize: Parallel.minimumShardSize(workPerItem: positions * channels)) { _, items in
                    for image in items {
                        let target = inputGradients + image * positions * channels
                        target.update(repeating: 0, count: positions * channels)
                        for channel in 0..<channels {
                            target[Int(best[image * channels + channel]) * channels + channel] = outputGradients[image * channels + channel]
                        }
                    }
                }
            }
        }
        return inputGradient
    }
}

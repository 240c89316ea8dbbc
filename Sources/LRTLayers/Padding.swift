import LRTTensor

/// Zeros around each image (Keras `ZeroPadding2D`):
/// `[batch, height, width, channels]` → `[batch, top + height + bottom, left + width + right, channels]`.
public final class ZeroPadding2D: Layer, KerasLayer {
    static let kerasClassNames = ["ZeroPadding2D"]

    public let name: String
    public let className = "ZeroPadding2D"
    /// One input image, `[height, width, channels]`.
    public let inputShape: [Int]
    /// Rows of zeros above and below the image.
    public let top: Int, bottom: Int
    /// Columns of zeros left and right of the image.
    public let left: Int, right: Int

    private var output = Tensor(shape: [0])         // [batch, outputHeight, outputWidth, channels]
    private var inputGradient = Tensor(shape: [0])  // [batch, height, width, channels]

    /// - Parameters:
    ///   - name: the Keras layer name.
    ///   - inputShape: one image, `[height, width, channels]`.
    ///   - padding: `((top, bottom), (left, right))`, none negative.
    public init(name: String, inputShape: [Int], padding: (rows: (top: Int, bottom: Int), columns: (left: Int, right: Int))) {
        precondition(inputShape.count == 3, "ZeroPadding2D '\(name)' needs [height, width, channels] input, got \(inputShape)")
        precondition([padding.rows.top, padding.rows.bottom, padding.columns.left, padding.columns.right].allSatisfy { $0 >= 0 })
        self.name = name
        self.inputShape = inputShape
        (top, bottom) = padding.rows
        (left, right) = padding.columns
    }

    static func make(_ options: inout LayerOptions, inputShapes: [[Int]], generator: inout SeededGenerator) throws -> Layer {
        let layer = options.layerDescription
        let image = try ModelConfig.imageShape(try options.singleInput(inputShapes), layer: layer)
        try options.channelsLast()
        let value = options.raw("padding") ?? .number(1)
        // An integer, a pair (rows, columns) or a pair of pairs ((top, bottom), (left, right)), as Keras reads it.
        let range = 0...(1 << 16)
        var sides: [Int]?
        if let all = value.intValue {
            sides = [all, all, all, all]
        } else if let pair = value.arrayValue, pair.count == 2 {
            if let rows = pair[0].intValue, let columns = pair[1].intValue {
                sides = [rows, rows, columns, columns]
            } else if let rows = pair[0].arrayValue?.compactMap(\.intValue), let columns = pair[1].arrayValue?.compactMap(\.intValue),
                      rows.count == 2, columns.count == 2, pair[0].arrayValue?.count == 2, pair[1].arrayValue?.count == 2 {
                sides = rows + columns
            }
        }
        guard let sides, sides.allSatisfy(range.contains) else {
            throw ModelConfigError("\(layer): \"padding\" must be an integer, a pair [rows, columns] or [[top, bottom], [left, right]] of integers in \(range.lowerBound)...\(range.upperBound), got \(value.serialized)")
        }
        return ZeroPadding2D(name: options.name, inputShape: image, padding: ((sides[0], sides[1]), (sides[2], sides[3])))
    }

    public var parameters: [Parameter] { [] }
    public var outputShape: [Int] { [top + inputShape[0] + bottom, left + inputShape[1] + right, inputShape[2]] }
    public var config: JSONValue {
        .object(baseLayerConfig(name: name) + [
            ("padding", .array([jsonIntegers([top, bottom]), jsonIntegers([left, right])])),
            ("data_format", .string("channels_last")),
        ])
    }

    /// Calls `body(inputOffset, outputOffset, count)` for each image row of images `images`: the row's
    /// `count` floats start at `inputOffset` of the input and `outputOffset` of the padded output.
    /// `padding(outputOffset, count)` is called for each run of padding in the output.
    private func forEachRow(images: Range<Int>, _ body: (_ inputOffset: Int, _ outputOffset: Int, _ count: Int) -> Void,
                            padding: (_ outputOffset: Int, _ count: Int) -> Void) {
        let (height, width, channels) = (inputShape[0], inputShape[1], inputShape[2])
        let outputWidth = left + width + right, outputRow = outputWidth * channels
        let inputSize = height * width * channels, outputSize = (top + height + bottom) * outputRow
        for image in images {
            let outputImage = image * outputSize
            padding(outputImage, top * outputRow)
            for y in 0..<height {
                let rowStart = outputImage + (top + y) * outputRow
                padding(rowStart, left * channels)
                body(image * inputSize + y * width * channels, rowStart + left * channels, width * channels)
                padding(rowStart + (left + width) * channels, right * channels)
            }
            padding(outputImage + (top + height) * outputRow, bottom * outputRow)
        }
    }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        let inputSize = inputShape.reduce(1, *), batch = input.count / inputSize
        precondition(input.count == batch * inputSize, "ZeroPadding2D '\(name)' expects \(inputShape) inputs per example")
        if output.count != batch * outputShape.reduce(1, *) { output = Tensor(shape: [batch] + outputShape) }
        input.withUnsafeBufferPointer { inputs in
            output.withUnsafeMutableBufferPointer { outputs in
                guard let inputs = inputs.baseAddress, let outputs = outputs.baseAddress else { return }
                Parallel.forEachShard(count: batch, minimumSize: Parallel.minimumShardSize(workPerItem: inputSize)) { _, images in
                    forEachRow(images: images) { inputOffset, outputOffset, count in
                        (outputs + outputOffset).update(from: inputs + inputOffset, count: count)
                    } padding: { outputOffset, count in
                        (outputs + outputOffset).update(repeating: 0, count: count)
                    }
                }
            }
        }
        return output
    }

    public func backward(_ outputGradient: Tensor) -> Tensor {
        let inputSize = inputShape.reduce(1, *), batch = outputGradient.count / outputShape.reduce(1, *)
        precondition(outputGradient.count == batch * outputShape.reduce(1, *), "ZeroPadding2D '\(name)': gradient of the wrong size")
        if inputGradient.count != batch * inputSize { inputGradient = Tensor(shape: [batch] + inputShape) }
        outputGradient.withUnsafeBufferPointer { outputGradients in
            inputGradient.withUnsafeMutableBufferPointer { inputGradients in
                guard let outputGradients = outputGradients.baseAddress, let inputGradients = inputGradients.baseAddress else { return }
                Parallel.forEachShard(count: batch, minimumSize: Parallel.minimumShardSize(workPerItem: inputSize)) { _, images in
                    forEachRow(images: images) { inputOffset, outputOffset, count in
                        (inputGradients + inputOffset).update(from: outputGradients + outputOffset, count: count)
                    } padding: { _, _ in }
                }
            }
        }
        return inputGradient
    }
}

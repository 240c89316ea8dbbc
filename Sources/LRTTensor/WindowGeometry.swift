/// How a sliding window treats the image border (Keras `padding`).
public enum Padding: String, Sendable, CaseIterable {
    /// No padding: only windows that fit inside the image; output = ⌊(input − window) / stride⌋ + 1.
    case valid
    /// TensorFlow's "same": output = ⌈input / stride⌉, with
    /// `max((output − 1)·stride + window − input, 0)` padding split as evenly as
    /// possible, the odd element after (bottom, right).
    case same
}

/// The sizes of a 2-D sliding window (convolution or pooling) over NHWC images,
/// and the im2col / col2im kernels that turn a convolution into one matrix product.
public struct WindowGeometry: Equatable, Sendable {
    public let inputHeight: Int
    public let inputWidth: Int
    public let channels: Int
    public let windowHeight: Int
    public let windowWidth: Int
    public let strideHeight: Int
    public let strideWidth: Int
    /// Padding rows above the image (the rest of the total goes below).
    public let padTop: Int
    /// Padding columns left of the image.
    public let padLeft: Int
    public let outputHeight: Int
    public let outputWidth: Int

    /// - Parameters:
    ///   - inputHeight, inputWidth, channels: one image, `[inputHeight, inputWidth, channels]`.
    ///   - windowHeight, windowWidth: the kernel or pool size.
    ///   - strideHeight, strideWidth: the step between windows.
    ///   - padding: `valid` or TensorFlow's `same`.
    /// - Returns: nil when the window does not fit (valid padding on a smaller image).
    public init?(inputHeight: Int, inputWidth: Int, channels: Int, windowHeight: Int, windowWidth: Int,
                 strideHeight: Int, strideWidth: Int, padding: Padding) {
        precondition(inputHeight > 0 && inputWidth > 0 && channels > 0 && windowHeight > 0 && windowWidth > 0
                     && strideHeight > 0 && strideWidth > 0)
        func sizes(input: Int, window: Int, stride: Int) -> (output: Int, padBefore: Int)? {
            switch padding {
            case .valid:
                guard input >= window else { return nil }
                return ((input - window) / stride + 1, 0)
            case .same:
                let output = (input + stride - 1) / stride
                let total = max((output - 1) * stride + window - input, 0)
                return (output, total / 2)
            }
        }
        guard let vertical = sizes(input: inputHeight, window: windowHeight, stride: strideHeight),
              let horizontal = sizes(input: inputWidth, window: windowWidth, stride: strideWidth)
        else { return nil }
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        self.channels = channels
        self.windowHeight = windowHeight
        self.windowWidth = windowWidth
        self.strideHeight = strideHeight
        self.strideWidth = strideWidth
        (outputHeight, padTop) = vertical
        (outputWidth, padLeft) = horizontal
    }

    /// Elements of one input image: `inputHeight · inputWidth · channels`.
    public var inputSize: Int { inputHeight * inputWidth * channels }
    /// Output positions of one image: `outputHeight · outputWidth`.
    public var outputPositions: Int { outputHeight * outputWidth }
    /// The length of one im2col row: `windowHeight · windowWidth · channels`.
    public var patchSize: Int { windowHeight * windowWidth * channels }
    /// A 1×1 window with stride 1: the image already is its im2col matrix.
    public var isPointwise: Bool {
        windowHeight == 1 && windowWidth == 1 && strideHeight == 1 && strideWidth == 1
    }

    /// Copies each window into one row, zeros where it overhangs the padding.
    ///
    /// The row layout is `[windowHeight, windowWidth, channels]`, so with a kernel
    /// stored `[windowHeight, windowWidth, channels, filters]` (Keras's layout) the
    /// convolution is `columns · kernel`.
    /// - Parameters:
    ///   - input: `[images, inputHeight, inputWidth, channels]`.
    ///   - columns: `[images · outputHeight · outputWidth, patchSize]`, overwritten.
    public func im2col(_ input: UnsafePointer<Float>, images: Int, into columns: UnsafeMutablePointer<Float>) {
        forEachRun(images: images) { column, image, count in
            copy(input + image, to: columns + column, count: count)
        } padding: { column, count in
            (columns + column).update(repeating: 0, count: count)
        }
    }

    /// The adjoint of ``im2col(_:images:into:)``: adds each row back onto the
    /// image positions it was copied from (padding positions are dropped).
    /// - Parameters:
    ///   - columns: `[images · outputHeight · outputWidth, patchSize]`.
    ///   - input: `[images, inputHeight, inputWidth, channels]`, overwritten.
    public func col2im(_ columns: UnsafePointer<Float>, images: Int, into input: UnsafeMutablePointer<Float>) {
        input.update(repeating: 0, count: images * inputSize)
        forEachRun(images: images) { column, image, count in
            add(columns + column, to: input + image, count: count)
        } padding: { _, _ in }
    }

    /// im2col's order, as runs of contiguous floats: `inside(column, image, count)` for a run of
    /// `count` floats at offset `column` of the columns and `image` of the images, and
    /// `padding(column, count)` for a run that falls outside the image.
    @inline(__always)
    private func forEachRun(images: Int, inside: (_ column: Int, _ image: Int, _ count: Int) -> Void,
                            padding: (_ column: Int, _ count: Int) -> Void) {
        let runLength = windowWidth * channels
        var row = 0
        for image in 0..<images {
            let source = image * inputSize
            for outputY in 0..<outputHeight {
                let top = outputY * strideHeight - padTop
                for outputX in 0..<outputWidth {
                    let left = outputX * strideWidth - padLeft
                    let fitsHorizontally = left >= 0 && left + windowWidth <= inputWidth
                    var column = row
                    for windowY in 0..<windowHeight {
                        let y = top + windowY
                        if y < 0 || y >= inputHeight {
                            padding(column, runLength)
                        } else if fitsHorizontally {
                            inside(column, source + (y * inputWidth + left) * channels, runLength)
                        } else {
                            for windowX in 0..<windowWidth {
                                let x = left + windowX
                                if x < 0 || x >= inputWidth {
                                    padding(column + windowX * channels, channels)
                                } else {
                                    inside(column + windowX * channels, source + (y * inputWidth + x) * channels, channels)
                                }
                            }
                        }
                        column += runLength
                    }
                    row += patchSize
                }
            }
        }
    }

    /// The outputs along one axis whose window element `offset` falls inside the input:
    /// `0 ≤ output · stride − padBefore + offset < input`.
    @inline(__always)
    private func insideOutputs(offset: Int, stride: Int, padBefore: Int, input: Int, outputs: Int) -> Range<Int> {
        let shift = padBefore - offset  // output · stride ≥ shift and ≤ input − 1 + shift
        let first = shift <= 0 ? 0 : (shift + stride - 1) / stride
        let last = input - 1 + shift < 0 ? -1 : (input - 1 + shift) / stride
        return min(first, outputs)..<max(min(last + 1, outputs), min(first, outputs))
    }

    /// im2col's transpose: one row per window element (`[windowHeight, windowWidth, channels]`
    /// order), holding that element for every output position of every image.
    ///
    /// With few channels an im2col row is many short copies; here each row is
    /// filled a whole output row at a time. The convolution is `columnsᵀ · kernel`.
    /// - Parameters:
    ///   - input: `[images, inputHeight, inputWidth, channels]`.
    ///   - columns: `[patchSize, images · outputHeight · outputWidth]`, overwritten.
    public func im2colTransposed(_ input: UnsafePointer<Float>, images: Int, into columns: UnsafeMutablePointer<Float>) {
        let step = strideWidth * channels
        forEachOutputRow(images: images) { column, image, inside in
            let destination = columns + column  // [outputWidth]
            guard let image else { return destination.update(repeating: 0, count: outputWidth) }
            destination.update(repeating: 0, count: inside.lowerBound)
            let source = input + image
            if step == 1 {
                (destination + inside.lowerBound).update(from: source, count: inside.count)
            } else {
                for (index, outputX) in inside.enumerated() { destination[outputX] = source[index * step] }
            }
            (destination + inside.upperBound).update(repeating: 0, count: outputWidth - inside.upperBound)
        }
    }

    /// The adjoint of ``im2colTransposed(_:images:into:)``: adds each element back onto
    /// the image position it was copied from.
    /// - Parameters:
    ///   - columns: `[patchSize, images · outputHeight · outputWidth]`.
    ///   - input: `[images, inputHeight, inputWidth, channels]`, overwritten.
    public func col2imTransposed(_ columns: UnsafePointer<Float>, images: Int, into input: UnsafeMutablePointer<Float>) {
        input.update(repeating: 0, count: images * inputSize)
        let step = strideWidth * channels
        forEachOutputRow(images: images) { column, image, inside in
            guard let image else { return }
            let source = columns + column, target = input + image
            for (index, outputX) in inside.enumerated() { target[index * step] += source[outputX] }
        }
    }

    /// The transposed layout's order, one output row at a time: `body(column, image, inside)` for
    /// the `outputWidth` floats at offset `column` of the columns (one window element and channel,
    /// one output row of one image). Of them, those at `inside` come from the image, the first at
    /// offset `image` of the images and the rest `strideWidth · channels` apart; `image` is nil
    /// when the whole row falls in the padding.
    @inline(__always)
    private func forEachOutputRow(images: Int, _ body: (_ column: Int, _ image: Int?, _ inside: Range<Int>) -> Void) {
        let positions = images * outputPositions
        for windowY in 0..<windowHeight {
            for windowX in 0..<windowWidth {
                let inside = insideOutputs(offset: windowX, stride: strideWidth, padBefore: padLeft,
                                           input: inputWidth, outputs: outputWidth)
                let firstX = inside.lowerBound * strideWidth - padLeft + windowX
                for channel in 0..<channels {
                    let row = ((windowY * windowWidth + windowX) * channels + channel) * positions
                    for image in 0..<images {
                        for outputY in 0..<outputHeight {
                            let y = outputY * strideHeight - padTop + windowY
                            let inImage = y >= 0 && y < inputHeight
                            body(row + image * outputPositions + outputY * outputWidth,
                                 inImage ? image * inputSize + (y * inputWidth + firstX) * channels + channel : nil, inside)
                        }
                    }
                }
            }
        }
    }

    @inline(__always)
    private func copy(_ source: UnsafePointer<Float>, to destination: UnsafeMutablePointer<Float>, count: Int) {
        for index in 0..<count { destination[index] = source[index] }
    }

    @inline(__always)
    private func add(_ source: UnsafePointer<Float>, to destination: UnsafeMutablePointer<Float>, count: Int) {
        for index in 0..<count { destination[index] += source[index] }
    }
}

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
        let runLength = windowWidth * channels
        var row = columns
        for image in 0..<images {
            let source = input + image * inputSize
            for outputY in 0..<outputHeight {
                let top = outputY * strideHeight - padTop
                for outputX in 0..<outputWidth {
                    let left = outputX * strideWidth - padLeft
                    let fitsHorizontally = left >= 0 && left + windowWidth <= inputWidth
                    var destination = row
                    for windowY in 0..<windowHeight {
                        let y = top + windowY
                        if y < 0 || y >= inputHeight {
                            destination.update(repeating: 0, count: runLength)
                        } else if fitsHorizontally {
                            copy(source + (y * inputWidth + left) * channels, to: destination, count: runLength)
                        } else {
                            for windowX in 0..<windowWidth {
                                let x = left + windowX
                                let target = destination + windowX * channels
                                if x < 0 || x >= inputWidth {
                                    target.update(repeating: 0, count: channels)
                                } else {
                                    copy(source + (y * inputWidth + x) * channels, to: target, count: channels)
                                }
                            }
                        }
                        destination += runLength
                    }
                    row += patchSize
                }
            }
        }
    }

    /// The adjoint of ``im2col(_:images:into:)``: adds each row back onto the
    /// image positions it was copied from (padding positions are dropped).
    /// - Parameters:
    ///   - columns: `[images · outputHeight · outputWidth, patchSize]`.
    ///   - input: `[images, inputHeight, inputWidth, channels]`, overwritten.
    public func col2im(_ columns: UnsafePointer<Float>, images: Int, into input: UnsafeMutablePointer<Float>) {
        input.update(repeating: 0, count: images * inputSize)
        let runLength = windowWidth * channels
        var row = columns
        for image in 0..<images {
            let target = input + image * inputSize
            for outputY in 0..<outputHeight {
                let top = outputY * strideHeight - padTop
                for outputX in 0..<outputWidth {
                    let left = outputX * strideWidth - padLeft
                    let fitsHorizontally = left >= 0 && left + windowWidth <= inputWidth
                    var source = row
                    for windowY in 0..<windowHeight {
                        let y = top + windowY
                        if y >= 0 && y < inputHeight {
                            if fitsHorizontally {
                                add(source, to: target + (y * inputWidth + left) * channels, count: runLength)
                            } else {
                                for windowX in 0..<windowWidth {
                                    let x = left + windowX
                                    guard x >= 0 && x < inputWidth else { continue }
                                    add(source + windowX * channels, to: target + (y * inputWidth + x) * channels, count: channels)
                                }
                            }
                        }
                        source += runLength
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
        let positions = images * outputPositions
        for windowY in 0..<windowHeight {
            for windowX in 0..<windowWidth {
                let inside = insideOutputs(offset: windowX, stride: strideWidth, padBefore: padLeft,
                                           input: inputWidth, outputs: outputWidth)
                let firstX = inside.lowerBound * strideWidth - padLeft + windowX
                for channel in 0..<channels {
                    let row = columns + ((windowY * windowWidth + windowX) * channels + channel) * positions
                    for image in 0..<images {
                        for outputY in 0..<outputHeight {
                            let destination = row + image * outputPositions + outputY * outputWidth  // [outputWidth]
                            let y = outputY * strideHeight - padTop + windowY
                            guard y >= 0 && y < inputHeight else {
                                destination.update(repeating: 0, count: outputWidth)
                                continue
                            }
                            destination.update(repeating: 0, count: inside.lowerBound)
                            let source = input + image * inputSize + (y * inputWidth + firstX) * channels + channel
                            let step = strideWidth * channels
                            if step == 1 {
                                (destination + inside.lowerBound).update(from: source, count: inside.count)
                            } else {
                                for (index, outputX) in inside.enumerated() { destination[outputX] = source[index * step] }
                            }
                            (destination + inside.upperBound).update(repeating: 0, count: outputWidth - inside.upperBound)
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of ``im2colTransposed(_:images:into:)``: adds each element back onto
    /// the image position it was copied from.
    /// - Parameters:
    ///   - columns: `[patchSize, images · outputHeight · outputWidth]`.
    ///   - input: `[images, inputHeight, inputWidth, channels]`, overwritten.
    public func col2imTransposed(_ columns: UnsafePointer<Float>, images: Int, into input: UnsafeMutablePointer<Float>) {
        input.update(repeating: 0, count: images * inputSize)
        let positions = images * outputPositions
        for windowY in 0..<windowHeight {
            for windowX in 0..<windowWidth {
                let inside = insideOutputs(offset: windowX, stride: strideWidth, padBefore: padLeft,
                                           input: inputWidth, outputs: outputWidth)
                let firstX = inside.lowerBound * strideWidth - padLeft + windowX
                for channel in 0..<channels {
                    let row = columns + ((windowY * windowWidth + windowX) * channels + channel) * positions
                    for image in 0..<images {
                        for outputY in 0..<outputHeight {
                            let y = outputY * strideHeight - padTop + windowY
                            guard y >= 0 && y < inputHeight else { continue }
                            let source = row + image * outputPositions + outputY * outputWidth  // [outputWidth]
                            let target = input + image * inputSize + (y * inputWidth + firstX) * channels + channel
                            let step = strideWidth * channels
                            for (index, outputX) in inside.enumerated() { target[index * step] += source[outputX] }
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

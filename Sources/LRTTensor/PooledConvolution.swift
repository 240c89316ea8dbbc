#if LRT_AVX2_COPY
import LRTTensor  // this file is also LRTTensorAVX2's, compiled for AVX2
#endif

/// Direct convolution of images with few channels, fused with the bias, a ReLU and a 2×2 max pooling of stride 2,
/// for inference of a network's first layer (Keras's MNIST CNN: `Conv2D(32, 3, activation="relu")`, then
/// `MaxPooling2D()`).
///
/// With one to three input channels each output costs a few dozen multiply-adds, so the layer is bound by memory,
/// not arithmetic: the convolution's output is 8–32 times the size of its input (26×26×32 floats for one 28×28
/// MNIST image), written once and read back by the pooling. Here each pooled output is computed from its four
/// convolution outputs in registers and only the pooled value is stored: a quarter of the output, one pass.
///
/// The sums run over the window's rows, columns and channels in that order, into 8-wide vectors of filters; the
/// bias is added last and the ReLU applied before the maximum, as the separate layers do. The result matches direct
/// convolution to rounding (the tests hold it against Double-accumulated loops).
public struct PooledConvolution: Sendable {
    /// The convolution's sizes (any window, stride and padding).
    public let geometry: WindowGeometry
    /// The number of output channels.
    public let filters: Int
    /// Pooled outputs down and across one image: half the convolution's, rounded down.
    public var pooledHeight: Int { geometry.outputHeight / 2 }
    public var pooledWidth: Int { geometry.outputWidth / 2 }

    static let lane = 8
    /// Filters padded to whole vectors.
    var paddedFilters: Int { (filters + Self.lane - 1) / Self.lane * Self.lane }

    /// - Parameters:
    ///   - geometry: the convolution's window over one image.
    ///   - filters: output channels (at least one).
    public init(geometry: WindowGeometry, filters: Int) {
        precondition(filters > 0)
        self.geometry = geometry
        self.filters = filters
    }

    /// Floats of scratch ``convolve(_:images:packed:rectifies:into:scratch:)`` needs: four vectors.
    public static let scratchCount = 4 * lane

    /// Floats of ``pack(kernel:bias:into:)``'s result: the kernel with filters padded, then the padded bias.
    public var packedCount: Int { (geometry.patchSize + 1) * paddedFilters }

    /// The kernel `[windowHeight, windowWidth, channels, filters]` and bias `[filters]` (nil: zeros), with the
    /// filters padded with zeros to whole vectors: `[patchSize + 1, paddedFilters]`.
    public func pack(kernel: UnsafePointer<Float>, bias: UnsafePointer<Float>?, into packed: UnsafeMutablePointer<Float>) {
        let paddedFilters = paddedFilters
        packed.update(repeating: 0, count: packedCount)
        for row in 0..<geometry.patchSize {
            (packed + row * paddedFilters).update(from: kernel + row * filters, count: filters)
        }
        if let bias { (packed + geometry.patchSize * paddedFilters).update(from: bias, count: filters) }
    }

    /// Computes `maxpool₂ₓ₂(activation(convolve(input) + bias))` for `images` images.
    ///
    /// - Parameters:
    ///   - input: `[images, inputHeight, inputWidth, channels]`.
    ///   - packed: ``pack(kernel:bias:into:)``'s result.
    ///   - rectifies: whether the activation is ReLU (otherwise linear).
    ///   - output: `[images, pooledHeight, pooledWidth, filters]`.
    ///   - scratch: ``scratchCount`` floats, this worker's alone.
    public func convolve(_ input: UnsafePointer<Float>, images: Int, packed: UnsafePointer<Float>, rectifies: Bool,
                         into output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let paddedFilters = paddedFilters, pooledSize = pooledHeight * pooledWidth * filters
        for image in 0..<images {
            let source = input + image * geometry.inputSize, target = output + image * pooledSize
            for pooledRow in 0..<pooledHeight {
                for pooledColumn in 0..<pooledWidth {
                    let destination = target + (pooledRow * pooledWidth + pooledColumn) * filters
                    var block = 0
                    // Four vectors of filters at a time while they last, then one.
                    while block + 4 * Self.lane <= paddedFilters {
                        pool(source, row: 2 * pooledRow, column: 2 * pooledColumn, packed: packed + block,
                             rectifies: rectifies, vectors: 4, into: destination, filterOffset: block, scratch: scratch)
                        block += 4 * Self.lane
                    }
                    while block < paddedFilters {
                        pool(source, row: 2 * pooledRow, column: 2 * pooledColumn, packed: packed + block,
                             rectifies: rectifies, vectors: 1, into: destination, filterOffset: block, scratch: scratch)
                        block += Self.lane
                    }
                }
            }
        }
    }

    private typealias Lane = SIMD8<Float>

    /// The pooled value of `vectors` (1 or 4) vectors of filters starting at `filterOffset`, for the 2×2 block of
    /// convolution outputs whose first is at (`row`, `column`); stored into `destination + filterOffset` (the filters
    /// that exist).
    @inline(__always)
    private func pool(_ source: UnsafePointer<Float>, row: Int, column: Int, packed: UnsafePointer<Float>, rectifies: Bool,
                      vectors: Int, into destination: UnsafeMutablePointer<Float>, filterOffset: Int,
                      scratch: UnsafeMutablePointer<Float>) {
        let geometry = geometry, paddedFilters = paddedFilters, channels = geometry.channels
        let rowStride = geometry.inputWidth * channels
        let biasRow = packed + geometry.patchSize * paddedFilters
        func load(_ pointer: UnsafePointer<Float>) -> Lane { UnsafeRawPointer(pointer).loadUnaligned(as: Lane.self) }
        var best0 = Lane(repeating: -.infinity), best1 = best0, best2 = best0, best3 = best0
        for position in 0..<4 {
            let outputRow = row + position / 2, outputColumn = column + position % 2
            var sum0 = Lane(), sum1 = Lane(), sum2 = Lane(), sum3 = Lane()
            let firstRow = outputRow * geometry.strideHeight - geometry.padTop
            let firstColumn = outputColumn * geometry.strideWidth - geometry.padLeft
            // The window clipped to the image; within a window row the taps that exist are contiguous in the input
            // (columns × channels) and in the packed kernel, so they run as one loop.
            let rows = max(0, -firstRow)..<min(geometry.windowHeight, geometry.inputHeight - firstRow)
            let columns = max(0, -firstColumn)..<min(geometry.windowWidth, geometry.inputWidth - firstColumn)
            let taps = columns.count * channels
            for windowRow in rows {
                let pixels = source + (firstRow + windowRow) * rowStride + (firstColumn + columns.lowerBound) * channels
                let weights = packed + ((windowRow * geometry.windowWidth + columns.lowerBound) * channels) * paddedFilters
                for tap in 0..<taps {
                    let value = Lane(repeating: pixels[tap]), weightRow = weights + tap &* paddedFilters
                    sum0 += value * load(weightRow)
                    if vectors == 4 {
                        sum1 += value * load(weightRow + Self.lane)
                        sum2 += value * load(weightRow + 2 * Self.lane)
                        sum3 += value * load(weightRow + 3 * Self.lane)
                    }
                }
            }
            sum0 += load(biasRow)
            if rectifies { sum0 = sum0.rectified() }
            best0 = best0.lanewiseMaximum(sum0)
            if vectors == 4 {
                sum1 += load(biasRow + Self.lane)
                sum2 += load(biasRow + 2 * Self.lane)
                sum3 += load(biasRow + 3 * Self.lane)
                if rectifies {
                    sum1 = sum1.rectified()
                    sum2 = sum2.rectified()
                    sum3 = sum3.rectified()
                }
                best1 = best1.lanewiseMaximum(sum1)
                best2 = best2.lanewiseMaximum(sum2)
                best3 = best3.lanewiseMaximum(sum3)
            }
        }
        let existing = min(vectors * Self.lane, filters - filterOffset)
        let whole = existing == vectors * Self.lane
        let target = whole ? destination + filterOffset : scratch
        func store(_ value: Lane, _ pointer: UnsafeMutablePointer<Float>) {
            UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Lane.self)
        }
        store(best0, target)
        if vectors == 4 {
            store(best1, target + Self.lane)
            store(best2, target + 2 * Self.lane)
            store(best3, target + 3 * Self.lane)
        }
        if !whole { (destination + filterOffset).update(from: scratch, count: existing) }
    }
}

extension SIMD8<Float> {
    /// The larger of each pair of lanes, `other > self ? other : self` per lane (the standard library's `pointwiseMax` is a
    /// generic call here, not inlined).
    @inline(__always)
    func lanewiseMaximum(_ other: Self) -> Self { replacing(with: other, where: other .> self) }

    /// Each lane as ReLU gives it, `value > 0 ? value : 0` (NaN becomes 0).
    @inline(__always)
    func rectified() -> Self { replacing(with: 0, where: .!(self .> 0)) }
}

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
/// bias is added last and the ReLU applied before the maximum, as the separate layers do. Pooling windows whose four
/// convolution windows lie inside the image (all of them without padding) take a path without clipping that shares
/// each weight load among the four outputs: on MNIST's first layer about 1.5× faster than clipping every window. The
/// result matches direct convolution to rounding (the tests hold it against Double-accumulated loops).
public struct PooledConvolution: PooledConvolutionKernel {
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
        let rowStride = geometry.inputWidth * geometry.channels, taps = geometry.windowWidth * geometry.channels
        tapOffsets = (0..<geometry.patchSize).map { $0 / taps * rowStride + $0 % taps }
    }

    /// For each tap of the window (rows, columns, channels), its offset in the input from the window's first pixel.
    let tapOffsets: [Int]

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
        let insideRows = Self.inside(pooled: pooledHeight, input: geometry.inputHeight, window: geometry.windowHeight,
                                     stride: geometry.strideHeight, padding: geometry.padTop)
        let insideColumns = Self.inside(pooled: pooledWidth, input: geometry.inputWidth, window: geometry.windowWidth,
                                        stride: geometry.strideWidth, padding: geometry.padLeft)
        let rowStride = geometry.inputWidth * geometry.channels
        for image in 0..<images {
            let source = input + image * geometry.inputSize, target = output + image * pooledSize
            for pooledRow in 0..<pooledHeight {
                for pooledColumn in 0..<pooledWidth {
                    let destination = target + (pooledRow * pooledWidth + pooledColumn) * filters
                    var block = 0
                    if insideRows.contains(pooledRow) && insideColumns.contains(pooledColumn) {
                        // The four windows lie inside the image: no clipping, two vectors of filters at a time.
                        let corner = source + (2 * pooledRow * geometry.strideHeight - geometry.padTop) * rowStride
                            + (2 * pooledColumn * geometry.strideWidth - geometry.padLeft) * geometry.channels
                        while block + 2 * Self.lane <= paddedFilters {
                            poolInside(corner, packed: packed + block, rectifies: rectifies, vectors: 2, into: destination,
                                       filterOffset: block, scratch: scratch)
                            block += 2 * Self.lane
                        }
                        if block < paddedFilters {
                            poolInside(corner, packed: packed + block, rectifies: rectifies, vectors: 1, into: destination,
                                       filterOffset: block, scratch: scratch)
                        }
                        continue
                    }
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

    /// The pooled indices (along one side) whose two windows lie inside the image: contiguous, perhaps empty.
    static func inside(pooled: Int, input: Int, window: Int, stride: Int, padding: Int) -> Range<Int> {
        let fits = (0..<pooled).filter { index in
            2 * index * stride - padding >= 0 && (2 * index + 1) * stride - padding + window <= input
        }
        guard let first = fits.first, let last = fits.last else { return 0..<0 }
        return first..<(last + 1)
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

    /// ``pool(_:row:column:packed:rectifies:vectors:into:filterOffset:scratch:)`` for `vectors` (1 or 2) vectors of
    /// filters when the four windows lie inside the image, the first at `corner`: no clipping, one loop over the taps,
    /// and each tap's weights loaded once for the four outputs (eight sums in registers). The same sums in the same
    /// order as the general path, so the same results.
    @inline(__always)
    private func poolInside(_ corner: UnsafePointer<Float>, packed: UnsafePointer<Float>, rectifies: Bool, vectors: Int,
                            into destination: UnsafeMutablePointer<Float>, filterOffset: Int,
                            scratch: UnsafeMutablePointer<Float>) {
        let geometry = geometry, paddedFilters = paddedFilters
        let rowStride = geometry.inputWidth * geometry.channels
        let down = geometry.strideHeight * rowStride, right = geometry.strideWidth * geometry.channels
        func load(_ pointer: UnsafePointer<Float>) -> Lane { UnsafeRawPointer(pointer).loadUnaligned(as: Lane.self) }
        var first0 = Lane(), first1 = Lane(), first2 = Lane(), first3 = Lane()
        var second0 = Lane(), second1 = Lane(), second2 = Lane(), second3 = Lane()
        // One loop over the window's taps (rows, columns, channels: the order of the general path's sums).
        tapOffsets.withUnsafeBufferPointer { offsets in
            for tap in 0..<offsets.count {
                let weightRow = packed + tap &* paddedFilters, pixels = corner + offsets[tap]
                let value0 = Lane(repeating: pixels[0]), value1 = Lane(repeating: pixels[right])
                let value2 = Lane(repeating: pixels[down]), value3 = Lane(repeating: pixels[down &+ right])
                let weight = load(weightRow)
                first0 += value0 * weight
                first1 += value1 * weight
                first2 += value2 * weight
                first3 += value3 * weight
                if vectors == 2 {
                    let weight = load(weightRow + Self.lane)
                    second0 += value0 * weight
                    second1 += value1 * weight
                    second2 += value2 * weight
                    second3 += value3 * weight
                }
            }
        }
        let biasRow = packed + geometry.patchSize * paddedFilters
        let existing = min(vectors * Self.lane, filters - filterOffset)
        let whole = existing == vectors * Self.lane
        let target = whole ? destination + filterOffset : scratch
        func store(_ value: Lane, _ pointer: UnsafeMutablePointer<Float>) {
            UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Lane.self)
        }
        // One call of `finish` for both vectors: with a call for each, Swift left one of them out of line.
        for vector in 0..<vectors {
            let sums = vector == 0 ? (first0, first1, first2, first3) : (second0, second1, second2, second3)
            store(Self.finish(sums.0, sums.1, sums.2, sums.3, bias: load(biasRow + vector * Self.lane), rectifies: rectifies),
                  target + vector * Self.lane)
        }
        if !whole { (destination + filterOffset).update(from: scratch, count: existing) }
    }

    /// The bias, the activation and the maximum of four outputs' sums, in the general path's order. A method, not a
    /// function nested in the caller: Swift left the nested one out of line, a call per vector of pooled outputs that
    /// took half of the layer's time.
    @inline(__always)
    private static func finish(_ sum0: Lane, _ sum1: Lane, _ sum2: Lane, _ sum3: Lane, bias: Lane, rectifies: Bool) -> Lane {
        let activated0 = rectifies ? (sum0 + bias).rectified() : sum0 + bias
        let activated1 = rectifies ? (sum1 + bias).rectified() : sum1 + bias
        let activated2 = rectifies ? (sum2 + bias).rectified() : sum2 + bias
        let activated3 = rectifies ? (sum3 + bias).rectified() : sum3 + bias
        return Lane(repeating: -.infinity).lanewiseMaximum(activated0).lanewiseMaximum(activated1)
            .lanewiseMaximum(activated2).lanewiseMaximum(activated3)
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

import Foundation
#if LRT_AVX2_COPY
import LRTTensor  // this file is also LRTTensorAVX2's, compiled for AVX2
#endif

/// Winograd's minimal filtering F(4×4, 3×3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural
/// Networks", 2016) for 3×3 convolutions with stride 1 over NHWC images.
///
/// Directly, a 4×4 tile of outputs costs 16 · 9 = 144 multiply-adds per pair of input and output channels;
/// Winograd's algorithm costs 36, for three linear transforms that are cheap beside it: each 6×6 input tile
/// (`Bᵀ d B`), the kernel (`G g Gᵀ`, once per call) and each product (`Aᵀ m A`). Over channels, the 36
/// element-wise products of a chunk of tiles are 36 matrix products `[tiles, channels] · [channels, filters]`,
/// which oneDNN's sgemm computes (OpenBLAS's where oneDNN is missing). The outputs differ from direct
/// convolution's by at most about 5e-6 of the largest output; the tests hold them against naive loops.
///
/// Memory of one worker (``scratchCount(images:)``): the transformed tiles of a chunk, `[36, tiles, paddedChannels]`,
/// their products, `[36, tiles, paddedFilters]`, and a few tiles of temporaries. Channel counts are padded to
/// multiples of 8 inside the scratch so that every transform runs on whole vectors.
public struct WinogradConvolution: WinogradKernel {
    /// The convolution's sizes; a 3×3 window with stride 1.
    public let geometry: WindowGeometry
    /// The number of output channels.
    public let filters: Int
    /// Output tiles down and across one image: `⌈outputHeight / 4⌉`, `⌈outputWidth / 4⌉`.
    public let tileRows: Int, tileColumns: Int

    /// The environment variable that turns Winograd's algorithm off (`LRT_WINOGRAD=off`), to compare it with direct convolution.
    public static let environmentVariable = "LRT_WINOGRAD"
    /// Whether inference uses it: unless `LRT_WINOGRAD` is `off`.
    public static let isEnabled = ProcessInfo.processInfo.environment[environmentVariable]?.lowercased() != "off"

    /// Points of the transformed 6×6 tile.
    static let points = 36
    static let lane = 8
    private var paddedChannels: Int { (geometry.channels + 7) / 8 * 8 }
    private var paddedFilters: Int { (filters + 7) / 8 * 8 }

    /// nil unless the window is 3×3 with stride 1.
    public init?(geometry: WindowGeometry, filters: Int) {
        guard geometry.windowHeight == 3, geometry.windowWidth == 3,
              geometry.strideHeight == 1, geometry.strideWidth == 1, filters > 0 else { return nil }
        self.geometry = geometry
        self.filters = filters
        tileRows = (geometry.outputHeight + 3) / 4
        tileColumns = (geometry.outputWidth + 3) / 4
    }

    /// Output tiles of one image.
    public var tilesPerImage: Int { tileRows * tileColumns }
    /// Elements of the transformed kernel, `[36, channels, filters]`.
    public var transformedKernelCount: Int { Self.points * geometry.channels * filters }

    /// Floats of scratch one worker needs for chunks of `images` images.
    public func scratchCount(images: Int) -> Int {
        let tiles = images * tilesPerImage
        return Self.points * tiles * (paddedChannels + paddedFilters)
            + 2 * Self.points * paddedChannels + (24 + 16 + 2) * paddedFilters
    }

    /// The pooled output of one image: half the convolution's height and width (rounded down).
    public var pooledShape: [Int] { [geometry.outputHeight / 2, geometry.outputWidth / 2, filters] }

    /// Images per chunk so that a chunk's transformed tiles and products stay within `elements` floats (at least one).
    public func imagesPerChunk(within elements: Int) -> Int {
        max(1, elements / (Self.points * tilesPerImage * (paddedChannels + paddedFilters)))
    }

    /// `U = G g Gᵀ` for every pair of channels: kernel `[3, 3, channels, filters]` → `[36, channels, filters]`.
    public func transformKernel(_ kernel: UnsafePointer<Float>, into transformed: UnsafeMutablePointer<Float>) {
        let pairs = geometry.channels * filters
        // G, 6×3: the rows (1/4, 0, 0), −(1, 1, 1)/6, −(1, −1, 1)/6, (1/24, 1/12, 1/6), (1/24, −1/12, 1/6), (0, 0, 1).
        func g(_ x0: Float, _ x1: Float, _ x2: Float) -> (Float, Float, Float, Float, Float, Float) {
            (x0 / 4, -(x0 + x1 + x2) / 6, -(x0 - x1 + x2) / 6,
             x0 / 24 + x1 / 12 + x2 / 6, x0 / 24 - x1 / 12 + x2 / 6, x2)
        }
        for pair in 0..<pairs {
            // g[row][column] = kernel[(row · 3 + column) · pairs + pair]; first G · g, one kernel column at a time.
            let column0 = g(kernel[pair], kernel[3 * pairs + pair], kernel[6 * pairs + pair])
            let column1 = g(kernel[pairs + pair], kernel[4 * pairs + pair], kernel[7 * pairs + pair])
            let column2 = g(kernel[2 * pairs + pair], kernel[5 * pairs + pair], kernel[8 * pairs + pair])
            // Then row i of (G g) · Gᵀ is G applied to row i of G g.
            func store(row: Int, _ x0: Float, _ x1: Float, _ x2: Float) {
                let values = g(x0, x1, x2), base = transformed + row * 6 * pairs + pair
                base[0] = values.0
                base[pairs] = values.1
                base[2 * pairs] = values.2
                base[3 * pairs] = values.3
                base[4 * pairs] = values.4
                base[5 * pairs] = values.5
            }
            store(row: 0, column0.0, column1.0, column2.0)
            store(row: 1, column0.1, column1.1, column2.1)
            store(row: 2, column0.2, column1.2, column2.2)
            store(row: 3, column0.3, column1.3, column2.3)
            store(row: 4, column0.4, column1.4, column2.4)
            store(row: 5, column0.5, column1.5, column2.5)
        }
    }

    /// Convolves `images` images (no bias, no activation), or with `pooling` the pooled maxima of the biased, activated
    /// outputs.
    ///
    /// - Parameters:
    ///   - input: `[images, inputHeight, inputWidth, channels]`.
    ///   - transformedKernel: ``transformKernel(_:into:)``'s result, `[36, channels, filters]`.
    ///   - output: `[images, outputHeight, outputWidth, filters]`, or `[images] + pooledShape` with `pooling`.
    ///   - scratch: ``scratchCount(images:)`` floats, this worker's alone.
    ///   - pooling: the pooling, bias and activation taken in, or nil (the default) for the convolution alone.
    /// Runs on the calling thread; BLAS threads as the caller has set them.
    public func convolve(_ input: UnsafePointer<Float>, images: Int, transformedKernel: UnsafePointer<Float>,
                         into output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                         pooling: WinogradPooling? = nil) {
        let channels = geometry.channels, paddedChannels = paddedChannels, paddedFilters = paddedFilters
        let tiles = images * tilesPerImage, points = Self.points
        let transformedTiles = scratch                                     // [36, tiles, paddedChannels]
        let products = transformedTiles + points * tiles * paddedChannels  // [36, tiles, paddedFilters]
        let gathered = products + points * tiles * paddedFilters           // [6, 6, paddedChannels]
        let halfway = gathered + points * paddedChannels                   // [6, 6, paddedChannels]: Bᵀ d
        let outputHalfway = halfway + points * paddedChannels              // [4, 6, paddedFilters]: Aᵀ m
        let outputTile = outputHalfway + 24 * paddedFilters                // [4, 4, paddedFilters]
        let paddedBias = outputTile + 16 * paddedFilters                   // [paddedFilters]
        let pooledTile = paddedBias + paddedFilters                        // [paddedFilters]
        if paddedFilters != filters {
            // The padding columns of the products are read by the output transform: keep them finite.
            products.update(repeating: 0, count: points * tiles * paddedFilters)
        }
        // Bᵀ d B for every tile.
        let rowStride = geometry.inputWidth * channels
        for image in 0..<images {
            let source = input + image * geometry.inputSize
            for tileRow in 0..<tileRows {
                for tileColumn in 0..<tileColumns {
                    let tile = (image * tileRows + tileRow) * tileColumns + tileColumn
                    let firstRow = tileRow * 4 - geometry.padTop, firstColumn = tileColumn * 4 - geometry.padLeft
                    if channels == paddedChannels, firstRow >= 0, firstRow + 6 <= geometry.inputHeight,
                       firstColumn >= 0, firstColumn + 6 <= geometry.inputWidth {
                        // Inside the image: transform straight from the input.
                        let corner = source + firstRow * rowStride + firstColumn * channels
                        for j in 0..<6 {  // halfway[i][j] = Σ_k Bᵀ[i][k] d[k][j]
                            Self.inputTransform(corner + j * channels, stride: rowStride,
                                                into: halfway + j * paddedChannels, stride: 6 * paddedChannels, count: paddedChannels)
                        }
                    } else {
                        // On the border: gather the tile with zeros for the padding (and the padded channels).
                        for k in 0..<6 {
                            let row = firstRow + k
                            for j in 0..<6 {
                                let column = firstColumn + j
                                let target = gathered + (k * 6 + j) * paddedChannels
                                if row >= 0, row < geometry.inputHeight, column >= 0, column < geometry.inputWidth {
                                    target.update(from: source + row * rowStride + column * channels, count: channels)
                                    (target + channels).update(repeating: 0, count: paddedChannels - channels)
                                } else {
                                    target.update(repeating: 0, count: paddedChannels)
                                }
                            }
                        }
                        for j in 0..<6 {
                            Self.inputTransform(gathered + j * paddedChannels, stride: 6 * paddedChannels,
                                                into: halfway + j * paddedChannels, stride: 6 * paddedChannels, count: paddedChannels)
                        }
                    }
                    for i in 0..<6 {  // V[i·6 + j][tile] = Σ_k halfway[i][k] Bᵀ[j][k]
                        Self.inputTransform(halfway + i * 6 * paddedChannels, stride: paddedChannels,
                                            into: transformedTiles + (i * 6 * tiles + tile) * paddedChannels,
                                            stride: tiles * paddedChannels, count: paddedChannels)
                    }
                }
            }
        }
        // M[ξ] = V[ξ] · U[ξ]: [tiles, filters] = [tiles, channels] · [channels, filters].
        for point in 0..<points {
            let a = transformedTiles + point * tiles * paddedChannels, b = transformedKernel + point * channels * filters
            let c = products + point * tiles * paddedFilters
            // oneDNN's sgemm where it runs: on these thin products (a few dozen channels) it beats OpenBLAS's,
            // which also spends a pass zeroing `c` before it accumulates.
            if !OneDNN.gemm(a, leadingA: paddedChannels, b, leadingB: filters, into: c, leadingC: paddedFilters,
                            rows: tiles, columns: filters, inner: channels) {
                MatrixMultiply.gemm(a, leadingA: paddedChannels, b, leadingB: filters, into: c, leadingC: paddedFilters,
                                    rows: tiles, columns: filters, inner: channels)
            }
        }
        // Aᵀ m A for every tile, into the output positions that exist.
        if let pooling {
            paddedBias.update(repeating: 0, count: paddedFilters)
            if let bias = pooling.bias { paddedBias.update(from: bias, count: filters) }
        }
        let outputRowStride = geometry.outputWidth * filters
        let imageOutputs = (pooling == nil ? [geometry.outputHeight, geometry.outputWidth, filters] : pooledShape).reduce(1, *)
        for image in 0..<images {
            let target = output + image * imageOutputs
            for tileRow in 0..<tileRows {
                for tileColumn in 0..<tileColumns {
                    let tile = (image * tileRows + tileRow) * tileColumns + tileColumn
                    for j in 0..<6 {  // outputHalfway[i][j] = Σ_k Aᵀ[i][k] M[k·6 + j]
                        Self.outputTransform(products + (j * tiles + tile) * paddedFilters, stride: 6 * tiles * paddedFilters,
                                             into: outputHalfway + j * paddedFilters, stride: 6 * paddedFilters, count: paddedFilters)
                    }
                    let firstRow = tileRow * 4, firstColumn = tileColumn * 4
                    if let pooling {
                        for i in 0..<4 {
                            Self.outputTransform(outputHalfway + i * 6 * paddedFilters, stride: paddedFilters,
                                                 into: outputTile + i * 4 * paddedFilters, stride: paddedFilters, count: paddedFilters)
                        }
                        pool(tile: outputTile, row: firstRow, column: firstColumn, pooling, bias: paddedBias,
                             into: target, scratch: pooledTile)
                        continue
                    }
                    if filters == paddedFilters, firstRow + 4 <= geometry.outputHeight, firstColumn + 4 <= geometry.outputWidth {
                        for i in 0..<4 {  // Y[i][j] = Σ_k outputHalfway[i][k] Aᵀ[j][k], straight into the output
                            Self.outputTransform(outputHalfway + i * 6 * paddedFilters, stride: paddedFilters,
                                                 into: target + (firstRow + i) * outputRowStride + firstColumn * filters,
                                                 stride: filters, count: paddedFilters)
                        }
                        continue
                    }
                    for i in 0..<4 {  // the same, into a tile of which only the positions that exist are copied
                        Self.outputTransform(outputHalfway + i * 6 * paddedFilters, stride: paddedFilters,
                                             into: outputTile + i * 4 * paddedFilters, stride: paddedFilters, count: paddedFilters)
                    }
                    for i in 0..<min(4, geometry.outputHeight - firstRow) {
                        for j in 0..<min(4, geometry.outputWidth - firstColumn) {
                            (target + (firstRow + i) * outputRowStride + (firstColumn + j) * filters)
                                .update(from: outputTile + (i * 4 + j) * paddedFilters, count: filters)
                        }
                    }
                }
            }
        }
    }

    /// Adds the bias to the 4×4 output tile whose first output is at (`row`, `column`), applies the activation, and
    /// stores the maxima of its 2×2 blocks that lie inside the output into the image's pooled output `target`
    /// (`[outputHeight / 2, outputWidth / 2, filters]`).
    /// - Parameters:
    ///   - tile: `[4, 4, paddedFilters]`, overwritten.
    ///   - bias: `[paddedFilters]`, zeros where there is no bias.
    ///   - scratch: `[paddedFilters]`.
    private func pool(tile: UnsafeMutablePointer<Float>, row: Int, column: Int, _ pooling: WinogradPooling,
                      bias: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let paddedFilters = paddedFilters, filters = filters
        let rows = min(4, geometry.outputHeight - row), columns = min(4, geometry.outputWidth - column)
        // The bias and ReLU, in the order of the separate pass: (y + b), then max(·, 0) as `value > 0 ? value : 0`.
        for position in 0..<16 where position / 4 < rows && position % 4 < columns {
            let values = tile + position * paddedFilters
            for offset in Swift.stride(from: 0, to: paddedFilters, by: Self.lane) {
                var value = Self.load(values + offset)
                if pooling.bias != nil { value += Self.load(bias + offset) }
                if pooling.rectifies { value = value.rectified() }
                Self.store(value, values + offset)
            }
        }
        // Pooled output (row / 2 + a, column / 2 + b) exists for the blocks entirely inside the output.
        let pooledWidth = geometry.outputWidth / 2, rowStride = pooledWidth * filters
        for a in 0..<2 where 2 * a + 1 < rows {
            for b in 0..<2 where 2 * b + 1 < columns {
                let first = tile + (2 * a * 4 + 2 * b) * paddedFilters, below = first + 4 * paddedFilters
                let destination = filters == paddedFilters
                    ? target + (row / 2 + a) * rowStride + (column / 2 + b) * filters : scratch
                for offset in Swift.stride(from: 0, to: paddedFilters, by: Self.lane) {
                    let top = Self.load(first + offset).lanewiseMaximum(Self.load(first + paddedFilters + offset))
                    let bottom = Self.load(below + offset).lanewiseMaximum(Self.load(below + paddedFilters + offset))
                    Self.store(top.lanewiseMaximum(bottom), destination + offset)
                }
                if filters != paddedFilters {
                    (target + (row / 2 + a) * rowStride + (column / 2 + b) * filters).update(from: scratch, count: filters)
                }
            }
        }
    }

    private typealias Lane = SIMD8<Float>

    @inline(__always)
    private static func load(_ pointer: UnsafePointer<Float>) -> Lane {
        UnsafeRawPointer(pointer).loadUnaligned(as: Lane.self)
    }

    @inline(__always)
    private static func store(_ value: Lane, _ pointer: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Lane.self)
    }

    /// The vectors at `x + k·stride` for k = 0…5.
    @inline(__always)
    private static func loadSix(_ x: UnsafePointer<Float>, stride: Int) -> (Lane, Lane, Lane, Lane, Lane, Lane) {
        (load(x), load(x + stride), load(x + 2 * stride), load(x + 3 * stride), load(x + 4 * stride), load(x + 5 * stride))
    }

    /// `y_i = Σ_k Bᵀ[i][k] x_k` for six vectors `x_k = x + k·stride` of `count` floats (a multiple of 8).
    @inline(__always)
    private static func inputTransform(_ x: UnsafePointer<Float>, stride xStride: Int,
                                       into y: UnsafeMutablePointer<Float>, stride yStride: Int, count: Int) {
        for offset in Swift.stride(from: 0, to: count, by: lane) {
            let (x0, x1, x2, x3, x4, x5) = loadSix(x + offset, stride: xStride)
            // Bᵀ rows: (4, 0, −5, 0, 1, 0), (0, −4, −4, 1, 1, 0), (0, 4, −4, −1, 1, 0),
            //          (0, −2, −1, 2, 1, 0), (0, 2, −1, −2, 1, 0), (0, 4, 0, −5, 0, 1).
            let sum34 = x3 + x4, difference34 = x4 - x3
            store(4 * x0 - 5 * x2 + x4, y + offset)
            store(sum34 - 4 * (x1 + x2), y + yStride + offset)
            store(difference34 + 4 * (x1 - x2), y + 2 * yStride + offset)
            store(x4 - x2 + 2 * (x3 - x1), y + 3 * yStride + offset)
            store(x4 - x2 + 2 * (x1 - x3), y + 4 * yStride + offset)
            store(4 * x1 - 5 * x3 + x5, y + 5 * yStride + offset)
        }
    }

    /// `y_i = Σ_k Aᵀ[i][k] x_k` for six vectors `x_k = x + k·stride` into four `y_i = y + i·stride`.
    @inline(__always)
    private static func outputTransform(_ x: UnsafePointer<Float>, stride xStride: Int,
                                        into y: UnsafeMutablePointer<Float>, stride yStride: Int, count: Int) {
        for offset in Swift.stride(from: 0, to: count, by: lane) {
            let (x0, x1, x2, x3, x4, x5) = loadSix(x + offset, stride: xStride)
            // Aᵀ rows: (1, 1, 1, 1, 1, 0), (0, 1, −1, 2, −2, 0), (0, 1, 1, 4, 4, 0), (0, 1, −1, 8, −8, 1).
            let sum12 = x1 + x2, difference12 = x1 - x2, sum34 = x3 + x4, difference34 = x3 - x4
            store(x0 + sum12 + sum34, y + offset)
            store(difference12 + 2 * difference34, y + yStride + offset)
            store(sum12 + 4 * sum34, y + 2 * yStride + offset)
            store(difference12 + 8 * difference34 + x5, y + 3 * yStride + offset)
        }
    }
}

import Foundation
#if LRT_AVX2_COPY
import LRTTensor  // this file is also LRTTensorAVX2's, compiled for AVX2
#endif

/// Winograd's minimal filtering F(4×4, 3×3) or F(5×5, 3×3) (Lavin and Gray, "Fast Algorithms for Convolutional
/// Neural Networks", 2016) for 3×3 convolutions with stride 1 over NHWC images.
///
/// Directly, a 4×4 tile of outputs costs 16 · 9 = 144 multiply-adds per pair of input and output channels;
/// F(4×4, 3×3) costs 36, for three linear transforms that are cheap beside it: each 6×6 input tile (`Bᵀ d B`),
/// the kernel (`G g Gᵀ`, once per call) and each product (`Aᵀ m A`). Over channels, the 36 element-wise products
/// of a chunk of tiles are 36 matrix products `[tiles, channels] · [channels, filters]`, which oneDNN's sgemm
/// computes (OpenBLAS's where oneDNN is missing). F(5×5, 3×3) (7×7 input tiles, 49 products; interpolation points
/// 0, ±1, ±2, 1/2 and ∞) is taken where its tiles cover the outputs with fewer products: cnn-mnist's second
/// convolution, whose pooling reads 10×10 of its 11×11 outputs, needs 4 · 49 = 196 per image against F(4×4)'s
/// 9 · 36 = 324. The outputs differ from direct convolution's by at most about 5e-6 (F(4×4)) or 1e-5 (F(5×5)) of the
/// largest output; the tests hold them against naive loops.
///
/// Memory of one worker (``scratchCount(images:)``): the transformed tiles of a chunk, `[points, tiles,
/// paddedChannels]`, their products, `[points, tiles, paddedFilters]`, and a few tiles of temporaries (with F(5×5)
/// and pooling, the image's outputs: its tiles' pooling windows cross tiles). Channel counts are padded to
/// multiples of 8 inside the scratch so that every transform runs on whole vectors.
public struct WinogradConvolution: WinogradKernel {
    /// The convolution's sizes; a 3×3 window with stride 1.
    public let geometry: WindowGeometry
    /// The number of output channels.
    public let filters: Int
    /// Outputs down and across one tile: 4 (F(4×4, 3×3)) or 5 (F(5×5, 3×3)).
    public let tileSize: Int
    /// Output tiles down and across one image, covering the outputs computed (``init(geometry:filters:pooled:)``).
    public let tileRows: Int, tileColumns: Int
    /// Whether ``convolve(_:images:transformedKernel:into:scratch:pooling:)`` is for pooled outputs.
    public let pooled: Bool

    /// The environment variable that turns Winograd's algorithm off (`LRT_WINOGRAD=off`), to compare it with direct convolution.
    public static let environmentVariable = "LRT_WINOGRAD"
    /// Whether inference uses it: unless `LRT_WINOGRAD` is `off`.
    public static let isEnabled = ProcessInfo.processInfo.environment[environmentVariable]?.lowercased() != "off"

    /// Inputs down and across one tile: ``tileSize`` + 2.
    var inputTile: Int { tileSize + 2 }
    /// Points of the transformed tile: 36 or 49.
    var points: Int { inputTile * inputTile }
    static let lane = 8
    private var paddedChannels: Int { (geometry.channels + 7) / 8 * 8 }
    private var paddedFilters: Int { (filters + 7) / 8 * 8 }

    /// nil unless the window is 3×3 with stride 1. With `pooled`, the convolution is for a 2×2 max pooling of stride 2
    /// (``convolve(_:images:transformedKernel:into:scratch:pooling:)`` must then be given the pooling): its tiles need to
    /// cover only the outputs the pooling reads, an even number down and across. The tile size is the one whose tiles
    /// cover those outputs with the fewest products (F(4×4) on a tie).
    public init?(geometry: WindowGeometry, filters: Int, pooled: Bool = false) {
        guard geometry.windowHeight == 3, geometry.windowWidth == 3,
              geometry.strideHeight == 1, geometry.strideWidth == 1, filters > 0 else { return nil }
        self.geometry = geometry
        self.filters = filters
        self.pooled = pooled
        let (height, width) = pooled ? (geometry.outputHeight / 2 * 2, geometry.outputWidth / 2 * 2)
                                     : (geometry.outputHeight, geometry.outputWidth)
        func products(_ size: Int) -> Int { (height + size - 1) / size * ((width + size - 1) / size) * (size + 2) * (size + 2) }
        tileSize = products(5) < products(4) ? 5 : 4
        tileRows = (height + tileSize - 1) / tileSize
        tileColumns = (width + tileSize - 1) / tileSize
    }

    /// Output tiles of one image.
    public var tilesPerImage: Int { tileRows * tileColumns }
    /// Elements of the transformed kernel, `[points, channels, filters]`.
    public var transformedKernelCount: Int { points * geometry.channels * filters }

    /// Whether the pooling runs over the whole image's outputs rather than tile by tile: F(5×5) tiles split pooling windows.
    private var poolsByImage: Bool { pooled && tileSize % 2 == 1 }
    /// Output positions of the temporary output tile: one tile, or with ``poolsByImage`` the image's tiles.
    private var outputTilePositions: Int {
        poolsByImage ? tilesPerImage * tileSize * tileSize : tileSize * tileSize
    }

    /// Floats of scratch one worker needs for chunks of `images` images.
    public func scratchCount(images: Int) -> Int {
        let tiles = images * tilesPerImage
        return points * tiles * (paddedChannels + paddedFilters)
            + 2 * points * paddedChannels + (tileSize * inputTile + outputTilePositions + 2) * paddedFilters
    }

    /// The pooled output of one image: half the convolution's height and width (rounded down).
    public var pooledShape: [Int] { [geometry.outputHeight / 2, geometry.outputWidth / 2, filters] }

    /// Images per chunk so that a chunk's transformed tiles and products stay within `elements` floats (at least one).
    public func imagesPerChunk(within elements: Int) -> Int {
        max(1, elements / (points * tilesPerImage * (paddedChannels + paddedFilters)))
    }

    /// `y_i = Σ_k G[i][k] x_k` for one kernel column or row `x`: ``inputTile`` values at `y + i·stride`.
    private func kernelTransform(_ x0: Float, _ x1: Float, _ x2: Float, into y: UnsafeMutablePointer<Float>, stride: Int) {
        if tileSize == 4 {
            // G, 6×3: the rows (1/4, 0, 0), −(1, 1, 1)/6, −(1, −1, 1)/6, (1/24, 1/12, 1/6), (1/24, −1/12, 1/6), (0, 0, 1).
            (y[0], y[stride], y[2 * stride]) = (x0 / 4, -(x0 + x1 + x2) / 6, -(x0 - x1 + x2) / 6)
            (y[3 * stride], y[4 * stride], y[5 * stride]) = (x0 / 24 + x1 / 12 + x2 / 6, x0 / 24 - x1 / 12 + x2 / 6, x2)
            return
        }
        // G, 7×3, for the points 0, 1, −1, 2, −2, 1/2, ∞: the rows (−1/2, 0, 0), −(1, 1, 1)/3, (1, −1, 1)/9,
        // (1/36, 1/18, 1/9), (−1/60, 1/30, −1/15), (32/45, 16/45, 8/45), (0, 0, 1).
        (y[0], y[stride], y[2 * stride], y[3 * stride]) = (-x0 / 2, -(x0 + x1 + x2) / 3, (x0 - x1 + x2) / 9, x0 / 36 + x1 / 18 + x2 / 9)
        (y[4 * stride], y[5 * stride], y[6 * stride]) = (-x0 / 60 + x1 / 30 - x2 / 15, x0 * 32 / 45 + x1 * 16 / 45 + x2 * 8 / 45, x2)
    }

    /// `U = G g Gᵀ` for every pair of channels: kernel `[3, 3, channels, filters]` → `[points, channels, filters]`.
    public func transformKernel(_ kernel: UnsafePointer<Float>, into transformed: UnsafeMutablePointer<Float>) {
        let pairs = geometry.channels * filters, inputTile = inputTile
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 3 * inputTile) { buffer in
            let halfway = buffer.baseAddress!  // [inputTile, 3]: G g
            for pair in 0..<pairs {
                // g[row][column] = kernel[(row · 3 + column) · pairs + pair]; first G · g, one kernel column at a time.
                for column in 0..<3 {
                    kernelTransform(kernel[column * pairs + pair], kernel[(3 + column) * pairs + pair], kernel[(6 + column) * pairs + pair],
                                    into: halfway + column, stride: 3)
                }
                // Then row i of (G g) · Gᵀ is G applied to row i of G g.
                for row in 0..<inputTile {
                    kernelTransform(halfway[row * 3], halfway[row * 3 + 1], halfway[row * 3 + 2],
                                    into: transformed + row * inputTile * pairs + pair, stride: pairs)
                }
            }
        }
    }

    /// Convolves `images` images (no bias, no activation), or with `pooling` the pooled maxima of the biased, activated
    /// outputs.
    ///
    /// - Parameters:
    ///   - input: `[images, inputHeight, inputWidth, channels]`.
    ///   - transformedKernel: ``transformKernel(_:into:)``'s result, `[points, channels, filters]`.
    ///   - output: `[images, outputHeight, outputWidth, filters]`, or `[images] + pooledShape` with `pooling`.
    ///   - scratch: ``scratchCount(images:)`` floats, this worker's alone.
    ///   - pooling: the pooling, bias and activation taken in (given exactly when made ``pooled``), or nil (the default)
    ///     for the convolution alone.
    /// Runs on the calling thread; BLAS threads as the caller has set them.
    public func convolve(_ input: UnsafePointer<Float>, images: Int, transformedKernel: UnsafePointer<Float>,
                         into output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                         pooling: WinogradPooling? = nil) {
        precondition((pooling != nil) == pooled, "WinogradConvolution: made for \(pooled ? "" : "un")pooled outputs")
        let channels = geometry.channels, paddedChannels = paddedChannels, paddedFilters = paddedFilters
        let tiles = images * tilesPerImage, points = points, size = tileSize, inputTile = inputTile
        let transformedTiles = scratch                                     // [points, tiles, paddedChannels]
        let products = transformedTiles + points * tiles * paddedChannels  // [points, tiles, paddedFilters]
        let gathered = products + points * tiles * paddedFilters           // [inputTile, inputTile, paddedChannels]
        let halfway = gathered + points * paddedChannels                   // [inputTile, inputTile, paddedChannels]: Bᵀ d
        let outputHalfway = halfway + points * paddedChannels              // [size, inputTile, paddedFilters]: Aᵀ m
        let outputTile = outputHalfway + size * inputTile * paddedFilters  // [size, size, paddedFilters], or the image's
        let paddedBias = outputTile + outputTilePositions * paddedFilters  // [paddedFilters]
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
                    let firstRow = tileRow * size - geometry.padTop, firstColumn = tileColumn * size - geometry.padLeft
                    if channels == paddedChannels, firstRow >= 0, firstRow + inputTile <= geometry.inputHeight,
                       firstColumn >= 0, firstColumn + inputTile <= geometry.inputWidth {
                        // Inside the image: transform straight from the input.
                        let corner = source + firstRow * rowStride + firstColumn * channels
                        for j in 0..<inputTile {  // halfway[i][j] = Σ_k Bᵀ[i][k] d[k][j]
                            inputTransform(corner + j * channels, stride: rowStride,
                                           into: halfway + j * paddedChannels, stride: inputTile * paddedChannels, count: paddedChannels)
                        }
                    } else {
                        // On the border: gather the tile with zeros for the padding (and the padded channels).
                        for k in 0..<inputTile {
                            let row = firstRow + k
                            for j in 0..<inputTile {
                                let column = firstColumn + j
                                let target = gathered + (k * inputTile + j) * paddedChannels
                                if row >= 0, row < geometry.inputHeight, column >= 0, column < geometry.inputWidth {
                                    target.update(from: source + row * rowStride + column * channels, count: channels)
                                    (target + channels).update(repeating: 0, count: paddedChannels - channels)
                                } else {
                                    target.update(repeating: 0, count: paddedChannels)
                                }
                            }
                        }
                        for j in 0..<inputTile {
                            inputTransform(gathered + j * paddedChannels, stride: inputTile * paddedChannels,
                                           into: halfway + j * paddedChannels, stride: inputTile * paddedChannels, count: paddedChannels)
                        }
                    }
                    for i in 0..<inputTile {  // V[i·inputTile + j][tile] = Σ_k halfway[i][k] Bᵀ[j][k]
                        inputTransform(halfway + i * inputTile * paddedChannels, stride: paddedChannels,
                                       into: transformedTiles + (i * inputTile * tiles + tile) * paddedChannels,
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
        let outputRowStride = geometry.outputWidth * filters, imageTileWidth = tileColumns * size
        let imageOutputs = (pooling == nil ? [geometry.outputHeight, geometry.outputWidth, filters] : pooledShape).reduce(1, *)
        for image in 0..<images {
            let target = output + image * imageOutputs
            for tileRow in 0..<tileRows {
                for tileColumn in 0..<tileColumns {
                    let tile = (image * tileRows + tileRow) * tileColumns + tileColumn
                    for j in 0..<inputTile {  // outputHalfway[i][j] = Σ_k Aᵀ[i][k] M[k·inputTile + j]
                        outputTransform(products + (j * tiles + tile) * paddedFilters, stride: inputTile * tiles * paddedFilters,
                                        into: outputHalfway + j * paddedFilters, stride: inputTile * paddedFilters, count: paddedFilters)
                    }
                    let firstRow = tileRow * size, firstColumn = tileColumn * size
                    if poolsByImage {  // into the image's tiles, pooled below once all are done
                        for i in 0..<size {
                            outputTransform(outputHalfway + i * inputTile * paddedFilters, stride: paddedFilters,
                                            into: outputTile + ((firstRow + i) * imageTileWidth + firstColumn) * paddedFilters,
                                            stride: paddedFilters, count: paddedFilters)
                        }
                        continue
                    }
                    if let pooling {
                        for i in 0..<size {
                            outputTransform(outputHalfway + i * inputTile * paddedFilters, stride: paddedFilters,
                                            into: outputTile + i * size * paddedFilters, stride: paddedFilters, count: paddedFilters)
                        }
                        pool(tile: outputTile, height: size, width: size, row: firstRow, column: firstColumn, pooling, bias: paddedBias,
                             into: target, scratch: pooledTile)
                        continue
                    }
                    if filters == paddedFilters, firstRow + size <= geometry.outputHeight, firstColumn + size <= geometry.outputWidth {
                        for i in 0..<size {  // Y[i][j] = Σ_k outputHalfway[i][k] Aᵀ[j][k], straight into the output
                            outputTransform(outputHalfway + i * inputTile * paddedFilters, stride: paddedFilters,
                                            into: target + (firstRow + i) * outputRowStride + firstColumn * filters,
                                            stride: filters, count: paddedFilters)
                        }
                        continue
                    }
                    for i in 0..<size {  // the same, into a tile of which only the positions that exist are copied
                        outputTransform(outputHalfway + i * inputTile * paddedFilters, stride: paddedFilters,
                                        into: outputTile + i * size * paddedFilters, stride: paddedFilters, count: paddedFilters)
                    }
                    for i in 0..<min(size, geometry.outputHeight - firstRow) {
                        for j in 0..<min(size, geometry.outputWidth - firstColumn) {
                            (target + (firstRow + i) * outputRowStride + (firstColumn + j) * filters)
                                .update(from: outputTile + (i * size + j) * paddedFilters, count: filters)
                        }
                    }
                }
            }
            if poolsByImage, let pooling {
                pool(tile: outputTile, height: tileRows * size, width: imageTileWidth, row: 0, column: 0, pooling, bias: paddedBias,
                     into: target, scratch: pooledTile)
            }
        }
    }

    /// Adds the bias to the outputs of a tile (or of an image's tiles) whose first output is at (`row`, `column`),
    /// applies the activation, and stores the maxima of its 2×2 blocks that lie inside the output into the image's
    /// pooled output `target` (`[outputHeight / 2, outputWidth / 2, filters]`); (`row`, `column`) must be even.
    /// - Parameters:
    ///   - tile: `[height, width, paddedFilters]`, overwritten.
    ///   - bias: `[paddedFilters]`, zeros where there is no bias.
    ///   - scratch: `[paddedFilters]`.
    private func pool(tile: UnsafeMutablePointer<Float>, height: Int, width: Int, row: Int, column: Int, _ pooling: WinogradPooling,
                      bias: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let paddedFilters = paddedFilters, filters = filters
        // The outputs the pooling reads: the whole blocks inside the output.
        let rows = min(height, geometry.outputHeight - row) / 2 * 2, columns = min(width, geometry.outputWidth - column) / 2 * 2
        // The bias and ReLU, in the order of the separate pass: (y + b), then max(·, 0) as `value > 0 ? value : 0`.
        for tileRow in 0..<rows {
            for tileColumn in 0..<columns {
                let values = tile + (tileRow * width + tileColumn) * paddedFilters
                for offset in Swift.stride(from: 0, to: paddedFilters, by: Self.lane) {
                    var value = Self.load(values + offset)
                    if pooling.bias != nil { value += Self.load(bias + offset) }
                    if pooling.rectifies { value = value.rectified() }
                    Self.store(value, values + offset)
                }
            }
        }
        // Pooled output (row / 2 + a, column / 2 + b) exists for the blocks entirely inside the output.
        let pooledWidth = geometry.outputWidth / 2, rowStride = pooledWidth * filters
        for a in 0..<rows / 2 {
            for b in 0..<columns / 2 {
                let first = tile + (2 * a * width + 2 * b) * paddedFilters, below = first + width * paddedFilters
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

    /// `y_i = Σ_k Bᵀ[i][k] x_k` for ``inputTile`` vectors `x_k = x + k·stride` of `count` floats (a multiple of 8).
    @inline(__always)
    private func inputTransform(_ x: UnsafePointer<Float>, stride xStride: Int,
                                into y: UnsafeMutablePointer<Float>, stride yStride: Int, count: Int) {
        if tileSize == 4 {
            Self.inputTransform6(x, stride: xStride, into: y, stride: yStride, count: count)
        } else {
            Self.inputTransform7(x, stride: xStride, into: y, stride: yStride, count: count)
        }
    }

    /// `y_i = Σ_k Aᵀ[i][k] x_k` for ``inputTile`` vectors `x_k = x + k·stride` into ``tileSize`` vectors `y_i = y + i·stride`.
    @inline(__always)
    private func outputTransform(_ x: UnsafePointer<Float>, stride xStride: Int,
                                 into y: UnsafeMutablePointer<Float>, stride yStride: Int, count: Int) {
        if tileSize == 4 {
            Self.outputTransform6(x, stride: xStride, into: y, stride: yStride, count: count)
        } else {
            Self.outputTransform7(x, stride: xStride, into: y, stride: yStride, count: count)
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

    /// F(4×4): `y_i = Σ_k Bᵀ[i][k] x_k` for six vectors `x_k = x + k·stride` of `count` floats (a multiple of 8).
    @inline(__always)
    private static func inputTransform6(_ x: UnsafePointer<Float>, stride xStride: Int,
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

    /// F(4×4): `y_i = Σ_k Aᵀ[i][k] x_k` for six vectors `x_k = x + k·stride` into four `y_i = y + i·stride`.
    @inline(__always)
    private static func outputTransform6(_ x: UnsafePointer<Float>, stride xStride: Int,
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

    /// F(5×5): `y_i = Σ_k Bᵀ[i][k] x_k` for seven vectors `x_k = x + k·stride` of `count` floats (a multiple of 8).
    @inline(__always)
    private static func inputTransform7(_ x: UnsafePointer<Float>, stride xStride: Int,
                                        into y: UnsafeMutablePointer<Float>, stride yStride: Int, count: Int) {
        for offset in Swift.stride(from: 0, to: count, by: lane) {
            let (x0, x1, x2, x3, x4, x5) = loadSix(x + offset, stride: xStride)
            let x6 = load(x + offset + 6 * xStride)
            // Bᵀ rows: (−2, 4, 5/2, −5, −1/2, 1, 0), (0, 2, −2, −9/2, 1/2, 1, 0), (0, −2, 6, −7/2, −3/2, 1, 0),
            // (0, 1, −3/2, −2, 3/2, 1, 0), (0, −1, 5/2, 0, −5/2, 1, 0), (0, 4, 0, −5, 0, 1, 0), (0, −2, 4, 5/2, −5, −1/2, 1).
            let (half, threeHalves, fiveHalves, sevenHalves, nineHalves): (Float, Float, Float, Float, Float) = (0.5, 1.5, 2.5, 3.5, 4.5)
            let x1Twice: Lane = 2 * x1, x5AndX1: Lane = x5 - x1Twice
            var row0: Lane = 4 * x1 - 2 * x0
            row0 += fiveHalves * x2 - 5 * x3
            row0 += x5 - half * x4
            var row1: Lane = x1Twice - 2 * x2
            row1 += half * x4 - nineHalves * x3
            row1 += x5
            var row2: Lane = 6 * x2 - sevenHalves * x3
            row2 += x5AndX1 - threeHalves * x4
            var row3: Lane = x1 - threeHalves * x2
            row3 += threeHalves * x4 - 2 * x3
            row3 += x5
            var row4: Lane = fiveHalves * (x2 - x4)
            row4 += x5 - x1
            var row5: Lane = 4 * x1 - 5 * x3
            row5 += x5
            var row6: Lane = 4 * x2 - x1Twice
            row6 += fiveHalves * x3 - 5 * x4
            row6 += x6 - half * x5
            store(row0, y + offset)
            store(row1, y + yStride + offset)
            store(row2, y + 2 * yStride + offset)
            store(row3, y + 3 * yStride + offset)
            store(row4, y + 4 * yStride + offset)
            store(row5, y + 5 * yStride + offset)
            store(row6, y + 6 * yStride + offset)
        }
    }

    /// F(5×5): `y_i = Σ_k Aᵀ[i][k] x_k` for seven vectors `x_k = x + k·stride` into five `y_i = y + i·stride`.
    @inline(__always)
    private static func outputTransform7(_ x: UnsafePointer<Float>, stride xStride: Int,
                                         into y: UnsafeMutablePointer<Float>, stride yStride: Int, count: Int) {
        for offset in Swift.stride(from: 0, to: count, by: lane) {
            let (x0, x1, x2, x3, x4, x5) = loadSix(x + offset, stride: xStride)
            let x6 = load(x + offset + 6 * xStride)
            // Aᵀ rows: (1, 1, 1, 1, 1, 1, 0), (0, 1, −1, 2, −2, 1/2, 0), (0, 1, 1, 4, 4, 1/4, 0),
            // (0, 1, −1, 8, −8, 1/8, 0), (0, 1, 1, 16, 16, 1/16, 1).
            let sum12 = x1 + x2, difference12 = x1 - x2, sum34 = x3 + x4, difference34 = x3 - x4
            let (half, quarter, eighth, sixteenth): (Float, Float, Float, Float) = (0.5, 0.25, 0.125, 0.0625)
            let row0: Lane = x0 + sum12 + sum34 + x5
            let row1: Lane = difference12 + 2 * difference34 + half * x5
            let row2: Lane = sum12 + 4 * sum34 + quarter * x5
            let row3: Lane = difference12 + 8 * difference34 + eighth * x5
            var row4: Lane = sum12 + 16 * sum34
            row4 += sixteenth * x5 + x6
            store(row0, y + offset)
            store(row1, y + yStride + offset)
            store(row2, y + 2 * yStride + offset)
            store(row3, y + 3 * yStride + offset)
            store(row4, y + 4 * yStride + offset)
        }
    }
}

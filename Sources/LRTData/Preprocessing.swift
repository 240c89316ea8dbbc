import LRTTensor

/// How image files become model inputs: colour mode, size, resize mode and normalization. Saved with the model, so
/// that `eval`, `predict`, `finetune` and `resume` read images exactly as training did.
///
/// An image becomes model inputs in two steps: ``read(fileAt:)`` decodes and resizes it to 8-bit samples, and
/// ``inputs(from:)`` turns those into floats, `byte / 255` in [0, 1], then `(x − mean) / std` per channel when
/// ``normalization`` is set.
public struct Preprocessing: Equatable, Sendable, Codable {
    /// The model's input size.
    public var height: Int
    public var width: Int
    /// The channels images are read as.
    public var colorMode: ColorMode
    /// How images of another size are brought to `height` × `width`.
    public var resizeMode: ResizeMode
    /// Images declaring more pixels than this are refused from their header.
    public var pixelLimit: Int
    /// Per-channel standardization after scaling to [0, 1] (`--normalize mean-std`); nil (the default): none.
    public var normalization: Normalization?

    /// - Parameters:
    ///   - resizeMode: default `.stretch`, as Keras's `image_dataset_from_directory`.
    ///   - pixelLimit: default ``ImageDecoder/defaultPixelLimit``.
    public init(height: Int, width: Int, colorMode: ColorMode, resizeMode: ResizeMode = .stretch,
                pixelLimit: Int = ImageDecoder.defaultPixelLimit) {
        (self.height, self.width, self.colorMode, self.resizeMode, self.pixelLimit) = (height, width, colorMode, resizeMode, pixelLimit)
    }

    /// The preprocessing for a model input `geometry`: its size, and its channels as the colour mode unless
    /// `colorMode` is given (which must then have as many channels).
    /// - Throws: `DataError` `.invalidArgument` when `colorMode` has another channel count than the model takes.
    public init(geometry: ImageGeometry, colorMode: ColorMode? = nil, resizeMode: ResizeMode = .stretch) throws(DataError) {
        guard let mode = colorMode ?? ColorMode(channels: geometry.channels) else {
            throw DataError(.invalidArgument, path: nil, "the model takes \(geometry.channels) channels",
                            hint: "use a model with 1 (grayscale), 3 (rgb) or 4 (rgba) input channels")
        }
        guard mode.channels == geometry.channels else {
            throw DataError(.invalidArgument, path: nil,
                            "--color-mode \(mode.rawValue) gives \(mode.channels) channels but the model takes \(geometry.channels)",
                            hint: "leave out --color-mode, or pass \(ColorMode(channels: geometry.channels)?.rawValue ?? "a mode with that many channels")")
        }
        guard geometry.height > 0, geometry.width > 0 else {
            throw DataError(.invalidArgument, path: nil, "image size \(geometry.height)×\(geometry.width) is not positive",
                            hint: "pass a height and width of at least 1")
        }
        self.init(height: geometry.height, width: geometry.width, colorMode: mode, resizeMode: resizeMode)
    }

    /// Reads one image file as a model input: decoded, converted to ``colorMode`` and resized. [height, width, channels]
    public func read(fileAt path: String) throws(DataError) -> DecodedImage {
        let image = try ImageDecoder.decode(fileAt: path, colorMode: colorMode, pixelLimit: pixelLimit)
        return try ImageResizer.fit(image, height: height, width: width, mode: resizeMode, path: path)
    }

    /// `byte / 255` for every byte value, so conversion is a table look-up.
    static let unitScale: [Float] = (0..<256).map { Float($0) / 255 }

    /// The model inputs of one image read by ``read(fileAt:)``: `byte / 255`, then ``normalization``.
    /// [height, width, channels]
    public func inputs(from image: DecodedImage) -> [Float] {
        var values = image.pixels.map { Self.unitScale[Int($0)] }
        if let normalization { values.withUnsafeMutableBufferPointer { normalization.apply(to: $0) } }
        return values
    }
}

/// Per-channel standardization, `(x − mean[c]) / std[c]` on inputs in [0, 1], as Keras's `Normalization` layer
/// adapted to the training images (with `std` floored at 1e-7 as Keras does).
public struct Normalization: Equatable, Sendable, Codable {
    /// The mean of each channel over the training images, in [0, 1]. [channels]
    public let mean: [Float]
    /// The population standard deviation of each channel over the training images. [channels]
    public let standardDeviation: [Float]

    /// - Throws: `DataError` `.invalidArgument` when the two lists differ in length, are empty, or hold a value that
    ///   is not finite or a negative deviation.
    public init(mean: [Float], standardDeviation: [Float]) throws(DataError) {
        guard !mean.isEmpty, mean.count == standardDeviation.count,
              mean.allSatisfy(\.isFinite), standardDeviation.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            throw DataError(.invalidArgument, path: nil,
                            "normalization mean \(mean) and standard deviation \(standardDeviation) cannot be used",
                            hint: "give one finite mean and one finite, non-negative deviation per channel")
        }
        (self.mean, self.standardDeviation) = (mean, standardDeviation)
    }

    /// The number of channels.
    public var channels: Int { mean.count }

    /// Standardizes `values`, examples of interleaved channels: [..., channels].
    public func apply(to values: UnsafeMutableBufferPointer<Float>) {
        let channels = mean.count
        precondition(values.count % channels == 0, "values are not whole pixels")
        let scale = standardDeviation.map { 1 / max($0, 1e-7) }
        var index = 0
        while index < values.count {
            for channel in 0..<channels { values[index + channel] = (values[index + channel] - mean[channel]) * scale[channel] }
            index += channels
        }
    }

    /// The per-channel mean and population standard deviation of `dataset`'s examples (`[height, width, channels]`,
    /// read without augmentation), summed in double precision, as `numpy.mean` and `numpy.std` over axes 0–2.
    /// - Throws: `DataError` `.invalidArgument` for an empty dataset; the dataset's error when its examples cannot be read.
    public static func measure(_ dataset: any Dataset, batchSize: Int = 256) throws(DataError) -> Normalization {
        guard dataset.count > 0, let channels = dataset.exampleShape.last, channels > 0 else {
            throw DataError(.invalidArgument, path: nil, "--normalize mean-std needs training images",
                            hint: "train on a folder with images, or leave out --normalize")
        }
        var sums = [Double](repeating: 0, count: channels), squares = sums
        var batch = Tensor(shape: [0]), labels: [Int32] = []
        let order = Array(0..<dataset.count)
        for start in stride(from: 0, to: order.count, by: batchSize) {
            try dataset.fill(order[start..<min(start + batchSize, order.count)], into: &batch, labels: &labels)
            batch.withUnsafeBufferPointer { values in
                var index = 0
                while index < values.count {
                    for channel in 0..<channels {
                        let value = Double(values[index + channel])
                        sums[channel] += value
                        squares[channel] += value * value
                    }
                    index += channels
                }
            }
        }
        let samples = Double(dataset.count) * Double(dataset.exampleShape.reduce(1, *) / channels)
        let mean = sums.map { $0 / samples }
        let deviation = zip(squares, mean).map { max($0 / samples - $1 * $1, 0).squareRoot() }
        return try Normalization(mean: mean.map(Float.init), standardDeviation: deviation.map(Float.init))
    }
}

/// Another dataset's examples standardized by a ``Normalization`` after they are filled (and augmented, so that
/// augmentation works on [0, 1] inputs as its magnitudes say).
public struct NormalizedDataset: Dataset {
    public let base: any Dataset
    public let normalization: Normalization
    public var count: Int { base.count }
    public var labels: [Int32] { base.labels }
    public var classNames: [String] { base.classNames }
    public var exampleShape: [Int] { base.exampleShape }
    public var filePaths: [String]? { base.filePaths }

    /// `base` standardized by `normalization`, which must have `base`'s channel count.
    public init(_ base: any Dataset, normalization: Normalization) {
        precondition(base.exampleShape.last == normalization.channels, "normalization has another channel count")
        self.base = base
        self.normalization = normalization
    }

    public func fill(_ indices: ArraySlice<Int>, into batch: inout Tensor, labels: inout [Int32],
                     generator: inout SeededGenerator) throws(DataError) {
        try base.fill(indices, into: &batch, labels: &labels, generator: &generator)
        batch.withUnsafeMutableBufferPointer { normalization.apply(to: $0) }
    }

    public func epochOrder(using generator: inout SeededGenerator) -> [Int] { base.epochOrder(using: &generator) }
    public var chunkSize: Int { base.chunkSize }
}

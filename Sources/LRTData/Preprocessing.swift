/// How image files become model inputs: colour mode, size and resize mode. Saved with the model, so that
/// `eval`, `predict`, `finetune` and `resume` read images exactly as training did.
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
}

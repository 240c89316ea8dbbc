/// The image size and channels a model takes.
public struct ImageGeometry: Equatable, Sendable, Codable {
    public var height: Int
    public var width: Int
    public var channels: Int

    public init(height: Int, width: Int, channels: Int) {
        (self.height, self.width, self.channels) = (height, width, channels)
    }

    /// The geometry behind a model input shape: `[h, w, c]` (c ∈ {1, 3, 4}), `[h, w]` (grayscale), or flat `[n]`,
    /// resolved from the size of `sampleImage` (`n = h·w·c`, c ∈ {1, 3}).
    /// - Throws: `DataError` `.invalidArgument` when the shape is not an image or does not fit the sample.
    public static func forModelInput(_ shape: [Int], sampleImage: () throws(DataError) -> String?) throws(DataError) -> ImageGeometry {
        switch shape.count {
        case 3 where [1, 3, 4].contains(shape[2]):
            return ImageGeometry(height: shape[0], width: shape[1], channels: shape[2])
        case 2:
            return ImageGeometry(height: shape[0], width: shape[1], channels: 1)
        case 1:
            guard let path = try sampleImage() else { break }
            let image = try ImageDecoder.decode(fileAt: path, colorMode: .grayscale)
            let pixels = image.height * image.width
            if shape[0] == pixels { return ImageGeometry(height: image.height, width: image.width, channels: 1) }
            if shape[0] == 3 * pixels { return ImageGeometry(height: image.height, width: image.width, channels: 3) }
            throw DataError(.invalidArgument, path: path, "the model takes \(shape[0]) inputs per example but this image is \(image.height)×\(image.width)",
                            hint: "choose data of matching size, or a model with an image input shape [height, width, channels]")
        default:
            break
        }
        throw DataError(.invalidArgument, path: nil, "the model input shape \(shape) is not an image",
                        hint: "use [height, width, channels] with 1, 3 or 4 channels")
    }
}

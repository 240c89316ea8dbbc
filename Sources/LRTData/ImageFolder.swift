import Foundation

/// A labelled image dataset read from `root/<class>/**/*.{png,jpg,jpeg}`, listed by ``ImageListing``'s rules.
public struct ImageFolder: Sendable {
    /// The dataset folder as given.
    public let root: String
    /// Class names; label `i` means `classNames[i]`.
    public let classNames: [String]
    /// Image files, sorted within each class, classes in label order.
    public let imagePaths: [String]
    /// The label of each image. [count]
    public let labels: [Int32]
    /// The files the listing left out (not images), for one summary line.
    public let skipped: ImageListing.Skipped
    /// The size every image has.
    public let height: Int, width: Int, channels: Int
    /// Pixel values `byte / 255` in [0, 1]. [count, height, width, channels]
    public let pixels: [Float]
    /// The number of images.
    public var count: Int { labels.count }

    /// Reads every image of a dataset folder, decoding in parallel.
    /// - Parameters:
    ///   - root: the folder holding one subfolder per class.
    ///   - height: the height every image must have.
    ///   - width: the width every image must have.
    ///   - channels: 1 to read images as grayscale, 3 as RGB (libpng converts).
    ///   - classNames: when given (e.g. the classes a checkpoint was trained on), labels follow this order and every
    ///     subfolder must be one of them, though a class may have no folder; when nil (the default), the classes are
    ///     the sorted subfolder names.
    /// - Throws: `DataError` naming the folder or file at fault; for bad images, the first one in sorted order.
    public static func load(root: String, height: Int, width: Int, channels: Int,
                            classNames: [String]? = nil) throws -> ImageFolder {
        guard height > 0, width > 0 else {
            throw DataError(.invalidArgument, path: nil, "image size \(height)×\(width) is not positive",
                            hint: "pass a height and width of at least 1")
        }
        _ = try PNGCodec.colorMode(channels: channels)
        return try load(ImageListing.list(root: root, classNames: classNames), height: height, width: width, channels: channels)
    }

    /// Reads the images of `listing`, decoding in parallel, as ``load(root:height:width:channels:classNames:)``.
    public static func load(_ listing: ImageListing, height: Int, width: Int, channels: Int) throws -> ImageFolder {
        let imagePaths = listing.imagePaths
        let pixels = try decodeAll(imagePaths, height: height, width: width, channels: channels)
        return ImageFolder(root: listing.root, classNames: listing.classNames, imagePaths: imagePaths, labels: listing.labels,
                           skipped: listing.skipped, height: height, width: width, channels: channels, pixels: pixels)
    }

    /// `byte / 255` for every byte value, so conversion is a table look-up.
    private static let unitScale: [Float] = (0..<256).map { Float($0) / 255 }

    /// Decodes `paths` on all cores into [count, height, width, channels] floats; throws the first failure in path order.
    private static func decodeAll(_ paths: [String], height: Int, width: Int, channels: Int) throws -> [Float] {
        guard let imageSize = PNGCodec.product(height, width, channels),
              let total = PNGCodec.product(paths.count, imageSize, MemoryLayout<Float>.stride),
              UInt64(total) <= ProcessInfo.processInfo.physicalMemory / 2 else {
            throw DataError(.invalidArgument, path: nil,
                            "\(paths.count) images of \(height)×\(width)×\(channels) do not fit in memory",
                            hint: "use a smaller image size or fewer images")
        }
        let colorMode = try PNGCodec.colorMode(channels: channels)
        let chunkCount = min(paths.count, ProcessInfo.processInfo.activeProcessorCount * 4)
        var firstErrors = [DataError?](repeating: nil, count: chunkCount)  // [chunk]
        let pixels = [Float](unsafeUninitializedCapacity: paths.count * imageSize) { buffer, initializedCount in
            firstErrors.withUnsafeMutableBufferPointer { errorBuffer in
                // Each chunk writes only its own images' pixels and its own error slot.
                nonisolated(unsafe) let output = buffer, errors = errorBuffer
                DispatchQueue.concurrentPerform(iterations: chunkCount) { chunk in
                    for index in chunk * paths.count / chunkCount ..< (chunk + 1) * paths.count / chunkCount {
                        let bytes: [UInt8]  // [height, width, channels]
                        do throws(DataError) {
                            let image = try ImageDecoder.decode(fileAt: paths[index], colorMode: colorMode)
                            guard image.height == height, image.width == width else {
                                throw DataError(.sizeMismatch, path: paths[index],
                                                "image is \(image.height)×\(image.width) but \(height)×\(width) is expected",
                                                hint: "resize the images or choose a model whose input is \(image.height)×\(image.width)")
                            }
                            bytes = image.pixels
                        } catch {
                            errors[chunk] = error
                            return
                        }
                        for offset in 0..<imageSize {
                            output[index * imageSize + offset] = unitScale[Int(bytes[offset])]
                        }
                    }
                }
            }
            initializedCount = paths.count * imageSize
        }
        if let error = firstErrors.lazy.compactMap({ $0 }).first { throw error }
        return pixels
    }
}

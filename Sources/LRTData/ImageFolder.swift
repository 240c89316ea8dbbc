import Foundation
import LRTTensor

/// A labelled image dataset read from `root/<class>/**/*.{png,jpg,jpeg}` (``ImageListing``'s rules), decoded once
/// and kept as 8-bit samples; each batch is converted to floats `byte / 255` in [0, 1] into a reused buffer.
public struct ImageFolder: Dataset {
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
    /// How the files were read.
    public let preprocessing: Preprocessing
    /// The decoded samples. [count, height, width, channels]
    public let pixels: [UInt8]

    /// The number of images.
    public var count: Int { labels.count }
    /// The size and channels of every image.
    public var height: Int { preprocessing.height }
    public var width: Int { preprocessing.width }
    public var channels: Int { preprocessing.colorMode.channels }
    public var exampleShape: [Int] { [height, width, channels] }

    /// Reads every image of a dataset folder, decoding in parallel.
    /// - Parameters:
    ///   - root: the folder holding one subfolder per class.
    ///   - height: the height images are brought to.
    ///   - width: the width images are brought to.
    ///   - channels: 1 (grayscale), 3 (RGB) or 4 (RGBA).
    ///   - resizeMode: how other sizes are handled (default `.stretch`).
    ///   - classNames: when given (e.g. the classes a checkpoint was trained on), labels follow this order and every
    ///     subfolder must be one of them, though a class may have no folder; when nil (the default), the classes are
    ///     the sorted subfolder names.
    /// - Throws: `DataError` naming the folder or file at fault; for bad images, the first one in sorted order.
    public static func load(root: String, height: Int, width: Int, channels: Int, resizeMode: ResizeMode = .stretch,
                            classNames: [String]? = nil) throws(DataError) -> ImageFolder {
        let preprocessing = try Preprocessing(geometry: ImageGeometry(height: height, width: width, channels: channels),
                                              colorMode: PNGCodec.colorMode(channels: channels), resizeMode: resizeMode)
        return try load(ImageListing.list(root: root, classNames: classNames), preprocessing: preprocessing)
    }

    /// Reads the images of `listing` as `preprocessing` says, decoding on all cores.
    /// - Throws: `DataError` for the first bad image in listing order, or when the images do not fit in memory.
    public static func load(_ listing: ImageListing, preprocessing: Preprocessing) throws(DataError) -> ImageFolder {
        let pixels = try decodeAll(listing.imagePaths, preprocessing: preprocessing)
        return ImageFolder(root: listing.root, classNames: listing.classNames, imagePaths: listing.imagePaths,
                           labels: listing.labels, skipped: listing.skipped, preprocessing: preprocessing, pixels: pixels)
    }

    /// `byte / 255` for every byte value, so conversion is a table look-up.
    private static let unitScale: [Float] = (0..<256).map { Float($0) / 255 }

    public func fill(_ indices: ArraySlice<Int>, into batch: inout Tensor, labels: inout [Int32], generator: inout SeededGenerator) {
        let exampleSize = height * width * channels
        prepare(&batch, count: indices.count)  // [count, height, width, channels]
        labels.removeAll(keepingCapacity: true)
        Self.unitScale.withUnsafeBufferPointer { scale in
            pixels.withUnsafeBufferPointer { source in
                batch.withUnsafeMutableBufferPointer { destination in
                    for (row, example) in indices.enumerated() {
                        let from = example * exampleSize, to = row * exampleSize
                        for offset in 0..<exampleSize { destination[to + offset] = scale[Int(source[from + offset])] }
                        labels.append(self.labels[example])
                    }
                }
            }
        }
    }

    /// Decodes `paths` on all cores into [count, height, width, channels] bytes; throws the first failure in path order.
    private static func decodeAll(_ paths: [String], preprocessing: Preprocessing) throws(DataError) -> [UInt8] {
        let imageSize = preprocessing.height * preprocessing.width * preprocessing.colorMode.channels
        guard let total = PNGCodec.product(paths.count, imageSize),
              UInt64(total) <= ProcessInfo.processInfo.physicalMemory / 2 else {
            throw DataError(.invalidArgument, path: nil,
                            "\(paths.count) images of \(preprocessing.height)×\(preprocessing.width)×\(preprocessing.colorMode.channels) do not fit in memory",
                            hint: "use a smaller image size or fewer images")
        }
        guard !paths.isEmpty else { return [] }
        let chunkCount = min(paths.count, ProcessInfo.processInfo.activeProcessorCount * 4)
        var firstErrors = [DataError?](repeating: nil, count: chunkCount)  // [chunk]
        let pixels = [UInt8](unsafeUninitializedCapacity: total) { buffer, initializedCount in
            firstErrors.withUnsafeMutableBufferPointer { errorBuffer in
                // Each chunk writes only its own images' pixels and its own error slot.
                nonisolated(unsafe) let output = buffer, errors = errorBuffer
                DispatchQueue.concurrentPerform(iterations: chunkCount) { chunk in
                    for index in chunk * paths.count / chunkCount ..< (chunk + 1) * paths.count / chunkCount {
                        do throws(DataError) {
                            let image = try preprocessing.read(fileAt: paths[index])
                            image.pixels.withUnsafeBufferPointer { samples in
                                _ = UnsafeMutableBufferPointer(rebasing: output[index * imageSize..<(index + 1) * imageSize])
                                    .update(fromContentsOf: samples)
                            }
                        } catch {
                            // The rest of this chunk stays unwritten: the whole load fails.
                            errors[chunk] = error
                            return
                        }
                    }
                }
            }
            initializedCount = total
        }
        if let error = firstErrors.lazy.compactMap({ $0 }).first { throw error }
        return pixels
    }
}

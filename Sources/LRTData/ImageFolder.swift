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
    /// With `skipBadImages`: the image files left out because they cannot be read or decoded, each with its reason,
    /// in listing order.
    public let rejected: [DataError]
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
                            classNames: [String]? = nil, skipBadImages: Bool = false) throws(DataError) -> ImageFolder {
        let preprocessing = try Preprocessing(geometry: ImageGeometry(height: height, width: width, channels: channels),
                                              colorMode: PNGCodec.colorMode(channels: channels), resizeMode: resizeMode)
        return try load(ImageListing.list(root: root, classNames: classNames, skipBadImages: skipBadImages),
                        preprocessing: preprocessing, skipBadImages: skipBadImages)
    }

    /// Reads the images of `listing` as `preprocessing` says, decoding on all cores.
    /// - Parameter skipBadImages: leave out images that cannot be decoded (listed in ``rejected``, with the listing's
    ///   own rejects) instead of throwing; a class left without images is still an error.
    /// - Throws: `DataError` for the first bad image in listing order, or when the images do not fit in memory.
    ///   - memoryBudget: the most bytes the decoded images may take (default: half of the machine's memory).
    ///   - progress: called after each block of decoded images with (decoded so far, total); default none.
    public static func load(_ listing: ImageListing, preprocessing: Preprocessing, skipBadImages: Bool = false,
                            memoryBudget: Int = MemoryBudget.defaultBytes,
                            progress: ((Int, Int) -> Void)? = nil) throws(DataError) -> ImageFolder {
        let (pixels, failures) = try decodeAll(listing.imagePaths, preprocessing: preprocessing, memoryBudget: memoryBudget,
                                               progress: progress)
        guard failures.contains(where: { $0 != nil }) else {
            return ImageFolder(root: listing.root, classNames: listing.classNames, imagePaths: listing.imagePaths,
                               labels: listing.labels, skipped: listing.skipped, rejected: listing.rejected,
                               preprocessing: preprocessing, pixels: pixels)
        }
        return try keeping(listing, preprocessing: preprocessing, pixels: pixels, failures: failures, skipBadImages: skipBadImages)
    }

    /// The images of `listing` whose `failures` entry is nil, or the first failure when not `skipBadImages`.
    static func keeping(_ listing: ImageListing, preprocessing: Preprocessing, pixels: [UInt8], failures: [DataError?],
                        skipBadImages: Bool) throws(DataError) -> ImageFolder {
        if !skipBadImages, let first = failures.lazy.compactMap({ $0 }).first { throw first }
        let kept = failures.indices.filter { failures[$0] == nil }
        if kept.count == failures.count {
            return ImageFolder(root: listing.root, classNames: listing.classNames, imagePaths: listing.imagePaths,
                               labels: listing.labels, skipped: listing.skipped, rejected: listing.rejected,
                               preprocessing: preprocessing, pixels: pixels)
        }
        let imageSize = preprocessing.height * preprocessing.width * preprocessing.colorMode.channels
        var keptPixels = [UInt8]()
        keptPixels.reserveCapacity(kept.count * imageSize)
        for index in kept { keptPixels += pixels[index * imageSize..<(index + 1) * imageSize] }
        let labels = kept.map { listing.labels[$0] }
        for (label, name) in listing.classNames.enumerated()
        where listing.labels.contains(Int32(label)) && !labels.contains(Int32(label)) {
            throw DataError(.noImages, path: ImageListing.join(listing.root, name), "class folder has no readable images",
                            hint: "replace its damaged images (the first: \(failures.lazy.compactMap { $0 }.first!.description))")
        }
        return ImageFolder(root: listing.root, classNames: listing.classNames, imagePaths: kept.map { listing.imagePaths[$0] },
                           labels: labels, skipped: listing.skipped, rejected: listing.rejected + failures.compactMap { $0 },
                           preprocessing: preprocessing, pixels: keptPixels)
    }

    public func fill(_ indices: ArraySlice<Int>, into batch: inout Tensor, labels: inout [Int32], generator: inout SeededGenerator) {
        let exampleSize = height * width * channels
        prepare(&batch, count: indices.count)  // [count, height, width, channels]
        labels.removeAll(keepingCapacity: true)
        Preprocessing.unitScale.withUnsafeBufferPointer { scale in
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

    /// Decodes `paths` on all cores into [count, height, width, channels] bytes, and each image's failure (nil when
    /// it decoded; a failed image's bytes are zero).
    /// - Parameters:
    ///   - memoryBudget: the most bytes the decoded images may take (default: half of the machine's memory).
    ///   - progress: called after each block of images with (decoded so far, total).
    static func decodeAll(_ paths: [String], preprocessing: Preprocessing, memoryBudget: Int = MemoryBudget.defaultBytes,
                          progress: ((Int, Int) -> Void)? = nil) throws(DataError) -> ([UInt8], [DataError?]) {
        let imageSize = preprocessing.height * preprocessing.width * preprocessing.colorMode.channels
        guard let total = PNGCodec.product(paths.count, imageSize), total <= memoryBudget else {
            let needed = PNGCodec.product(paths.count, imageSize).map(MemoryBudget.format) ?? "more than 8E"
            throw DataError(.invalidArgument, path: nil,
                            "\(paths.count) images of \(preprocessing.height)×\(preprocessing.width)×\(preprocessing.colorMode.channels) need \(needed) decoded, over the memory budget of \(MemoryBudget.format(memoryBudget))",
                            hint: "pass --cache FILE.h5 to stream them from a cache file, raise --memory-budget, or use a smaller image size")
        }
        guard !paths.isEmpty else { return ([], []) }
        var failures = [DataError?](repeating: nil, count: paths.count)  // [count]
        let pixels = [UInt8](unsafeUninitializedCapacity: total) { buffer, initializedCount in
            let block = 4096
            for start in stride(from: 0, to: paths.count, by: block) {
                let end = min(start + block, paths.count)
                let blockFailures = decode(paths[start..<end], preprocessing: preprocessing,
                                           into: UnsafeMutableBufferPointer(rebasing: buffer[start * imageSize..<end * imageSize]))
                failures.replaceSubrange(start..<end, with: blockFailures)
                progress?(end, paths.count)
            }
            initializedCount = total
        }
        return (pixels, failures)
    }

    /// Decodes `paths` on all cores into `output`, [paths.count, height, width, channels] bytes, and returns each
    /// image's failure (nil when it decoded; a failed image's bytes are zero).
    static func decode(_ paths: ArraySlice<String>, preprocessing: Preprocessing,
                       into output: UnsafeMutableBufferPointer<UInt8>) -> [DataError?] {
        let imageSize = preprocessing.height * preprocessing.width * preprocessing.colorMode.channels
        precondition(output.count == paths.count * imageSize)
        guard !paths.isEmpty else { return [] }
        let chunkCount = min(paths.count, ProcessInfo.processInfo.activeProcessorCount * 4)
        var failures = [DataError?](repeating: nil, count: paths.count)  // [count]
        let first = paths.startIndex
        failures.withUnsafeMutableBufferPointer { errorBuffer in
            // Each chunk writes only its own images' pixels and error slots.
            nonisolated(unsafe) let output = output, errors = errorBuffer
            DispatchQueue.concurrentPerform(iterations: chunkCount) { chunk in
                for index in chunk * paths.count / chunkCount ..< (chunk + 1) * paths.count / chunkCount {
                    let slice = UnsafeMutableBufferPointer(rebasing: output[index * imageSize..<(index + 1) * imageSize])
                    do throws(DataError) {
                        let image = try preprocessing.read(fileAt: paths[first + index])
                        image.pixels.withUnsafeBufferPointer { samples in _ = slice.update(fromContentsOf: samples) }
                    } catch {
                        slice.initialize(repeating: 0)
                        errors[index] = error
                    }
                }
            }
        }
        return failures
    }
}

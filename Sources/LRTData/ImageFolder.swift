import Foundation

/// A labelled image dataset read from `root/<class>/*.png`.
///
/// Classes are the non-hidden subfolders of `root`, sorted by name; images are the non-hidden `*.png` files
/// (extension in any case) of each class folder, sorted by name. Other files are ignored.
public struct ImageFolder: Sendable {
    /// The dataset folder as given.
    public let root: String
    /// Class names; label `i` means `classNames[i]`.
    public let classNames: [String]
    /// Image files, sorted within each class, classes in label order.
    public let imagePaths: [String]
    /// The label of each image. [count]
    public let labels: [Int32]
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
        let folders = try visibleEntries(of: root, isDirectory: true)
        guard !folders.isEmpty else {
            throw DataError(.noClassFolders, path: root, "dataset folder has no class subfolders",
                            hint: "put the images in ROOT/<class name>/*.png")
        }
        let names = try classNames.map { try validated($0) } ?? folders
        if let unknown = folders.first(where: { !names.contains($0) }) {
            throw DataError(.unknownClassFolder, path: join(root, unknown),
                            "folder is not one of the classes \(names.joined(separator: ", "))",
                            hint: "remove or rename the folder, or use a model trained on these classes")
        }
        var imagePaths: [String] = [], labels: [Int32] = []
        for (label, name) in names.enumerated() where folders.contains(name) {
            let folder = join(root, name)
            let files = try visibleEntries(of: folder, isDirectory: false).filter { $0.lowercased().hasSuffix(".png") }
            guard !files.isEmpty else {
                throw DataError(.noImages, path: folder, "class folder has no PNG images",
                                hint: "add *.png files to it or delete it")
            }
            imagePaths += files.map { join(folder, $0) }
            labels += Array(repeating: Int32(label), count: files.count)
        }
        let pixels = try decodeAll(imagePaths, height: height, width: width, channels: channels)
        return ImageFolder(root: root, classNames: names, imagePaths: imagePaths, labels: labels,
                           height: height, width: width, channels: channels, pixels: pixels)
    }

    /// Checks caller-given class names: at least one, none empty, hidden or repeated.
    private static func validated(_ names: [String]) throws(DataError) -> [String] {
        guard !names.isEmpty else {
            throw DataError(.invalidArgument, path: nil, "the class name list is empty", hint: "pass at least one class name")
        }
        var seen = Set<String>()
        for name in names where name.isEmpty || name.hasPrefix(".") || name.contains("/") || !seen.insert(name).inserted {
            throw DataError(.invalidArgument, path: nil, "class name \"\(name)\" is empty, hidden, a path or repeated",
                            hint: "pass distinct folder names")
        }
        return names
    }

    /// The sorted names of the non-hidden subfolders (or non-folder files) of `folder`.
    private static func visibleEntries(of folder: String, isDirectory wantDirectories: Bool) throws(DataError) -> [String] {
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        guard fileManager.fileExists(atPath: folder, isDirectory: &isDirectory) else {
            throw DataError(.missingRoot, path: folder, "dataset folder does not exist",
                            hint: "check the path; Tools/make_mnist.py builds MNIST in this layout")
        }
        guard isDirectory.boolValue, let names = try? fileManager.contentsOfDirectory(atPath: folder) else {
            throw DataError(.notADirectory, path: folder, "not a readable folder",
                            hint: "pass a folder laid out as ROOT/<class name>/*.png")
        }
        return names.filter { name in
            guard !name.hasPrefix(".") else { return false }
            var entryIsDirectory: ObjCBool = false
            return fileManager.fileExists(atPath: join(folder, name), isDirectory: &entryIsDirectory)
                && entryIsDirectory.boolValue == wantDirectories
        }.sorted()
    }

    private static func join(_ folder: String, _ name: String) -> String {
        folder.hasSuffix("/") ? folder + name : folder + "/" + name
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
